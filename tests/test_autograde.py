"""Does `python -m autograder autograde` leave the course as `nbgrader autograde` does, and resume after kill -9?"""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from tools import corpus, course

pytestmark = pytest.mark.slow  # three course folders, 16 gradings: about 3 minutes
KIT = cfg.COURSE_ROOT
STUDENTS = ["passes_all", "one_mistake_per_exercise", "ex4_upside_down", "untouched_release", "kernel_dies_in_ex4"]


def make(folder: Path, names=STUDENTS) -> Path:
    corpus.write(folder / "subs", names)
    return course.make_course(folder / "course", {n: folder / "subs" / f"{n}.ipynb" for n in names})


def kit_autograde(root: Path, *options, **popen):
    env = {**os.environ, "PYTHONPATH": str(KIT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [sys.executable, "-m", "autograder", "autograde", cfg.ASSIGNMENT_ID, *options]
    if popen:
        return subprocess.Popen(command, cwd=root, env=env, **popen)
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)


def comments(root: Path) -> dict:
    """{student: {cell: comment}} as nbgrader stored them (the feedback students get back)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {s.id: {c.name: c.comment for c in gradebook.find_submission_notebook(
            cfg.ASSIGNMENT_ID, cfg.ASSIGNMENT_ID, s.id).comments} for s in gradebook.students}


def expected_table() -> dict:
    return {name: {f"{cell}_tests": points for cell, points in corpus.expected(name)["points"].items()}
            for name in STUDENTS}


def auto_scores(root: Path) -> dict:
    return {student: {cell: score for cell, (score, _) in grades.items() if cell.endswith("_tests")}
            for student, grades in course.scores_by_part(root).items()}


def test_workers_leave_the_course_as_nbgrader_autograde_does(tmp_path):
    ours, theirs = make(tmp_path / "ours"), make(tmp_path / "theirs")
    run = kit_autograde(ours, "--workers", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    course.nbgrader(theirs, "autograde", cfg.ASSIGNMENT_ID)
    assert auto_scores(ours) == auto_scores(theirs) == expected_table()
    assert comments(ours) == comments(theirs)
    for student in STUDENTS:
        files = sorted(p.name for p in (ours / "autograded" / student / cfg.ASSIGNMENT_ID).iterdir())
        assert files == sorted(p.name for p in (theirs / "autograded" / student / cfg.ASSIGNMENT_ID).iterdir())
        ipynb = f"{cfg.ASSIGNMENT_ID}/{cfg.ASSIGNMENT_ID}.ipynb"
        mine, nbgraders = (nbformat.read(root / "autograded" / student / ipynb, 4) for root in (ours, theirs))
        assert [c.source for c in mine.cells] == [c.source for c in nbgraders.cells]
    course.nbgrader(ours, "generate_feedback", cfg.ASSIGNMENT_ID)  # nbgrader's next steps work after ours
    course.nbgrader(ours, "export", "--to", str(ours / "grades.csv"))
    assert len((ours / "grades.csv").read_text().splitlines()) == len(STUDENTS) + 1


def test_killed_halfway_a_rerun_grades_only_the_rest_and_loses_nothing(tmp_path):
    root = make(tmp_path)
    first = kit_autograde(root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    autograded = root / "autograded"
    for _ in range(600):  # bounded: the first student is recorded within a minute or two
        if len(list(autograded.glob(f"*/{cfg.ASSIGNMENT_ID}/{cfg.ASSIGNMENT_ID}.ipynb"))) >= 2:
            break
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rerun = kit_autograde(root)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    skipped = int(re.search(r"(\d+) of \d+ students already graded", rerun.stderr).group(1))
    assert 1 <= skipped < len(STUDENTS), rerun.stderr  # the second file may be nbgrader's sanitized copy, not yet graded
    assert auto_scores(root) == expected_table()
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = kit_autograde(root, "--student", "passes_all")
    assert again.returncode == 0 and "1 of 1 students already graded" in again.stderr
    timestamp = root / "submitted" / "ex4_upside_down" / cfg.ASSIGNMENT_ID / "timestamp.txt"
    timestamp.write_text("2026-11-21 12:00:00.000000 UTC")  # resubmitted after grading: graded again
    resubmitted = kit_autograde(root, "--student", "ex4_upside_down")
    assert "already graded" not in resubmitted.stderr and "Graded 1 students" in resubmitted.stderr


def test_it_must_run_from_a_course_root(tmp_path):
    run = kit_autograde(tmp_path)
    assert run.returncode != 0 and "run this from the course root" in run.stderr
