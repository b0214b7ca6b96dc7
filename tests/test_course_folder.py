"""Does init-course make a course folder of its own, private to the instructor, that nbgrader grades from, and
refresh it without losing anything graded?"""
import stat
import subprocess
import sys

import pytest

import course_config as cfg
from autograder import course_folder

KIT = cfg.COURSE_ROOT


def init(*args, cwd=KIT):
    return subprocess.run([sys.executable, "-m", "autograder", "init-course", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_a_new_course_is_the_instructors_alone_and_nbgrader_releases_from_it(tmp_path):
    course = tmp_path / "course"
    run = init(course, "--exchange", tmp_path / "exchange")
    assert run.returncode == 0, run.stderr
    assert f"c.CourseDirectory.root = '{course}'" in run.stdout and "LATENT_LAB_DATA" in run.stdout
    for path in [course, *course.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path  # nothing for group or others
    notebook = course / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    assert "BEGIN SOLUTION" in notebook.read_text()
    assert not (course / "source" / cfg.ASSIGNMENT_ID / "vae.pt").is_symlink()  # a copy, not a link into the kit
    assert "submitted/" in (course / ".gitignore").read_text()
    nbgrader = subprocess.run([f"{sys.prefix}/bin/nbgrader", "generate_assignment", cfg.ASSIGNMENT_ID], cwd=course,
                              capture_output=True, text=True, timeout=300)
    assert nbgrader.returncode == 0, nbgrader.stderr[-2000:]
    released = course / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text()
    assert (course / "gradebook.db").exists()  # the course keeps its own gradebook


def test_rerunning_refreshes_the_source_and_never_touches_students_work(tmp_path):
    course = course_folder.init_course(tmp_path / "course")
    (course / "submitted" / "ada" / cfg.ASSIGNMENT_ID).mkdir(parents=True)
    work = course / "submitted" / "ada" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    work.write_text("ada's work")
    (course / "gradebook.db").write_text("grades")
    stale = course / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    stale.write_text("an old source")
    course_folder.init_course(course)
    assert work.read_text() == "ada's work" and (course / "gradebook.db").read_text() == "grades"
    assert "BEGIN SOLUTION" in stale.read_text()


@pytest.mark.parametrize("where", ["kit", "not_a_course"])
def test_it_refuses_the_kit_and_a_folder_that_is_not_a_course_and_writes_nothing(tmp_path, where):
    folder = KIT / "lesson" if where == "kit" else tmp_path / "photos"
    if where == "not_a_course":
        folder.mkdir()
        (folder / "holiday.jpg").write_text("x")
    before = sorted(p.name for p in folder.iterdir())
    run = init(folder)
    assert run.returncode == 2
    assert ("inside the kit" if where == "kit" else "not a course folder") in run.stderr
    assert sorted(p.name for p in folder.iterdir()) == before
