"""Do the course's permissions hold between real Unix users: students read nothing of the course (solutions,
gradebook, others' work), and no student can get a submission collected as another's?"""
import datetime
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from autograder.course_folder import hub_wide_nbgrader_settings
from tests.users import ALICE, BOB, CAROL, INSTRUCTOR, KIT, as_user, ensure_user, remove_user

pytestmark = [pytest.mark.slow,  # about a dozen nbgrader commands as three users: about a minute
              pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix users: run as root (CI does)")]
A = cfg.ASSIGNMENT_ID


@pytest.fixture(scope="module")
def site():
    """A shared exchange (1777), hub-wide nbgrader settings, and a course made by the instructor with init-course."""
    for user in (INSTRUCTOR, ALICE, BOB, CAROL):
        ensure_user(user)
    base = Path(tempfile.mkdtemp(prefix="latent_lab_site_", dir="/tmp"))
    base.chmod(0o755)
    (base / "kit").mkdir(mode=0o755)
    (base / "exchange").mkdir()
    (base / "exchange").chmod(0o1777)
    (base / "jupyter").mkdir(mode=0o755)
    (base / "jupyter" / "nbgrader_config.py").write_text(
        "c = get_config()\n" + "".join(f"{line}\n" for line in hub_wide_nbgrader_settings(base / "exchange")))
    (base / "jupyter" / "nbgrader_config.py").chmod(0o644)
    (base / "instructor").mkdir()
    shutil.chown(base / "instructor", INSTRUCTOR, INSTRUCTOR)
    site = {"base": base, "course": base / "instructor" / "course"}
    run(site, INSTRUCTOR, "-m", "autograder", "init-course", site["course"], "--exchange", base / "exchange")
    run(site, INSTRUCTOR, "-m", "nbgrader", "generate_assignment", A, cwd=site["course"])
    run(site, INSTRUCTOR, "-m", "nbgrader", "release_assignment", A, cwd=site["course"])
    yield site
    shutil.rmtree(base, ignore_errors=True)
    for user in (INSTRUCTOR, ALICE, BOB, CAROL):
        remove_user(user)


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


def test_collect_takes_each_students_own_files_as_data_at_the_time_it_saw_them(site):
    """A link to the course's solutions and a fifo in a submission are left out and named in that student's
    feedback; a back-dated submission is recorded (and late) at the time collect saw it; folders with odd names (a
    time that is not a date, extra '+' parts, a newline), a folder its owner made unreadable and a file posing as a
    submission are set aside while everyone else is collected; an empty submission is graded zero, not dropped; a
    student's own feedback-named page stops nobody's feedback; feedback release hands out the feedback page only."""
    course, inbound = site["course"], site["base"] / "exchange" / cfg.COURSE_ID / "inbound"
    solutions = course / "source" / A / f"{A}.ipynb"
    run(site, INSTRUCTOR, "-m", "nbgrader", "db", "assignment", "add", A, "--duedate=2026-01-01 00:00:00 UTC",
        cwd=course)
    for student in (ALICE, BOB, CAROL):
        shutil.rmtree(f"/home/{student}/{A}", ignore_errors=True)
        run(site, student, "-m", "nbgrader", "fetch_assignment", A)
    bob = f"{BOB}+{A}+2026-06-01 00:00:00.000000 UTC+links000"
    carol_empty, carol_locked = (f"{CAROL}+{A}+2026-06-0{day} 00:00:00.000000 UTC+carol000" for day in (1, 2))
    back_dated = f"{ALICE}+{A}+2020-01-01 00:00:00.000000 UTC+early000"
    made = [shell(BOB, f"mkdir '{inbound}/{bob}' && cp ~/{A}/{A}.ipynb '{inbound}/{bob}/' && "
                       f"ln -s '{solutions}' '{inbound}/{bob}/solutions.txt' && mkfifo '{inbound}/{bob}/pipe' && "
                       f"echo 5ecret > '{inbound}/{bob}/submission_secret.txt' && "
                       f"echo '<p>mine</p>' > '{inbound}/{bob}/{A}.html' && mkdir '{inbound}/{bob}/timestamp.txt' && "
                       f"mkdir '{inbound}/{BOB}+{A}+not-a-date+odd00000' && "
                       f"mkdir '{inbound}/{BOB}+{A}+2026-06-01 00:00:00 UTC+x+y+z' && "
                       f"mkdir \"{inbound}/$(printf '{ALICE}\\n+{A}+2026-06-03 00:00:00.000000 UTC+newline0')\" && "
                       f"echo x > '{inbound}/{ALICE}+{A}+2026-06-02 00:00:00.000000 UTC+file0000'"),
            shell(ALICE, f"mkdir '{inbound}/{back_dated}' && cp ~/{A}/{A}.ipynb '{inbound}/{back_dated}/' && "
                         f"echo '2020-01-01 00:00:00.000000 UTC' > '{inbound}/{back_dated}/timestamp.txt' && "
                         f"touch -d 2020-01-01 '{inbound}/{back_dated}' '{inbound}/{back_dated}'/*"),
            shell(CAROL, f"mkdir '{inbound}/{carol_empty}' '{inbound}/{carol_locked}' && "
                         f"cp ~/{A}/{A}.ipynb '{inbound}/{carol_locked}/' && chmod 0300 '{inbound}/{carol_locked}'")]
    assert all(m.returncode == 0 for m in made), [m.stderr for m in made]

    collect = run(site, INSTRUCTOR, "-m", "nbgrader", "collect", A, "--update", cwd=course)
    assert "'solutions.txt': a link" in collect.stderr and "'pipe': not a regular file" in collect.stderr
    assert "its time 'not-a-date' is not a date" in collect.stderr and "not a folder but a file" in collect.stderr
    assert "its name is not <student>+<assignment>+<time>+<random>" in collect.stderr  # the extra '+' parts
    assert f"claims to be {ALICE}\\n's submission but was written by {BOB}" in collect.stderr  # one line, escaped
    assert "its folder cannot be read" in collect.stderr and f"no {A}.ipynb in the submission" in collect.stderr
    remaining = set(os.listdir(inbound))
    for odd in (f"{BOB}+{A}+not-a-date+odd00000", f"{BOB}+{A}+2026-06-01 00:00:00 UTC+x+y+z", carol_locked,
                f"{ALICE}\n+{A}+2026-06-03 00:00:00.000000 UTC+newline0", f"{ALICE}+{A}+2026-06-02 00:00:00.000000 UTC+file0000"):
        assert odd not in remaining  # set aside as not-collected-...
    assert carol_empty in remaining
    submitted = {s: course / "submitted" / s / A for s in (ALICE, BOB, CAROL)}
    assert sorted(p.name for p in submitted[BOB].iterdir()) == sorted([f"{A}.ipynb", "timestamp.txt",
                                                                        "submission_secret.txt",
                                                                        "latent_lab_collect.json"])
    assert (submitted[ALICE] / "timestamp.txt").read_text().startswith(str(datetime.date.today().year))
    assert (submitted[BOB] / "timestamp.txt").is_file()  # bob's folder of that name: left out, never in the way
    assert "'timestamp.txt': collect writes this file itself" in collect.stderr  # bob's folder of that name
    assert not (submitted[ALICE] / "latent_lab_collect.json").exists()  # her Submit's timestamp.txt is not news

    run(site, INSTRUCTOR, "-m", "nbgrader", "autograde", A, cwd=course)
    scores = run(site, INSTRUCTOR, "-c", "from nbgrader.api import Gradebook\nwith Gradebook('sqlite:///gradebook.db') "
                 f"as gb: print(sorted(s.student.id for s in gb.assignment_submissions({A!r})), "
                 f"gb.find_submission({A!r}, {CAROL!r}).score)", cwd=course)
    assert scores.stdout.split("]")[0] + "]" == str(sorted([ALICE, BOB, CAROL]))  # the empty submission too
    assert float(scores.stdout.split("]")[1]) == 0
    late = run(site, INSTRUCTOR, "-c", "from nbgrader.api import Gradebook\nwith Gradebook('sqlite:///gradebook.db') "
               f"as gb: print(gb.find_submission({A!r}, {ALICE!r}).total_seconds_late)", cwd=course)
    assert float(late.stdout) > 0  # due 1 Jan 2026: the back-dated submission is late all the same
    run(site, INSTRUCTOR, "-m", "nbgrader", "generate_feedback", A, cwd=course)  # bob's own latent_space.html too
    assert "mine" not in (course / "feedback" / BOB / A / f"{A}.html").read_text()
    carol_page = (course / "feedback" / CAROL / A / f"{A}.html").read_text()
    assert f"{A}.ipynb: not in your submission" in carol_page
    run(site, INSTRUCTOR, "-m", "nbgrader", "release_feedback", A, "--student", BOB, cwd=course)
    (course / "feedback" / BOB / A / "solutions.html").write_text("<p>BEGIN SOLUTION</p>")  # were anything to get there
    run(site, INSTRUCTOR, "-m", "nbgrader", "release_feedback", A, "--student", BOB, cwd=course)
    released = list((site["base"] / "exchange" / cfg.COURSE_ID / "feedback").iterdir())
    assert len(released) == 1
    page = released[0].read_text()
    assert "Left out when your submission was collected" in page and "solutions.txt: a link" in page
    assert "BEGIN SOLUTION" not in page


def test_every_instructor_command_runs_as_the_instructor_on_a_course_nbgrader_graded(site):
    """Not only as root: nbgrader leaves the autograded files read-only (0444, the kept answers among them), which
    root ignores and the instructor does not. Graded above by `nbgrader autograde` as the instructor."""
    course = site["course"]
    kept = course / "autograded" / ALICE / A / "latent_lab_answers"
    assert kept.is_dir() and all(p.stat().st_mode & 0o222 == 0 for p in kept.iterdir())
    before = (kept / "graded.json").stat().st_ino
    run(site, INSTRUCTOR, "-m", "autograder", "regrade", A, "--feedback", cwd=course)
    assert (kept / "graded.json").stat().st_ino != before  # written anew, as the instructor, over the read-only one
    assert all(p.stat().st_uid == pwd.getpwnam(INSTRUCTOR).pw_uid and p.stat().st_mode & 0o222 == 0
               for p in kept.iterdir())
    run(site, INSTRUCTOR, "-m", "autograder", "report", A, "--out", course / "report.html", cwd=course)
    assert ALICE in (course / "report.html").read_text()
    run(site, INSTRUCTOR, "-m", "nbgrader", "export", "--to", course / "grades.csv", cwd=course)
    assert ALICE in (course / "grades.csv").read_text()
    run(site, INSTRUCTOR, "-m", "autograder", "autograde", A, "--student", ALICE, "--force", cwd=course)


def test_a_students_validate_gives_each_cell_the_graders_time(site):
    """Validate runs in the student's own server with the hub-wide settings: a cell of 35 s (nbgrader's default limit
    is 30 s) runs to its end, as it would when graded."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(35); print('slept')")])
    path = Path(f"/home/{ALICE}/slow_cell.ipynb")
    nbformat.write(notebook, path)
    shutil.chown(path, ALICE, ALICE)
    validated = run(site, ALICE, "-m", "nbgrader", "validate", path, check=False)
    assert "Timeout" not in validated.stdout + validated.stderr, validated.stdout[-2000:] + validated.stderr[-2000:]
    assert validated.returncode == 0, validated.stderr[-2000:]
