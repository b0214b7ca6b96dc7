"""Grade one submission's exported answers: checks, then feedback. The one entry point nbgrader and the CLI share.

Answer export (in the kernel), checks (here) and score writing (nbgrader's SaveAutoGrades, or the CLI's
results.json) stay separate steps, so each can move (a sandbox, a Dask worker, a single gradebook writer).
"""
from pathlib import Path

import course_config as cfg
from autograder import feedback
from autograder.reference_answers import get_reference
from autograder.results import CellGrade, CheckResult
from autograder.run_checks import load_all_answers, run_checks


def grade_answers(answers_dir: Path, pictures=True, stopped: str = "", raised: dict = None) -> dict:
    """{cell_id: CellGrade} for every graded cell of course_config.CHECK_POINTS.

    pictures: draw them (True), none (False), or {cell_id: [(caption, png)]} to show instead (a regrade).
    stopped: why the run ended early; raised: {cell_id: the error its solution cell raised} (the executor's words)."""
    answers = load_all_answers(answers_dir, stopped)
    results = once_per_cause(name_the_cause(run_checks(answers), raised or {}))
    reference = get_reference()
    grades = {}
    for cell_id, cell_results in results.items():
        if isinstance(pictures, dict):  # a regrade: the answers, hence the pictures, are those drawn before
            cell_pictures = pictures.get(cell_id, [])
        else:
            cell_pictures = feedback.pictures_for(cell_id, answers[cell_id], reference) if pictures else []
        notes = feedback.notes_for(cell_id, answers[cell_id])
        grades[cell_id] = CellGrade(cell_id, cell_results, feedback.html_report(cell_id, cell_results, cell_pictures,
                                                                                notes),
                                    feedback.text_report(cell_id, cell_results, notes), tuple(notes),
                                    tuple(tuple(p) for p in cell_pictures))
    return grades


def name_the_cause(results: dict, raised: dict) -> dict:
    """When a solution cell raised, its failed checks say so: the first names the error, the others point to it,
    so a student who filled in the TODO is never told to fill it in."""
    for cell_id, error in raised.items():
        failed = [r for r in results.get(cell_id, []) if not r.passed]
        for i, result in enumerate(failed):
            result.message = (f"Your `{cell_id}` cell raised {error}, so it stopped before it finished and this "
                              "check had nothing complete to grade: fix that error and run the cell again." if i == 0 else
                              f"Same cause: the `{cell_id}` cell raised {error.split(':')[0]} (see above).")
    return results


def once_per_cause(results: dict) -> dict:
    """A cause is told once per exercise: a later failed check with the very same message points to the first."""
    for cell_results in results.values():
        first = {}
        for result in cell_results:
            if not result.passed and result.message and not result.message.startswith("Same cause"):
                if result.message in first:
                    result.message = f"Same cause as `{first[result.message]}` above."
                else:
                    first[result.message] = result.name
    return results


def not_run(reason: str) -> dict:
    """Every check failed with one reason: for a submission that could not be run at all."""
    grades = {}
    for cell_id, checks in cfg.CHECK_POINTS.items():
        results = [CheckResult(cell_id, name, 0.0, points, reason) for name, points in checks.items()]
        grades[cell_id] = CellGrade(cell_id, results, feedback.html_report(cell_id, results),
                                    feedback.text_report(cell_id, results))
    return grades
