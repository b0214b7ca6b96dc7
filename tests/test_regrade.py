"""Does `regrade` give, from the kept answers alone, what a full re-autograde gives after a settings change, say
exactly what changed, and run no notebook?"""
import argparse
import json
import re
import shutil

import nbformat
import pytest

import course_config as cfg
from autograder import autograde, cli, executor, kept, regrade
from tools import corpus, course

STUDENTS = ["passes_all", "one_mistake_per_exercise", "ex3_direction_reversed", "untouched_release"]
SHIPPED_TOLERANCE = dict(cfg.LATENT_TOLERANCE)
LOOSER = {"atol": 10.0, "rtol": 0.0}                                            # a mistake now within tolerance
SPLIT = {"shapes": 0.5, "boot_direction": 2.0, "z_result": 1.5}                 # same total for the cell


def autograde_here(root, monkeypatch, *options):
    monkeypatch.chdir(root)
    args = argparse.Namespace(assignment=cfg.ASSIGNMENT_ID, student=None, force=False, workers=None, scheduler=None,
                              no_sandbox=False, verbose=False)
    for option in options:
        setattr(args, option, True)
    assert autograde.run(args) == 0


@pytest.mark.slow  # two courses of four students graded once each, one regrade: about 2 minutes
def test_regrade_matches_a_full_autograde_after_a_tolerance_and_point_change(tmp_path, monkeypatch):
    corpus.write(tmp_path / "subs", STUDENTS)
    submissions = {name: tmp_path / "subs" / f"{name}.ipynb" for name in STUDENTS}
    ours = course.make_course(tmp_path / "ours", submissions)
    autograde_here(ours, monkeypatch)
    before = course.scores_by_part(ours)
    record = ours / "autograded" / "passes_all" / cfg.ASSIGNMENT_ID / kept.FOLDER / kept.RECORD
    assert json.loads(record.read_text())["digest"] == kept.checks_digest()

    monkeypatch.setattr(cfg, "LATENT_TOLERANCE", LOOSER)  # the instructor's two edits, for the rest of the test
    monkeypatch.setitem(cfg.CHECK_POINTS, "ex3_arithmetic", SPLIT)
    with monkeypatch.context() as no_kernel:
        no_kernel.setattr(executor, "run_notebook", lambda *a: pytest.fail("regrade ran a notebook"))
        changes = regrade.regrade_course(cfg.ASSIGNMENT_ID, feedback=True)

    theirs = course.make_course(tmp_path / "theirs", submissions)
    autograde_here(theirs, monkeypatch)
    after = course.scores_by_part(ours)
    assert after == course.scores_by_part(theirs)
    assert after != before
    changed = {(c.student, c.cell_id, c.check) for c in changes}
    assert ("passes_all", "ex3_arithmetic", "shapes") in changed  # the split: 1 -> 0.5 even when passed
    assert ("ex3_direction_reversed", "ex3_arithmetic", "boot_direction") in changed  # the looser tolerance
    for change in changes:  # every change printed is one the gradebook shows
        assert change.new != change.old
    graded = nbformat.read(ours / "autograded" / "ex3_direction_reversed" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb", 4)
    assert graded.cells[0].source  # the student's notebook, outputs kept, feedback rewritten
    feedback = (ours / "feedback" / "ex3_direction_reversed" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.html").read_text()
    assert re.search(r"<code>boot_direction</code></td><td[^>]*>2\xa0/\xa02<", feedback)  # the new split, passed
    assert record.exists() and json.loads(record.read_text())["digest"] == kept.checks_digest()
    assert not list((ours / "feedback").rglob(kept.FOLDER))  # students get feedback, not the kept answers
    assert {p.name for p in (ours / "feedback").iterdir()} == {c.student for c in changes}  # only theirs is redone
    monkeypatch.chdir(ours)  # autograding theirs moved there
    report_matches_the_gradebook(ours, tmp_path / "report.html")
    then_a_mistyped_setting_a_hand_grade_and_stale_feedback(ours, monkeypatch, changes)


def then_a_mistyped_setting_a_hand_grade_and_stale_feedback(root, monkeypatch, changes):
    """A mistyped tolerance stops regrade and changes nothing; a hand grade given after autograde is not flagged
    again by a regrade that leaves the student's hand-graded cells alone; feedback left stale by a regrade without
    --feedback is named, and a later --feedback brings it up to date."""
    from nbgrader.api import Gradebook

    args = argparse.Namespace(target=cfg.ASSIGNMENT_ID, student=None, feedback=False, verbose=False)
    scores = course.scores_by_part(root)
    with monkeypatch.context() as typo:
        typo.setattr(cfg, "LATENT_TOLERANCE", {"atol": 10.0, "rtoll": 0.0})
        assert regrade.run(args) == 3
    assert course.scores_by_part(root) == scores
    student = "ex3_direction_reversed"
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=cfg.COURSE_ID) as gradebook:
        written = [g for g in gradebook.find_submission_notebook(cfg.ASSIGNMENT_ID, cfg.ASSIGNMENT_ID, student).grades
                   if not g.name.endswith("_tests")]
        for grade in written:  # the instructor grades the written answers by hand
            grade.manual_score, grade.needs_manual_grade = grade.max_score, False
        gradebook.db.commit()
    monkeypatch.setattr(cfg, "LATENT_TOLERANCE", SHIPPED_TOLERANCE)  # back as shipped: the changes revert
    assert {(c.student, c.check) for c in regrade.regrade_course(cfg.ASSIGNMENT_ID)} >= \
        {(student, "boot_direction")}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=cfg.COURSE_ID) as gradebook:
        grades = gradebook.find_submission_notebook(cfg.ASSIGNMENT_ID, cfg.ASSIGNMENT_ID, student).grades
        assert not any(g.needs_manual_grade for g in grades if not g.name.endswith("_tests"))
    html = root / "feedback" / student / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.html"
    graded = root / "autograded" / student / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    assert regrade.feedback_is_stale(course_dir(root), student, cfg.ASSIGNMENT_ID)
    assert regrade.regrade_course(cfg.ASSIGNMENT_ID, feedback=True) == []  # nothing changes, the stale is redone
    assert html.stat().st_mtime >= graded.stat().st_mtime
    assert re.search(r"<code>boot_direction</code></td><td[^>]*>0\xa0/\xa0", html.read_text())


def course_dir(root):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(root=str(root))


def report_matches_the_gradebook(root, out):
    """The class report renders in headless Chromium and its per-student totals are the gradebook's."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert cli.main(["report", cfg.ASSIGNMENT_ID, "--out", str(out)]) == 0
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,2600"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(out.as_uri())
        rows = {r.find_elements("css selector", "td")[0].text: float(r.find_element("css selector", "td.total").text)
                for r in browser.find_elements("css selector", "tr.student")}
        assert all(img.get_property("naturalWidth") > 0 for img in browser.find_elements("css selector", "img"))
        cfg.DEMO_OUTPUT_DIR.mkdir(exist_ok=True)
        browser.save_screenshot(str(cfg.DEMO_OUTPUT_DIR / "class_report.png"))
    finally:
        browser.quit()
    gradebook = {student: sum(score for cell, (score, _) in parts.items() if cell.endswith("_tests"))
                 for student, parts in course.scores_by_part(root).items()}
    assert rows == gradebook


@pytest.mark.slow  # two submissions graded
def test_a_folder_graded_by_the_cli_is_regraded_in_place(tmp_path, monkeypatch):
    corpus.write(tmp_path / "subs", ["passes_all", "ex3_direction_reversed"])
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    results = tmp_path / "out" / "ex3_direction_reversed" / "results.json"
    before = {t["name"]: t["score"] for t in json.loads(results.read_text())["tests"]}
    monkeypatch.setattr(cfg, "LATENT_TOLERANCE", LOOSER)
    monkeypatch.setattr(executor, "run_notebook", lambda *a: pytest.fail("regrade ran a notebook"))
    changes = regrade.regrade_folder(tmp_path / "out")
    after = {t["name"]: t["score"] for t in json.loads(results.read_text())["tests"]}
    assert {(c.student, c.check) for c in changes} == {("ex3_direction_reversed", "boot_direction")}
    assert before["ex3_arithmetic: boot_direction"] == 0 and after["ex3_arithmetic: boot_direction"] == 1.5
    graded = (tmp_path / "out" / "ex3_direction_reversed" / "ex3_direction_reversed.ipynb").read_text()
    assert graded.count("data:image/png;base64") >= 3  # the pictures drawn at grading time are still shown


def test_a_course_with_nothing_kept_says_what_to_do_and_changes_nothing(tmp_path, monkeypatch, capsys, caplog):
    from autograder.course_folder import init_course

    init_course(tmp_path / "course")
    monkeypatch.chdir(tmp_path / "course")
    args = argparse.Namespace(target=cfg.ASSIGNMENT_ID, student=None, feedback=False, verbose=False)
    assert regrade.run(args) == 2
    assert "is autograded yet: run `python -m autograder autograde" in capsys.readouterr().err
    graded_before = tmp_path / "course" / "autograded" / "old_timer" / cfg.ASSIGNMENT_ID
    graded_before.mkdir(parents=True)  # autograded before the kit kept answers
    (graded_before / f"{cfg.ASSIGNMENT_ID}.ipynb").write_text("{}")
    assert regrade.run(args) == 0
    assert "old_timer" in caplog.text and "--force --student ID" in caplog.text
    assert (graded_before / f"{cfg.ASSIGNMENT_ID}.ipynb").read_text() == "{}"
    assert regrade.run(argparse.Namespace(**{**vars(args), "student": "nobody"})) == 2


@pytest.mark.slow  # five submissions graded, then report and regrade: about half a minute
def test_class_wide_steps_go_on_past_whatever_a_student_left(tmp_path):
    """A NaN target, an Ex5 export of strings, a hidden notebook and a notebook named `.ipynb` beside a
    same-named one, a record that is not JSON and a graded notebook that is not one: report and regrade finish for
    the class, and name what they left out."""
    import subprocess
    import sys

    subs = tmp_path / "subs"
    corpus.write(subs, ["passes_all", "one_mistake_per_exercise"])
    for name, code in {"nan_target": "TARGET_CATEGORY = float('nan')",
                       "string_codes": "experiment_latents = {'a': ['x'] * 20, 'b': ['y'] * 20}"}.items():
        nb = corpus.notebook("passes_all")
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex5_experiment")
        cell.source += "\n" + code
        nbformat.write(nb, subs / f"{name}.ipynb")
    shutil.copy(subs / "passes_all.ipynb", subs / ".hidden.ipynb")
    (subs / "passes_all").mkdir()
    shutil.copy(subs / "passes_all.ipynb", subs / "passes_all" / ".ipynb")
    out = tmp_path / "out"

    def kit(*args):
        return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cfg.COURSE_ROOT,
                              capture_output=True, text=True, timeout=900)

    graded = kit("grade", subs, "--quiet", "--out", out)
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert "2 hidden file(s) or folder(s) not graded" in graded.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["passes_all", "one_mistake_per_exercise", "nan_target",
                                                             "string_codes"])
    (out / "one_mistake_per_exercise" / kept.FOLDER / kept.RECORD).write_text("{ not json")
    (out / "string_codes" / "string_codes.ipynb").write_text("not a notebook")
    report = kit("report", out, "--out", tmp_path / "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    assert "'one_mistake_per_exercise': no graded record the kit wrote" in report.stderr
    assert "'string_codes': its graded notebook is not readable" in report.stderr
    page = (tmp_path / "report.html").read_text()
    assert "3 graded submissions" in page and "Left out of this report" in page
    again = kit("regrade", out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "'one_mistake_per_exercise': left as it is" in again.stderr
