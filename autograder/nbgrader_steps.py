"""The kit's own steps in nbgrader's autograde pipeline (see autograder/pipeline.py for the whole list).

FreshAnswerFolder  before Execute: the kernel exports answers into a new, empty folder outside the submission.
ExecuteToTheEnd    nbgrader's Execute, except that a dead kernel ends execution, not the grading.
GradeExportedAnswers after Execute: run the checks in this process and make each test cell's outputs the
                   feedback plus its score, which nbgrader's SaveAutoGrades then records.
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

import course_config as cfg
from autograder import export

ANSWERS_KEY = "latent_lab_answers_dir"
GRADES_KEY = "latent_lab_grades"  # {cell_id: CellGrade}, for callers other than nbgrader (the CLI)
SECONDS_KEY = "latent_lab_seconds"  # {"execute": s, "checks": s}: where grading time goes
EXPORTER = Path(export.__file__).resolve()


def kernel_environment(answers_dir) -> dict:
    """What the grading kernel needs to find: where to export, the exporter, and the data."""
    return {export.ANSWERS_DIR_ENV: str(answers_dir), "LATENT_LAB_EXPORTER": str(EXPORTER),
            "LATENT_LAB_DATA": str(cfg.DATA_DIR), "NBGRADER_EXECUTION": "autograde"}


def test_cell_answers() -> dict:
    """test cell grade_id -> the solution cell whose answers it grades."""
    return {f"{cell_id}_tests": cell_id for cell_id in cfg.CHECK_POINTS}


class FreshAnswerFolder(NbGraderPreprocessor):
    """Nothing a student submits can pose as an export: answers go to a new folder the submission never held."""

    def preprocess(self, nb, resources):
        answers_dir = tempfile.mkdtemp(prefix="latent_lab_answers_")
        resources[ANSWERS_KEY] = answers_dir
        os.environ.update(kernel_environment(answers_dir))  # the kernel Execute starts inherits these
        return nb, resources


class ExecuteToTheEnd(Execute):
    """If the kernel dies, the cells that ran keep their outputs and exports; the rest are marked not run.
    Locked cells that only draw pictures (course_config.SKIP_WHEN_GRADING) are not run at all."""

    def preprocess(self, nb, resources=None, km=None):
        self.died_at = None
        started = time.perf_counter()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            resources.setdefault(SECONDS_KEY, {})["execute"] = time.perf_counter() - started

    def preprocess_cell(self, cell, resources, index):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in cfg.SKIP_WHEN_GRADING:
            cell.outputs = [new_output("stream", name="stdout",
                                       text="(Not run by the autograder: this cell only draws a picture.)\n")]
            return cell, resources
        if self.died_at is not None:
            if cell.cell_type == "code":
                cell.outputs = []
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError as err:
            self.died_at = index
            self.log.warning("Kernel died in cell %d: %s", index, err)
            cell.outputs.append(new_output(
                "error", ename="KernelDied", evalue="the kernel died while running this cell",
                traceback=["The Python kernel died while running this cell (out of memory, os._exit, a crash in "
                           "native code...). Later cells did not run; credit earned before this cell is kept."]))
            return cell, resources


class GradeExportedAnswers(NbGraderPreprocessor):
    """Checks run here, in the grader's process, never in the student's kernel."""

    def preprocess(self, nb, resources):
        from autograder.grade import grade_answers  # torch and the reference load only when grading

        answers_dir = resources.get(ANSWERS_KEY)
        started = time.perf_counter()
        grades = resources[GRADES_KEY] = grade_answers(answers_dir)
        resources.setdefault(SECONDS_KEY, {})["checks"] = time.perf_counter() - started
        cells = test_cell_answers()
        for cell in nb.cells:
            cell_id = cells.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            if cell_id is None or cell.cell_type != "code":
                continue
            grade = grades[cell_id]
            # Only our outputs remain: a warning on stderr or a failed visible assert never decides the score.
            cell.outputs = [
                new_output("display_data", data={"text/html": grade.html, "text/plain": grade.text}),
                new_output("execute_result", data={"text/plain": f"{grade.score:g}"}, execution_count=None),
            ]
        if answers_dir:
            shutil.rmtree(answers_dir, ignore_errors=True)
        return nb, resources
