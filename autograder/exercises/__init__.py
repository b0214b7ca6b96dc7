"""The graded exercises, one module each: autograder/exercises/<cell id>.py for every cell in course_config's
CHECK_POINTS, its checks in autograder/checks/test_<cell id>.py. Nothing else lists exercises: the feedback, the
class report, the lesson's build and the README ask here.

An exercise module holds
    TITLE           the feedback's heading for the cell
    format_rules()  [(rule, variable, settings)]: the visible checks' rules (autograder/contract.py FORMAT_RULES)
    FORMAT_SUMMARY  what the visible check prints when they pass ({fact} fields from the rules' facts)
    pictures(answers, reference) -> [(caption, base64 PNG)]   drawn beside the table (may raise: then none)
    notes(answers) -> [str]         optional: said once under the table
    FORMAT_CHECKS   optional: the checks the visible format tests state (what "format" feedback on submit shows)
and the readers its checks, pictures and the report share.
"""
import importlib
from pathlib import Path

import course_config as cfg
from autograder.errors import MachineProblem

FOLDER = Path(__file__).parent
CHECKS = FOLDER.parent / "checks"
REQUIRED = {"TITLE": str, "FORMAT_SUMMARY": str, "format_rules": callable, "pictures": callable}


class ExerciseIncomplete(MachineProblem):
    """A graded cell the kit does not fully know: named at `make release` and before anyone is graded."""


def get(cell_id: str):
    """The exercise module of a graded cell, checked for what every exercise must have."""
    if cell_id not in cfg.CHECK_POINTS:
        raise ExerciseIncomplete(f"{cell_id!r} is not a graded cell: course_config.CHECK_POINTS has "
                                 f"{sorted(cfg.CHECK_POINTS)}")
    missing = [str(p.relative_to(FOLDER.parent.parent)) for p in (FOLDER / f"{cell_id}.py",
                                                                   CHECKS / f"test_{cell_id}.py") if not p.exists()]
    if missing:
        raise ExerciseIncomplete(f"course_config.CHECK_POINTS grades {cell_id!r}, but {' and '.join(missing)} "
                                 "do not exist: an exercise needs its module and its checks (see the maintainer's "
                                 "guide, \"An exercise\")")
    module = importlib.import_module(f"{__name__}.{cell_id}")
    wrong = [f"{name} ({'a function' if kind is callable else kind.__name__})" for name, kind in REQUIRED.items()
             if not (callable(getattr(module, name, None)) if kind is callable
                     else isinstance(getattr(module, name, None), kind))]
    if wrong:
        raise ExerciseIncomplete(f"{module.__file__} lacks {', '.join(wrong)}")
    return module


def every() -> list:
    """The exercise modules of every graded cell, in course_config's order."""
    return [get(cell_id) for cell_id in cfg.CHECK_POINTS]


def notes(exercise, answers) -> list:
    return exercise.notes(answers) if hasattr(exercise, "notes") else []
