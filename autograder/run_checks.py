"""Run the pytest checks over one submission's exported answers, in this (the grader's) process.

    answers = load_all_answers(answers_dir)   # {cell_id: {name: Answer}}, or a stand-in saying why not
    results = run_checks(answers)             # {cell_id: [CheckResult, ...]} for every graded cell

Never raises for anything a submission does: a missing export, an unreadable file or a check that crashes on
a strange value all become failed checks with a message, so every submission ends with a grade and feedback.
"""
import contextlib
import io
import logging
from pathlib import Path

import pytest

import course_config as cfg
from autograder.answers import ExportUnreadable, load_cell_answers
from autograder.compare import CheckFailed, PassedBecause
from autograder.reference_answers import get_reference
from autograder.results import CheckResult
from autograder import settings
from autograder.printable import printable
from autograder.errors import MachineProblem

CHECKS_DIR = Path(__file__).parent / "checks"
log = logging.getLogger(__name__)


class _NotExported:
    """Stands in for a cell's answers when it exported nothing; every lookup fails with the reason."""

    def __init__(self, reason):
        self.reason = reason

    def get(self, name):
        raise CheckFailed(self.reason)


class ChecksBroken(MachineProblem):
    """The checks themselves cannot run (a module that fails to import, a check without points): the kit's fault,
    so grading stops with the traceback instead of giving every student 0."""


def cell_of(checks_module) -> str:
    """autograder/checks/test_<cell>.py checks <cell>."""
    return Path(checks_module.__file__).stem.removeprefix("test_")


class _ChecksPlugin:
    """Gives the checks their `student` and `reference` fixtures and records each outcome."""

    def __init__(self, answers_by_cell, reference):
        self.answers_by_cell = answers_by_cell
        self.reference_value = reference
        self.outcomes = {}  # (cell, check) -> (passed, message: '' or why it passed or failed)
        self.collected = set()  # (cell, check)
        self.broken = []  # collection errors, with their tracebacks

    def pytest_collectreport(self, report):
        if report.failed:
            self.broken.append(f"{report.nodeid}:\n{report.longreprtext}")

    def pytest_collection_modifyitems(self, items):
        self.collected = {(cell_of(item.module), item.name.removeprefix("test_")) for item in items}

    @pytest.fixture
    def student(self, request):
        return self.answers_by_cell[cell_of(request.module)]

    @pytest.fixture
    def reference(self):
        return self.reference_value

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or call.excinfo is not None:
            key = (cell_of(item.module), item.name.removeprefix("test_"))
            if call.excinfo is None:
                self.outcomes.setdefault(key, (True, ""))
            elif isinstance(call.excinfo.value, PassedBecause):
                self.outcomes[key] = (True, str(call.excinfo.value))
            elif isinstance(call.excinfo.value, CheckFailed):
                self.outcomes[key] = (False, str(call.excinfo.value) or "failed")
            else:  # a crash in a check on an odd value: the student still gets a reason, not a traceback
                err = call.excinfo.value
                self.outcomes[key] = (False, f"The grader could not check this value ({type(err).__name__}: {err}).")
                where = call.excinfo.traceback[-1]  # for the instructor: a check that crashes on many students is a bug
                log.warning("check %s of %s raised %s at %s:%d; the student is told the grader could not check it",
                            key[1], key[0], printable(f"{type(err).__name__}: {err}")[:300], Path(str(where.path)).name,
                            where.lineno + 1)


def _load_answers(answers_dir: Path, cell_id: str, stopped: str):
    try:
        answers = load_cell_answers(answers_dir, cell_id)
    except ExportUnreadable as err:
        return _NotExported(f"The grader could not read this cell's answers ({err}).")
    if answers is None and stopped:
        return _NotExported(f"Nothing was graded: the run stopped before this cell's hidden test, because {stopped}. "
                            "Credit earned before that is kept.")
    if answers is None:
        return _NotExported("Nothing was graded: this cell's hidden test never ran, so the cell or one before "
                            "it failed, timed out, or the kernel died. Run the whole notebook top to bottom "
                            "(Kernel > Restart Kernel and Run All Cells) and fix the first error.")
    return answers


def load_all_answers(answers_dir: Path, stopped: str = "") -> dict:
    """stopped: why the run ended early (the executor's words), named in every check it left ungraded."""
    return {cell_id: _load_answers(Path(answers_dir), cell_id, stopped) for cell_id in cfg.CHECK_POINTS}


def run_checks(answers: dict) -> dict:
    settings.require()  # cheap: a setting changed since the process started stops here too
    plugin = _ChecksPlugin(answers, get_reference())
    args = [str(CHECKS_DIR / f"test_{cell_id}.py") for cell_id in cfg.CHECK_POINTS]
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        # no:unraisableexception: its teardown runs gc.collect() twice, 0.5 CPU-s per submission with torch loaded;
        # --tb=native: pytest's own traceback formatting took 0.08 s per failed check (the message is read directly)
        code = pytest.main([*args, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:unraisableexception",
                            "--tb=native", "--rootdir", str(CHECKS_DIR),
                            "-c", str(CHECKS_DIR / "pytest.ini")], plugins=[plugin])
    declared = {(cell_id, name) for cell_id, checks in cfg.CHECK_POINTS.items() for name in checks}
    if plugin.broken or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise ChecksBroken("the grader's checks could not run (pytest exit code "
                           f"{int(code)}):\n" + "\n".join(plugin.broken or [output.getvalue()[-3000:]]))
    if plugin.collected != declared:
        raise ChecksBroken("course_config.CHECK_POINTS and the checks in autograder/checks disagree: checks without "
                           f"points {sorted(plugin.collected - declared)}, points without a check "
                           f"{sorted(declared - plugin.collected)}. Give every test_<check> its points there.")
    results = {}
    for cell_id, checks in cfg.CHECK_POINTS.items():
        results[cell_id] = []
        for name, max_points in checks.items():
            passed, message = plugin.outcomes[(cell_id, name)]
            points = max_points if passed else 0.0
            results[cell_id].append(CheckResult(cell_id, name, points, max_points, message))
    return results
