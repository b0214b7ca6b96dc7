"""Do local workers and a real Dask cluster grade exactly as the serial run, and does a dying worker cost only its
own submission (retried once, then zero with the reason)?"""
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import parallel
from tests import dask_cluster as cluster
from tools import corpus

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # three clusters and 13 gradings: about 2 minutes
CASES = ["passes_all", "one_mistake_per_exercise", "ex4_upside_down", "untouched_release", "ex5_off_target"]


def expected_scores():
    return {f"{name}.ipynb": sum(corpus.expected(name)["points"].values()) for name in CASES}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    corpus.write(folder, CASES)
    (folder / "not_a_notebook.ipynb").write_text("{ this is not json")
    return folder


def grade(folder, out, *options):
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--quiet", "--json", str(out),
                          *options], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return {key: result["score"] for key, result in json.loads(out.read_text()).items()}


def test_two_local_workers_grade_as_the_serial_run(submissions, tmp_path):
    scores = grade(submissions, tmp_path / "workers.json", "--workers", "2")
    assert scores == {**expected_scores(), "not_a_notebook.ipynb": 0}
    results = json.loads((tmp_path / "workers.json").read_text())
    assert "not a readable notebook" in results["not_a_notebook.ipynb"]["tests"][0]["output"]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, started from the kit's root."""
    with cluster.dask_cluster(tmp_path) as address:
        yield address


def test_a_dask_cluster_grades_as_the_serial_run(submissions, tmp_path, dask_cluster):
    assert dask_cluster.startswith("tcp://127.0.0.1:")
    scores = grade(submissions, tmp_path / "dask.json", "--scheduler", dask_cluster)
    assert scores == {**expected_scores(), "not_a_notebook.ipynb": 0}


def dies_on_the_first(submission, sandbox, box_pool=None):
    """A stand-in task: the worker grading `passes_all` dies (as one killed for memory would)."""
    if submission.student == "passes_all.ipynb":
        os._exit(1)
    return parallel.grade_on_worker(submission, sandbox, box_pool)


def test_a_worker_that_dies_twice_costs_only_that_submission(submissions, monkeypatch):
    monkeypatch.setattr(parallel, "grade_on_worker", dies_on_the_first)
    batch = [parallel.read(submissions / f"{name}.ipynb", f"{name}.ipynb") for name in CASES[:3]]
    graded = {s.student: g for s, g in parallel.grade_in_parallel(batch, "bwrap", workers=2, progress=False)}
    assert graded["passes_all.ipynb"].score == 0
    assert "worker died twice" in graded["passes_all.ipynb"].problem
    assert all("died twice" in r.message for r in graded["passes_all.ipynb"].grades["ex3_arithmetic"].results)
    for name in CASES[1:3]:
        assert graded[f"{name}.ipynb"].score == expected_scores()[f"{name}.ipynb"]


def answers_with_its_name(submission, sandbox, box_pool=None):
    """A stand-in task without a kernel: which submission the worker was given, after `unread` seconds."""
    time.sleep(float(submission.unread or 0))
    return submission.student


def test_a_worker_found_dead_between_submissions_is_replaced_and_charges_nobody(monkeypatch):
    monkeypatch.setattr(parallel, "grade_on_worker", answers_with_its_name)
    local = parallel.LocalWorkers(1, "none")
    try:
        local.send(parallel.Submission("first", "a.ipynb"))
        assert local.results() == [(parallel.Submission("first", "a.ipynb"), 0, ("graded", "first"))]
        idle = local.idle[0]
        os.kill(idle.process.pid, signal.SIGKILL)  # the OOM killer, between two submissions
        select.select([idle.pidfd], [], [], 30)
        local.send(parallel.Submission("second", "b.ipynb"))  # to a fresh worker, not into a closed pipe
        assert local.results() == [(parallel.Submission("second", "b.ipynb"), 0, ("graded", "second"))]
        assert local.idle[0] is not idle
    finally:
        local.close()
    assert not idle.process.is_alive()


def test_the_fork_server_dying_costs_no_submission(monkeypatch):
    """The workers' fork server ending closes the pipes multiprocessing watches; the workers themselves go on."""
    from multiprocessing import forkserver

    monkeypatch.setattr(parallel, "grade_on_worker", answers_with_its_name)
    local = parallel.LocalWorkers(1, "none")
    try:
        local.send(parallel.Submission("slow", "a.ipynb", unread="2"))  # two seconds of "grading"
        time.sleep(0.5)
        os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)
        assert local.results() == [(parallel.Submission("slow", "a.ipynb", unread="2"), 0, ("graded", "slow"))]
        pid = local.idle[0].process.pid
    finally:
        local.close()
    for _ in range(50):  # bounded: ended by close(), reaped by init now that its parent is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker {pid} outlived close()")


def test_submissions_are_read_only_a_few_ahead_of_the_workers():
    """A class of big notebooks never sits in memory at once: each is read when a worker is about to need it."""
    read = []

    def unreadable(n):  # stand-ins graded without a kernel: zero, with the reason, in milliseconds
        for i in range(n):
            read.append(i)
            yield parallel.Submission(f"student{i}", "latent_space.ipynb", unread="it is a link (test)")

    results = parallel.grade_in_parallel(unreadable(20), "bwrap", workers=2, progress=False, total=20)
    first, graded = next(results)
    assert len(read) <= 2 * parallel.IN_FLIGHT_PER_WORKER + 1
    graded_all = [first, *(submission for submission, _ in results)]
    assert sorted(s.student for s in graded_all) == sorted(f"student{i}" for i in range(20))
    assert graded.score == 0 and "it is a link (test)" in graded.problem
