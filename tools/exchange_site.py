"""A course with a real nbgrader exchange and students who submit into it, for the grading service's test and
benchmark (tests/test_serve.py, benchmarks/serve_latency.py). As root: the students are Unix users.

A submission is what `nbgrader submit` leaves in inbound: a folder of the student's named
<student>+<assignment>+<time>+<random>, holding the notebook, timestamp.txt and submission_secret.txt.
"""
import datetime
import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import course_config as cfg
from autograder.course_folder import init_course
from tools.course import nbgrader

A = cfg.ASSIGNMENT_ID


def make_site(base: Path) -> dict:
    """A shared exchange (1777) and a course made by init-course, with the assignment generated and released."""
    (base / "exchange").mkdir(parents=True)
    (base / "exchange").chmod(0o1777)
    course = init_course(base / "course", str(base / "exchange"))
    nbgrader(course, "generate_assignment", A, "--force")
    nbgrader(course, "release_assignment", A, "--force")
    (base / "samples").mkdir()
    return {"base": base, "course": course, "samples": base / "samples",
            "inbound": base / "exchange" / cfg.COURSE_ID / "inbound",
            "feedback": base / "exchange" / cfg.COURSE_ID / "feedback"}


def submit(site: dict, student: str, sample: str, as_student: str = None) -> Path:
    """The sample notebook submitted by the student (as_student: a folder made by another in the student's name)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    entry = site["inbound"] / f"{student}+{A}+{stamp}+{secrets.token_hex(4)}"
    entry.mkdir()
    shutil.copy(site["samples"] / f"{sample}.ipynb", entry / f"{A}.ipynb")
    (entry / "timestamp.txt").write_text(stamp)
    (entry / "submission_secret.txt").write_text(secrets.token_hex(64))
    for path in (entry, *entry.iterdir()):
        shutil.chown(path, as_student or student, as_student or student)
    return entry


def serve(site: dict, *args, log_name: str = "service.log") -> subprocess.Popen:
    """`python -m autograder serve ARGS` from the course root, its output appended to base/log_name."""
    log = open(site["base"] / log_name, "a")
    return subprocess.Popen([sys.executable, "-m", "autograder", "serve", *args], cwd=site["course"], stdout=log,
                            stderr=subprocess.STDOUT)


def journal(site: dict) -> list:
    path = site["course"] / "latent_lab_service" / f"{A}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def released(site: dict) -> set:
    return {e["entry"] for e in journal(site) if e["event"] == "released"}
