"""Grade one submission's exported answers: checks, then feedback. The one entry point nbgrader and the CLI share.

Answer export (in the kernel), checks (here) and score writing (nbgrader's SaveAutoGrades, or the CLI's
results.json) stay separate steps, so each can move (a sandbox, a Dask worker, a single gradebook writer).
"""
from dataclasses import dataclass
from pathlib import Path

import course_config as cfg
from autograder import feedback
from autograder.reference_answers import get_reference
from autograder.run_checks import load_all_answers, run_checks


@dataclass
class CellGrade:
    cell_id: str
    results: list
    html: str
    text: str

    @property
    def score(self) -> float:
        return feedback.score(self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results)


def grade_answers(answers_dir: Path, pictures: bool = True, stopped: str = "") -> dict:
    """{cell_id: CellGrade} for every graded cell of course_config.CHECK_POINTS."""
    answers = load_all_answers(answers_dir, stopped)
    results = run_checks(answers)
    reference = get_reference()
    grades = {}
    for cell_id, cell_results in results.items():
        cell_pictures = feedback.pictures_for(cell_id, answers[cell_id], reference) if pictures else []
        grades[cell_id] = CellGrade(cell_id, cell_results, feedback.html_report(cell_id, cell_results, cell_pictures),
                                    feedback.text_report(cell_id, cell_results))
    return grades


def not_run(reason: str) -> dict:
    """Every check failed with one reason: for a submission that could not be run at all."""
    from autograder.run_checks import CheckResult

    grades = {}
    for cell_id, checks in cfg.CHECK_POINTS.items():
        results = [CheckResult(cell_id, name, 0.0, points, reason) for name, points in checks.items()]
        grades[cell_id] = CellGrade(cell_id, results, feedback.html_report(cell_id, results),
                                    feedback.text_report(cell_id, results))
    return grades
