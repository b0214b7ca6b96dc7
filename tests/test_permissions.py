"""Do the course's permissions hold between real Unix users: students read nothing of the course (solutions,
gradebook, others' work), and no student can get a submission collected as another's?"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import course_config as cfg
from tests.users import KIT, as_user, ensure_user

pytestmark = [pytest.mark.slow,  # about a dozen nbgrader commands as three users: about a minute
              pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix users: run as root (CI does)")]
INSTRUCTOR, ALICE, BOB = "latentlab-instructor", "latentlab-alice", "latentlab-bob"
A = cfg.ASSIGNMENT_ID


@pytest.fixture(scope="module")
def site():
    """A shared exchange (1777), hub-wide nbgrader settings, and a course made by the instructor with init-course."""
    for user in (INSTRUCTOR, ALICE, BOB):
        ensure_user(user)
    base = Path(tempfile.mkdtemp(prefix="latent_lab_site_", dir="/tmp"))
    base.chmod(0o755)
    (base / "kit").mkdir(mode=0o755)
    (base / "exchange").mkdir()
    (base / "exchange").chmod(0o1777)
    (base / "jupyter").mkdir(mode=0o755)
    (base / "jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {cfg.COURSE_ID!r}\n"
        f"c.Exchange.root = {str(base / 'exchange')!r}\n")
    (base / "jupyter" / "nbgrader_config.py").chmod(0o644)
    (base / "instructor").mkdir()
    shutil.chown(base / "instructor", INSTRUCTOR, INSTRUCTOR)
    site = {"base": base, "course": base / "instructor" / "course"}
    run(site, INSTRUCTOR, "-m", "autograder", "init-course", site["course"], "--exchange", base / "exchange")
    run(site, INSTRUCTOR, "-m", "nbgrader", "generate_assignment", A, cwd=site["course"])
    run(site, INSTRUCTOR, "-m", "nbgrader", "release_assignment", A, cwd=site["course"])
    yield site
    shutil.rmtree(base, ignore_errors=True)


def run(site, user, *args, cwd=None, check=True):
    """python ARGS as `user`, from cwd (default: the user's home), with the hub-wide nbgrader settings."""
    python = site["base"] / "kit" / Path(sys.executable).relative_to(KIT) if Path(sys.executable).is_relative_to(KIT) \
        else Path(sys.executable)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": f"/home/{user}", "PYTHONPATH": str(site["base"] / "kit"),
           "JUPYTER_CONFIG_PATH": str(site["base"] / "jupyter"), "LATENT_LAB_DATA": str(cfg.DATA_DIR)}
    done = subprocess.run([*as_user(user, site["base"] / "kit"), "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                           str(python), *map(str, args)], cwd=cwd or f"/home/{user}", capture_output=True, text=True,
                          timeout=300)
    if check:
        assert done.returncode == 0, f"{user}: {args}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def shell(user, command):
    return subprocess.run(["runuser", "-u", user, "--", "sh", "-c", command], capture_output=True, text=True,
                          timeout=60)


def test_a_forged_submission_is_never_collected_as_anothers(site):
    for student in (ALICE, BOB):
        shutil.rmtree(f"/home/{student}/{A}", ignore_errors=True)
        run(site, student, "-m", "nbgrader", "fetch_assignment", A)
        with open(f"/home/{student}/{A}/{A}.ipynb") as f:
            assert "BEGIN SOLUTION" not in f.read()
    shell(ALICE, f"sed -i 's/TODO/TODO (alice wrote this)/' ~/{A}/{A}.ipynb")
    run(site, ALICE, "-m", "nbgrader", "submit", A)
    run(site, BOB, "-m", "nbgrader", "submit", A)
    # bob writes a later submission under alice's name straight into the exchange (it is 1777 and inbound 733)
    forged = f"{ALICE}+{A}+2099-01-01 00:00:00.000000 UTC+forged00"
    inbound = site["base"] / "exchange" / cfg.COURSE_ID / "inbound"
    made = shell(BOB, f"mkdir '{inbound}/{forged}' && cp ~/{A}/{A}.ipynb '{inbound}/{forged}/' && "
                      f"echo '2099-01-01 00:00:00.000000 UTC' > '{inbound}/{forged}/timestamp.txt'")
    assert made.returncode == 0, made.stderr  # nbgrader's exchange lets him: the check has to be at collect
    collect = run(site, INSTRUCTOR, "-m", "nbgrader", "collect", A, cwd=site["course"])
    assert f"claims to be {ALICE}'s submission but was written by {BOB}" in collect.stderr
    collected = site["course"] / "submitted" / ALICE / A / f"{A}.ipynb"
    assert "alice wrote this" in collected.read_text()
    assert "2099" not in (collected.parent / "timestamp.txt").read_text()
    assert (site["course"] / "submitted" / BOB / A / f"{A}.ipynb").exists()
    kept = {p.name for p in collected.parent.iterdir()}
    assert not kept & {"vae.pt", "latent_lab_contract.py"}, kept  # unchanged shipped files: not kept per student


def test_students_read_nothing_of_the_course_and_write_nothing_in_it(site):
    course = site["course"]
    run(site, INSTRUCTOR, "-m", "nbgrader", "generate_assignment", A, "--force", cwd=course)  # the gradebook exists
    (course / "submitted" / BOB).mkdir(parents=True, exist_ok=True)
    shutil.chown(course / "submitted" / BOB, INSTRUCTOR, INSTRUCTOR)
    for what in (course, course / "source" / A / f"{A}.ipynb", course / "gradebook.db", course / "submitted" / BOB):
        assert what.exists()
        tried = shell(ALICE, f"ls '{what}' || cat '{what}'; touch '{course}/submitted/{BOB}/by_alice'")
        assert "Permission denied" in tried.stderr, what
    assert not (course / "submitted" / BOB / "by_alice").exists()
