"""Does every sample submission get exactly its expected points per part, with its mistake named in the feedback?

The whole corpus is graded once through the standalone CLI, in a subprocess, as an instructor would run it.
"""
import json
import subprocess
import sys

import pytest

import course_config as cfg

CORPUS = cfg.COURSE_ROOT / "tests" / "submissions"
EXPECTED = json.loads((CORPUS / "expected_scores.json").read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("graded")
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(CORPUS), "--json", str(out / "all.json"),
                          "--out", str(out)], cwd=cfg.COURSE_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return {"results": json.loads((out / "all.json").read_text()), "out": out, "stdout": run.stdout}


def test_every_corpus_notebook_was_graded(graded):
    assert sorted(name.removesuffix(".ipynb") for name in graded["results"]) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_submission_gets_its_expected_points_and_diagnosis(graded, name):
    result = graded["results"][f"{name}.ipynb"]
    by_cell = {}
    for test in result["tests"]:
        cell = test["name"].split(":")[0]
        by_cell[cell] = by_cell.get(cell, 0) + test["score"]
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] == "visible"
    assert by_cell == pytest.approx(EXPECTED[name]["points"]), [t for t in result["tests"] if t["score"] < t["max_score"]]
    assert result["max_score"] == 12
    diagnosis = EXPECTED[name]["diagnosis"]
    messages = " ".join(t["output"] for t in result["tests"])
    graded_notebook = (graded["out"] / name / f"{name}.ipynb").read_text()
    if diagnosis:
        assert diagnosis in messages or diagnosis in graded_notebook.lower()


def test_feedback_pictures_are_written(graded):
    folder = graded["out"] / "passes_all"
    for picture in ("ex3_arithmetic_0.png", "ex4_grid_0.png", "ex5_experiment_0.png"):
        assert (folder / picture).stat().st_size > 2000
    assert json.loads((folder / "results.json").read_text())["score"] == 12


def test_cli_prints_a_table_per_submission(graded):
    assert "passes_all.ipynb: 12 / 12" in graded["stdout"]
    assert "[FAIL] orientation (0/1): The grid is upside down" in graded["stdout"]
