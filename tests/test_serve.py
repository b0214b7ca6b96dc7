"""The grading service (`latent-lab serve`) under a burst: fair, nothing lost after kill -9, manual grades kept.

Twenty throwaway Unix users submit 100 times into a real exchange, as `nbgrader submit` writes it (a folder of
theirs named <student>+<assignment>+<time>+<random>, with timestamp.txt and submission_secret.txt): one of them 30
times first, one hostile. The service runs as its own process, is killed with SIGKILL mid-burst and started again.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import notebook_hash

import course_config as cfg
from tests import hostile
from tests.users import ensure_user, remove_user
from tools import corpus, exchange_site
from tools.exchange_site import journal, serve, submit

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix users: run as root (CI does)")]
A = cfg.ASSIGNMENT_ID
STUDENTS = [f"lltest-s{i:02d}" for i in range(20)]
FLOODER, HOSTILE, MANUAL = STUDENTS[0], STUDENTS[1], STUDENTS[2]
SAMPLES = ["passes_all", "one_mistake_per_exercise", "ex5_real_items", "ex4_upside_down", "ex3_direction_reversed"]
ATTACKS = ["tamper_gradebook_and_other_students", "kill_and_stop_the_grader", "fork_bomb"]


@pytest.fixture(scope="module")
def site():
    for user in STUDENTS:
        ensure_user(user)
    site = exchange_site.make_site(Path(tempfile.mkdtemp(prefix="latent_lab_serve_", dir="/tmp")))
    corpus.write(site["samples"], SAMPLES)
    for name in ATTACKS:
        nbformat.write(hostile.attack_notebook(name, 9), site["samples"] / f"{name}.ipynb")
    yield site
    shutil.rmtree(site["base"], ignore_errors=True)
    for user in STUDENTS:
        remove_user(user)


def wait_for(test, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


def expected_points(sample: str) -> float:
    return 0.0 if sample in ATTACKS else sum(corpus.expected(sample)["points"].values())


def auto_scores(site) -> dict:
    with Gradebook(f"sqlite:///{site['course'] / 'gradebook.db'}") as gradebook:
        return {s.student.id: sum(g.auto_score or 0 for nb in s.notebooks for g in nb.grades
                                  if g.cell.cell_type == "code") for s in gradebook.assignment_submissions(A)}


def write_manual_grade(site, student: str, cell: str, score: float) -> None:
    """What formgrader does when the instructor grades a PREDICT answer: a write to the gradebook, retried while
    the service holds it."""
    for _ in range(40):
        try:
            with Gradebook(f"sqlite:///{site['course'] / 'gradebook.db'}") as gradebook:
                grade = gradebook.find_grade(cell, A, A, student)
                grade.manual_score = score
                gradebook.db.commit()
            return
        except Exception as err:  # noqa: BLE001  sqlite3.OperationalError: database is locked
            if "locked" not in str(err):
                raise
            time.sleep(0.25)
    raise AssertionError("the gradebook stayed locked for 10 s")


def burst(site, plan: list, others: list) -> tuple:
    """The plan's submissions, 20 ms apart, two forged ones and a manual grade among them; ({student: (newest entry,
    sample)}, [forged entries])."""
    newest, forged = {}, []
    for i, (student, sample) in enumerate(plan):
        newest[student] = (submit(site, student, sample).name, sample)
        if i == 40:  # the hostile student forges two submissions in others' names: never collected as theirs
            forged += [submit(site, others[0], "passes_all", as_student=HOSTILE).name,
                       submit(site, others[1], "passes_all", as_student=HOSTILE).name]
        if i == 50:
            write_manual_grade(site, MANUAL, "ex1_predict", 1.0)
        time.sleep(0.02)
    assert len(plan) + len(forged) == 100
    return newest, forged


def test_a_burst_is_graded_fairly_and_nothing_is_lost_after_kill_9(site):
    submit(site, MANUAL, "passes_all")  # graded before the burst: the instructor grades her PREDICT during it
    first = subprocess.run([sys.executable, "-m", "autograder", "serve", "--once"], cwd=site["course"],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"{MANUAL}: " in first.stderr and "feedback released" in first.stderr

    rng = random.Random(7)
    plan = [(FLOODER, SAMPLES[i % 2]) for i in range(30)]  # the flooder's 30 land first
    plan += [(HOSTILE, name) for name in ATTACKS]
    others = [s for s in STUDENTS if s not in (FLOODER, HOSTILE)]
    rest = [(s, rng.choice(SAMPLES)) for s in others for _ in range(3)] + [(rng.choice(others), rng.choice(SAMPLES))
                                                                           for _ in range(100 - 33 - 3 * 18 - 2)]
    rng.shuffle(rest)
    plan += rest
    service = serve(site)
    try:
        newest, forged = burst(site, plan, others)
        wait_for(lambda: len([e for e in journal(site) if e["event"] == "graded"]) >= 8, 300, "8 gradings")
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(30)
    killed_at = len(journal(site))
    service = serve(site)
    try:
        def everyone_released():
            events = journal(site)
            released = {e["entry"] for e in events if e["event"] == "released"}
            return all(entry in released for entry, _ in newest.values())
        wait_for(everyone_released, 900, "every student's newest submission graded and its feedback released")
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
    log = (site["base"] / "service.log").read_text()
    events = journal(site)
    graded = [e for e in events if e["event"] == "graded"]
    assert killed_at < len(events) and log.count("serving ") == 2

    # nothing graded twice: every inbound entry is covered by one grading at most, forged ones by none
    covered = [name for e in graded for name in e["covered"]]
    assert len(covered) == len(set(covered))
    assert not set(forged) & set(covered) and not any(name in os.listdir(site["inbound"]) for name in forged)
    # every student's newest submission graded, its score in the gradebook, its feedback released for its secret
    scores = auto_scores(site)
    for student, (entry, sample) in newest.items():
        last = [e for e in graded if e["student"] == student][-1]
        assert last["entry"] == entry and last["score"] == expected_points(sample), (student, sample, last)
        assert scores[student] == expected_points(sample), (student, sample)
        secret = (site["inbound"] / entry / "submission_secret.txt").read_text()
        page = site["feedback"] / f"{notebook_hash(secret=secret, notebook_id=A)}.html"
        assert "Graded by the course&#39;s autograder" in page.read_text() or "Graded by the course's autograder" \
            in page.read_text()
    assert all(e["feedback"] in ("full", "limit") for e in graded)
    # fair: no student's submission waited behind more than one grading of the flooder
    flooder_starts = [e["started"] for e in graded if e["student"] == FLOODER]
    for e in graded:
        if e["student"] != FLOODER:
            behind = [t for t in flooder_starts if e["waited_since"] < t < e["started"]]
            assert len(behind) <= 1, (e["student"], behind)
    # the instructor's manual grade, written during the burst, is still there
    with Gradebook(f"sqlite:///{site['course'] / 'gradebook.db'}") as gradebook:
        assert gradebook.find_grade("ex1_predict", A, A, MANUAL).manual_score == 1.0
    status = subprocess.run([sys.executable, "-m", "autograder", "serve", "--status"], cwd=site["course"],
                            capture_output=True, text=True, timeout=120)
    assert "Waiting: 0 students" in status.stdout and f"{len(graded)} gradings of 20 students" in status.stdout
    assert "Traceback" not in log, log[-6000:]


@pytest.mark.parametrize("kind, shown, hidden", [
    ("score", ["Autograded score: 8.5 / 12 points."], ["boot_direction", "orientation", "on_target"]),
    ("format", ["shapes", "pixel_scale", "contract"], ["boot_direction", "orientation", "on_target", "Autograded"]),
    ("limit", ["today's feedback is used", "brings feedback from 00:00 UTC"], ["shapes", "Autograded"]),
    ("due", ["after the due date"], ["shapes", "Autograded"]),
])
def test_feedback_on_submit_shows_what_the_setting_allows_and_no_more(site, monkeypatch, kind, shown, hidden):
    from autograder import serve as service
    from autograder.autograde import course_api

    student = "lltest-s19"
    submit(site, student, "one_mistake_per_exercise")
    monkeypatch.chdir(site["course"])
    ran = subprocess.run([sys.executable, "-m", "autograder", "serve", "--once"], cwd=site["course"],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    journal_ = service.Journal(site["course"] / "latent_lab_service" / f"{A}.jsonl")
    event = dict(journal_.of("graded", student)[-1], feedback=kind)
    service.write_page(course_api(), A, student, event, journal_)
    page = (site["course"] / "feedback" / student / A / f"{A}.html").read_text()
    assert f"attempt {event['attempt']}" in page
    for words in shown:
        assert words in page, words
    for words in hidden:
        assert words not in page, words
