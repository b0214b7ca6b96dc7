"""Does the class report point at near-copies that trivial edits would hide, and only at those?"""
from pathlib import Path

import numpy as np

from autograder import report
from autograder.answers import Answer, CellAnswers


def student(name, codes=None, written=None, target=7):
    one = report.Student(name, {"cells": {}}, Path("/nonexistent"), written or {})
    if codes is not None:
        one.__dict__["ex5"] = CellAnswers({
            "TARGET_CATEGORY": Answer("TARGET_CATEGORY", "scalar", value=target),
            "experiment_latents": Answer("experiment_latents", "dict", items=[
                Answer(name, "array", array=np.asarray(part, dtype=np.float64)) for name, part in codes.items()])})
    else:
        one.__dict__["ex5"] = None
    return one


def test_near_copies_are_worth_a_look_after_trivial_edits_and_honest_work_is_not():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((40, 32))
    answer = "I expect smooth, clustered structure: sneakers sit near ankle boots and sandals."
    students = [
        student("original", {"noise": codes[:20], "sweep": codes[20:]}, {"ex1_predict": answer}),
        student("one_extra_code", {"noise": codes[:20], "sweep": np.vstack([codes[20:], rng.standard_normal((1, 32))])},
                {"ex1_predict": answer.replace("sit", "sits").upper()}),  # one character and the case changed
        student("same_recipe_other_draw", {"noise": codes[:20] + 1e-2 * rng.standard_normal((20, 32)),
                                           "sweep": codes[20:] + 1e-2 * rng.standard_normal((20, 32))},
                {"ex1_predict": "Smooth gradients; bags apart from every shoe, shirts mixed with coats."}),
        student("nan_target", {"a": codes[:20], "b": np.full((20, 32), np.nan)}, target=float("nan")),
        student("strings", None, {"ex1_predict": "short"}),
    ]
    students[-1].__dict__["ex5"] = CellAnswers({"experiment_latents": Answer("experiment_latents", "scalar", value="x")})
    pairs = {(a, b): why for a, b, why in report.look_at(students)}
    assert set(pairs) == {("original", "one_extra_code")}
    assert "100% of the Ex5 latents are the same codes" in pairs["original", "one_extra_code"]
    assert "nearly the same written answer in 1 cell(s): ex1_predict" in pairs["original", "one_extra_code"]
    assert report.ex5_categories(students)  # a NaN target or strings are counted, never a crash


def test_student_text_in_the_report_is_text_never_markup():
    """The report comes from a Jinja2 template with autoescape on: a student id, a run's problem and a check message
    that hold markup are shown as typed."""
    from autograder.feedback import html_report
    from autograder.results import CheckResult

    rng = np.random.default_rng(1)
    attack = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    students = [student(attack, {"noise": rng.standard_normal((20, 32))}), student("honest", None)]
    students[0].meta["problem"] = attack
    page = report.class_report_html(students, f"report {attack}", skipped=[(attack, attack)])
    assert "<script>" not in page and "<img src=x" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # title, heading, per student, stopped, skipped
    cell = html_report("ex3_arithmetic", [CheckResult("ex3_arithmetic", "shapes", 0.0, 1.0, attack)], [(attack, "AAAA")],
                       [attack])
    assert "<script>" not in cell and cell.count("&lt;script&gt;") == 4  # message, note, caption and its alt text
