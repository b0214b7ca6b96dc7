"""The grading service (`latent-lab serve`) under a burst: fair, nothing lost after kill -9, manual grades kept.

Twenty throwaway Unix users submit 100 times into a real exchange, as `nbgrader submit` writes it (a folder of
theirs named <student>+<assignment>+<time>+<random>, with timestamp.txt and submission_secret.txt): one of them 30
times first, one hostile. The service runs as its own process, is killed with SIGKILL mid-burst and started again.
"""
import datetime
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
from autograder.serve import waiting
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
    restarted = log[log.index("serving ", log.index("serving ") + 1):]  # a killed service's workers may say why
    assert "Traceback" not in restarted, restarted[-6000:]                # they stopped as they die with it
    # the class report reads what the service graded
    report = subprocess.run([sys.executable, "-m", "autograder", "report", A, "--out", "report.html"],
                            cwd=site["course"], capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    page = (site["course"] / "report.html").read_text()
    assert all(student in page for student in STUDENTS)


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


def test_odd_entries_in_inbound_stop_nobody_and_a_claim_in_the_future_hides_nothing(site):
    """Found by a hostile review: each of these once failed every other student's collect (and the service then
    never graded them), or let a far-future claim hide the student's later submissions."""
    honest, other, hostile_student = STUDENTS[10], STUDENTS[11], STUDENTS[12]
    inbound = site["inbound"]
    odd = [f"{hostile_student}+{A}+2026-12-07 19:00:00 ..+abcd",        # dateutil raises a warning class for '..'
           f"{hostile_student}+{A}+notadate+" + "x" * 222,              # 255 bytes: too long for a prefix
           f"*+{A}+2026-12-07 19:00:00 UTC+x"]                          # a glob for every student
    for name in odd:
        (inbound / name).mkdir()
        shutil.chown(inbound / name, hostile_student, hostile_student)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for i in range(300):  # a flood in others' names: no place in the queue, set aside by the next collect
        (inbound / f"ghost{i}+{A}+{stamp}+r").mkdir()
        shutil.chown(inbound / f"ghost{i}+{A}+{stamp}+r", hostile_student, hostile_student)
    assert not [student for student in waiting(inbound, A, set()) if student.startswith("ghost")]
    future = submit(site, honest, "passes_all")  # a claim far in the future: recorded when collect saw it
    future = future.rename(inbound / future.name.replace(future.name.split("+")[2], "9000-01-01 00:00:00 UTC"))
    ran = subprocess.run([sys.executable, "-m", "autograder", "serve", "--once"], cwd=site["course"],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert f"298 more entries written by {hostile_student}" in ran.stderr and ran.stderr.count("Not collected") < 10
    later = submit(site, honest, "one_mistake_per_exercise").name
    mine = submit(site, other, "one_mistake_per_exercise").name
    ran = subprocess.run([sys.executable, "-m", "autograder", "serve", "--once"], cwd=site["course"],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr[-3000:]
    graded = {e["entry"]: e for e in journal(site) if e["event"] == "graded"}
    assert graded[future.name]["score"] == 12 and graded[later]["score"] == 8.5 and graded[mine]["score"] == 8.5
    assert not [e for e in journal(site) if e["event"] == "failed"]
    assert auto_scores(site)[honest] == 8.5
    assert not set(odd) & set(os.listdir(inbound))  # all set aside


def test_an_entry_made_after_collect_listed_inbound_is_never_taken_as_anothers(site, monkeypatch):
    """A hostile student renames a folder of their own into another's name while collect runs: collect lists
    inbound once, and copies only files the named student owns."""
    from autograder import exchange
    from autograder.autograde import course_api

    victim, hostile_student = STUDENTS[13], STUDENTS[14]
    submit(site, victim, "passes_all")
    prepared = submit(site, hostile_student, "one_mistake_per_exercise")
    forged = site["inbound"] / f"{victim}+{A}+2026-12-07 23:59:00.000000 UTC+f0"
    listed = exchange.CheckedCollect.problem_with

    def rename_after_the_listing(self, inbound, name):
        if prepared.exists():
            prepared.rename(forged)
        return listed(self, inbound, name)
    monkeypatch.setattr(exchange.CheckedCollect, "problem_with", rename_after_the_listing)
    monkeypatch.chdir(site["course"])
    api = course_api()
    from nbgrader.utils import temp_attrs
    with temp_attrs(api.coursedir, student_id=victim):
        assert api.collect(A, update=True)["success"]
    collected = site["course"] / "submitted" / victim / A / f"{A}.ipynb"
    assert collected.read_bytes() == (site["samples"] / "passes_all.ipynb").read_bytes()
    monkeypatch.setattr(exchange.CheckedCollect, "problem_with", listed)
    with temp_attrs(api.coursedir, student_id=victim):
        assert api.collect(A, update=True)["success"]
    assert not forged.exists() and collected.read_bytes() == (site["samples"] / "passes_all.ipynb").read_bytes()


def test_a_collect_by_the_instructor_while_a_grading_is_recorded_is_graded_again(site, monkeypatch):
    """Found by a hostile review: the instructor's `nbgrader collect --update` landing between the service's check
    and nbgrader's copy paired the newer notebook's time with the older notebook's result."""
    from nbgrader.utils import temp_attrs

    from autograder import serve as service
    from autograder.cli import main

    student = STUDENTS[15]
    submit(site, student, "one_mistake_per_exercise")
    recorded, newer = service.Service.autograde, []

    def instructor_collects_first(self, who, graded):
        if not newer:
            newer.append(submit(site, student, "passes_all").name)
            with temp_attrs(self.api.coursedir, student_id=student):
                assert self.api.collect(A, update=True)["success"]
        return recorded(self, who, graded)
    monkeypatch.setattr(service.Service, "autograde", instructor_collects_first)
    monkeypatch.chdir(site["course"])
    assert main(["serve", "--once"]) == 0
    last = [e for e in journal(site) if e["event"] == "graded" and e["student"] == student][-1]
    assert last["entry"] == newer[0] and last["score"] == expected_points("passes_all")
    assert auto_scores(site)[student] == expected_points("passes_all")
