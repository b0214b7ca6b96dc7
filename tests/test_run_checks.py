"""The checks fail loudly: a check module that cannot be imported, or points and checks that disagree, stop grading
with the reason instead of giving every student 0 (mistyped settings: tests/test_settings.py)."""
import shutil
import sys

import pytest

import course_config as cfg
from autograder import run_checks, settings
from autograder.run_checks import ChecksBroken, load_all_answers


@pytest.fixture
def checks_copy(tmp_path, monkeypatch):
    folder = tmp_path / "checks"
    shutil.copytree(run_checks.CHECKS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(run_checks, "CHECKS_DIR", folder)
    yield folder
    for name in [n for n, m in sys.modules.items() if str(folder) in str(getattr(m, "__file__", ""))]:
        del sys.modules[name]  # the copy's modules, so a later copy imports afresh


def test_a_check_module_that_fails_to_import_stops_grading_with_its_traceback(tmp_path, checks_copy):
    module = checks_copy / "test_ex4_grid.py"
    module.write_text("import a_module_that_does_not_exist\n" + module.read_text())
    with pytest.raises(ChecksBroken, match="(?s)test_ex4_grid.py.*No module named 'a_module_that_does_not_exist'"):
        run_checks.run_checks(load_all_answers(tmp_path))


def test_points_without_a_check_stop_grading(tmp_path, monkeypatch):
    points = {cell: dict(checks) for cell, checks in cfg.CHECK_POINTS.items()}
    points["ex4_grid"]["colour"] = 1.0
    monkeypatch.setattr(cfg, "CHECK_POINTS", points)
    with pytest.raises(settings.SettingsWrong, match=r"CHECK_POINTS\['ex4_grid'\] must give points to the checks of "
                       r"autograder/checks/test_ex4_grid.py: checks without points \[\], points without a check \['colour'\]"):
        run_checks.run_checks(load_all_answers(tmp_path))


def test_a_check_that_crashes_tells_the_student_and_warns_the_instructor(tmp_path, checks_copy, caplog):
    module = checks_copy / "test_ex4_grid.py"
    module.write_text(module.read_text().replace("def test_cells(student, reference):\n",
                                                 "def test_cells(student, reference):\n    int('x')\n"))
    results = run_checks.run_checks(load_all_answers(tmp_path))
    cells = next(r for r in results["ex4_grid"] if r.name == "cells")
    assert cells.points == 0 and "The grader could not check this value (ValueError" in cells.message
    assert "check cells of ex4_grid raised ValueError: invalid literal" in caplog.text and "test_ex4_grid.py" in caplog.text


def test_the_shipped_checks_run(tmp_path):
    results = run_checks.run_checks(load_all_answers(tmp_path))
    assert {cell: [r.name for r in rs] for cell, rs in results.items()} == \
        {cell: list(checks) for cell, checks in cfg.CHECK_POINTS.items()}
