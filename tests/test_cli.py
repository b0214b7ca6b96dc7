"""Does the standalone CLI survive broken input and restore what students may not change?"""
import nbformat
import pytest

import course_config as cfg
from autograder import cli, executor, grade_files
from autograder.submission import SOURCE_NOTEBOOK
from tools import corpus

RELEASE = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"


def grade_ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_a_broken_file_still_gets_a_grade_and_a_reason(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [ this is not json')
    submission = grade_files.grade_file(broken, tmp_path / "out")
    assert submission.score == 0 and submission.max_score == corpus.TOTAL
    assert "not a readable notebook" in submission.problem
    result = grade_files.results_json(submission)
    checks = sum(len(points) for points in cfg.CHECK_POINTS.values())
    assert len(result["tests"]) == checks and all("not a readable notebook" in t["output"] for t in result["tests"])


def test_missing_path_exits_2(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nope.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_locked_and_test_cells_are_restored_and_a_deleted_test_cell_comes_back(pipeline):
    """nbgrader's own sanitize steps, as the CLI runs them: what a student did to protected cells is undone."""
    nb = corpus.notebook("passes_all")
    cells = dict(zip(grade_ids(nb), nb.cells))
    cells["ex3_arithmetic_tests"].source = "pass  # the student emptied the visible tests"
    cells["load_model"].source += "\nmodel = None  # and broke the locked cell"
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "ex4_grid_tests"]
    graded = pipeline.grade(nb, "tampered")
    assert graded.score == corpus.TOTAL
    ids = grade_ids(graded.notebook)
    assert ids.index("ex4_grid_tests") == ids.index("ex4_grid") + 1
    source = dict(zip(grade_ids(nbformat.read(SOURCE_NOTEBOOK, 4)), nbformat.read(SOURCE_NOTEBOOK,
                                                                                           4).cells))
    restored = dict(zip(ids, graded.notebook.cells))
    assert restored["load_model"].source == source["load_model"].source
    assert "BEGIN HIDDEN TESTS" in restored["ex3_arithmetic_tests"].source


def test_a_duplicated_grade_cell_id_cannot_shadow_the_real_one(pipeline):
    nb = corpus.notebook("one_mistake_per_exercise")
    impostor = nbformat.v4.new_code_cell("print('fake tests')", metadata={"nbgrader": dict(
        nb.cells[grade_ids(nb).index("ex3_arithmetic_tests")].metadata.nbgrader)})
    nb.cells.insert(0, impostor)
    graded = pipeline.grade(nb, "impostor")
    assert graded.score == sum(corpus.expected("one_mistake_per_exercise")["points"].values())
    assert grade_ids(graded.notebook).count("ex3_arithmetic_tests") == 1
    assert all("fake tests" not in c.source for c in graded.notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "ex3_arithmetic_tests")


def test_results_json_has_gradescopes_shape(tmp_path):
    from autograder.grade import not_run

    submission = executor.Graded(None, not_run("why"), name="x.ipynb")
    result = grade_files.results_json(submission)
    assert set(result) >= {"score", "max_score", "tests"}
    assert set(result["tests"][0]) == {"name", "score", "max_score", "output", "visibility"}


def test_the_scratch_gradebook_carries_nbgraders_own_alembic_stamp(pipeline):
    """The pipeline asks alembic's API in-process; nbgrader's way (the `alembic` command) must give the same head,
    or a gradebook it made would look out of date to `nbgrader db upgrade`."""
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/unused.db") as ini:
        heads = subprocess.run([Path(sys.executable).parent / "alembic", "-c", ini, "heads"], check=True,
                               capture_output=True, text=True).stdout
    with sqlite3.connect(pipeline.folder / "gradebook.db") as db:
        (stamp,), = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert heads.split()[0] == stamp


FORGED = "\x1b[2J\x1b]0;pwned\x07\nh6_untouched.ipynb: 12 / 12\r"


def test_nothing_a_student_wrote_reaches_the_terminal_raw(tmp_path):
    """A file name with a newline and an exception message with ANSI/OSC escapes cannot clear the screen, set the
    title or forge a line of the CLI's report or log."""
    import subprocess
    import sys

    nb = corpus.notebook("passes_all")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex4_grid")
    cell.source = f"raise RuntimeError({FORGED!r})"
    folder = tmp_path / "class"
    folder.mkdir()
    named = FORGED.replace("/", "of")  # a file name cannot hold a slash
    nbformat.write(nb, folder / f"evil{named}.ipynb")
    (folder / f"garbage{named}.ipynb").write_text("not json")
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder)], cwd=cfg.COURSE_ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "\r" not in run.stdout  # stderr has tqdm's progress bar, which redraws with \r
    for stream in (run.stdout, run.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
        assert not any(line.lstrip().startswith("h6_untouched") for line in stream.splitlines())
    assert "RuntimeError: \\x1b[2J\\x1b]0;pwned\\x07\\nh6_untouched.ipynb: 12 / 12" in run.stdout
    without_ex4 = corpus.TOTAL - sum(cfg.CHECK_POINTS["ex4_grid"].values())  # the cell that raised
    assert f"evil\\x1b[2J\\x1b]0;pwned\\x07\\nh6_untouched.ipynb: 12 of 12\\r.ipynb: {without_ex4:g} / {corpus.TOTAL:g}" \
        in run.stdout


@pytest.mark.slow  # a grading process from scratch: ~25 s
def test_the_installed_command_grades_from_any_folder(tmp_path):
    """`latent-lab` (the console script make installs into .venv) and `python -m autograder` work from a folder
    that is not the kit's, as an instructor's terminal on the hub is."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "latent-lab"
    assert script.is_file(), "the kit is not installed in this environment: run `make venv`"
    corpus.write(tmp_path, ["passes_all"])
    graded = subprocess.run([str(script), "grade", "passes_all.ipynb", "--quiet", "--json", "r.json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr[-2000:]
    assert json.loads((tmp_path / "r.json").read_text())["passes_all.ipynb"]["score"] == corpus.TOTAL
    usage = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert usage.returncode == 0 and "regrade" in usage.stdout and "report" in usage.stdout
    assert subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120).stdout.startswith(
        "usage: latent-lab")
