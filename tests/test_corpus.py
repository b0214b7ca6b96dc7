"""Does every sample submission fail exactly its expected checks, with its mistake named in the feedback?

The corpus is written at test time from its spec (tools/corpus.py) and graded once through the standalone CLI, in
a subprocess, as an instructor would run it. Expected points follow from course_config.CHECK_POINTS.
"""
import json
import re
import subprocess
import sys

import pytest

import course_config as cfg
from tools import corpus

pytestmark = pytest.mark.slow
EXPECTED = {name: corpus.expected(name) for name in corpus.SUBMISSIONS}
TOTAL = corpus.TOTAL


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions, out = tmp_path_factory.mktemp("corpus"), tmp_path_factory.mktemp("graded")
    corpus.write(submissions)
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--json",
                          str(out / "all.json"), "--out", str(out)], cwd=cfg.COURSE_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return {"results": json.loads((out / "all.json").read_text()), "out": out, "stdout": run.stdout}


def test_every_corpus_notebook_was_graded(graded):
    assert sorted(name.removesuffix(".ipynb") for name in graded["results"]) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_submission_fails_exactly_its_expected_checks_and_names_the_cause(graded, name):
    result = graded["results"][f"{name}.ipynb"]
    failed = {cell: [] for cell in cfg.CHECK_POINTS}
    for test in result["tests"]:
        cell, check = test["name"].split(": ")
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] == "visible"
        if test["score"] < test["max_score"]:
            failed[cell].append(check)
    assert {cell: sorted(checks) for cell, checks in failed.items()} == EXPECTED[name]["failed"], \
        [t for t in result["tests"] if t["score"] < t["max_score"]]
    assert result["score"] == pytest.approx(sum(EXPECTED[name]["points"].values()))
    assert result["max_score"] == TOTAL
    diagnosis = EXPECTED[name]["diagnosis"]
    messages = " ".join(t["output"] for t in result["tests"])
    graded_notebook = (graded["out"] / name / f"{name}.ipynb").read_text()
    if diagnosis:
        assert diagnosis in messages or diagnosis in graded_notebook.lower()


def test_feedback_pictures_are_written(graded):
    folder = graded["out"] / "passes_all"
    for picture in ("ex3_arithmetic_0.png", "ex4_grid_0.png", "ex5_experiment_0.png"):
        assert (folder / picture).stat().st_size > 2000
    assert json.loads((folder / "results.json").read_text())["score"] == TOTAL


def test_cli_prints_a_table_per_submission(graded):
    assert f"passes_all.ipynb: {TOTAL:g} / {TOTAL:g}" in graded["stdout"]
    assert "[FAIL] orientation (0/1): The grid is upside down" in graded["stdout"]


def _fixed_words(template: str) -> str:
    """The longest stretch of a diagnosis message without a blank to fill: what any filled-in message contains."""
    return max(re.split(r"\{[^}]*\}", template), key=len).strip()


# Sample submissions that make a catalogued mistake besides the one they are named after.
ALSO_MADE_BY = {"ex4_upside_down": {"one_mistake_per_exercise"},
                "ex3_direction_reversed": {"one_mistake_per_exercise", "ex3_right_value_other_route"}}
# The sample named ex3_wrong_categories averages the wrong category, which the averages' own check names
# ("is the average of Bag (8) items"); the catalogued mistake (a direction between two other means) is in
# tests/test_diagnoses.py.
MADE_BY_NONE = {"ex3_wrong_categories"}


def test_each_diagnosis_is_told_for_its_mistake_and_for_no_other_submission(graded):
    """Both ways: a diagnosis reaches the submission named after its mistake, and no other sample submission
    (an honest variant, another mistake) is told a cause it did not make."""
    from autograder.diagnoses import CATALOGUE, CHECK_DIAGNOSES

    templates = {d.name: d.message for d in CATALOGUE} | CHECK_DIAGNOSES
    told = {name: " ".join(t["output"] for t in result["tests"]) for name, result in graded["results"].items()}
    wrong = {}
    for diagnosis, template in templates.items():
        words = _fixed_words(template)
        expected = ({diagnosis} & set(EXPECTED) - MADE_BY_NONE) | ALSO_MADE_BY.get(diagnosis, set())
        got = {name.removesuffix(".ipynb") for name, text in told.items() if words in text}
        if got != expected:
            wrong[diagnosis] = {"told to": sorted(got), "made by": sorted(expected)}
    assert wrong == {}
