"""The whole grading flow, in order, as nbgrader preprocessors. nbgrader_config.py installs these lists, and the CLI
(and any worker) runs the very same lists through `Pipeline` below, so every way of grading grades alike.

Read: the submitted file, safely (a link, a fifo or garbage becomes a zero that says why).
Sanitize (nbgrader's own): fresh outputs, unique ids, our kernelspec, grade cells restored from the source.
Autograde: the executor runs the kernel in a sandbox and the checks in this process; nbgrader records scores.
"""
import functools
import shutil
import warnings
from pathlib import Path

import nbformat
import nbgrader.api
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades, LimitOutput, OverwriteKernelspec,
    SaveAutoGrades, SaveCells,
)
from nbgrader.utils import setenv
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

import course_config as cfg
from autograder import nbgrader_steps
from autograder.nbgrader_steps import (
    ClearHiddenTestsForFeedback, ForgetUnknownGradeCells, GradeInSandbox, RestoreCells, SubmissionReader, SubmitReceipt,
)
from autograder.submission import read_submission
from autograder.sandbox import temp_dir

READER = SubmissionReader   # reads the submitted file like the CLI: a link, a fifo or garbage becomes a zero with why
SANITIZE = [
    ClearOutput,            # what the student's own run printed is not evidence
    DeduplicateIds,         # a duplicated cell id cannot shadow a grade cell
    ForgetUnknownGradeCells,  # cell roles and points come from the source; invented grade cells become plain
    OverwriteKernelspec,    # the grader's Python, not whatever the student's notebook names
    RestoreCells,           # locked and test cells come back from the source, whatever the student did to them
    CheckCellMetadata,
]
AUTOGRADE = [
    GradeInSandbox,         # autograder/executor.py: sandboxed kernel, caps, sanitized outputs, checks, feedback
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,         # nbgrader writes the scores to the gradebook (the single writer)
    AssignLatePenalties,
    CheckCellMetadata,
]
FEEDBACK = [
    GetGrades,
    CSSHTMLHeaderPreprocessor,
    ClearHiddenTestsForFeedback,  # students read every check's message and picture, never the hidden tests' source
    SubmitReceipt,          # the grading service's receipt (autograder/serve.py); nothing otherwise
]
SETTINGS = Config({
    "RestoreCells": {"add_missing_cells": True},  # a deleted test cell comes back (and grades), never a lost grade
    "HTMLExporter": {"extra_template_basedirs": nbgrader_steps.HTML_TEMPLATES},  # feedback, formgrader: no MathJax CDN
})
# What `nbgrader generate_assignment` records of the source before it releases it (OverwriteCells restores from it).
RECORD = GenerateAssignment.class_traits()["preprocessors"].default()
RECORD = RECORD[:RECORD.index(SaveCells) + 1]


@functools.cache
def alembic_head() -> str:
    """The migration nbgrader stamps a new gradebook with, asked of alembic's API in this process. nbgrader's own
    get_alembic_version runs the `alembic` command for it: 1.5 CPU-s per new gradebook (each worker makes one), and
    it fails when that command is not on PATH."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    settings = AlembicConfig()
    settings.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(settings).get_current_head()


nbgrader.api.get_alembic_version = alembic_head  # every gradebook made where the pipeline is loaded (nbgrader too)


def run_steps(steps, nb, resources, config: Config):
    """As nbconvert's exporter runs a list: each step built from the config, applied only if enabled."""
    for step in steps:
        nb, resources = step(config=config)(nb, resources)
    return nb, resources


class Pipeline:
    """The lists above outside nbgrader's app: a gradebook of its own in a temporary folder holds the assignment as
    generate_assignment records it and each graded submission. The course's gradebook keeps one writer (nbgrader)."""

    def __init__(self, sandbox: str = None):
        self.config = Config(SETTINGS)
        self.config.GradeInSandbox.exit_on_machine_problem = False  # the caller stops its batch with the reason
        if sandbox:
            self.config.GradeInSandbox.sandbox = sandbox
        self.folder = temp_dir("latent_lab_gradebook_")
        self.db_url = f"sqlite:///{self.folder / 'gradebook.db'}"
        with Gradebook(self.db_url) as gradebook:
            gradebook.update_or_create_assignment(cfg.ASSIGNMENT_ID)
        (self.folder / "gradebook.db").chmod(0o600)  # student ids and scores: in a 0700 folder, and 0600 itself
        source = nbformat.read(cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb", 4)
        run_steps(RECORD, source, self.resources(None), self.config)

    def resources(self, student):
        return {"nbgrader": {"db_url": self.db_url, "assignment": cfg.ASSIGNMENT_ID, "notebook": cfg.ASSIGNMENT_ID,
                             "student": student}}

    def grade(self, nb, student: str):
        """Sanitize and autograde one read notebook (see read_submission); the executor's Graded, its score as
        nbgrader recorded it."""
        with Gradebook(self.db_url) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own ORM use on a new submission: harmless
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(cfg.ASSIGNMENT_ID, student)
        nb, resources = run_steps(SANITIZE, nb, self.resources(student), self.config)
        with setenv(NBGRADER_EXECUTION="autograde"):
            nb, resources = run_steps(AUTOGRADE, nb, resources, self.config)
        graded = resources["latent_lab_graded"]
        graded.notebook = nb if graded.notebook is not None else None
        with Gradebook(self.db_url) as gradebook:
            recorded = gradebook.find_submission_notebook(cfg.ASSIGNMENT_ID, cfg.ASSIGNMENT_ID, student).score
        if abs(recorded - graded.score) > 1e-9:  # the score written in the test cells is not the one checked
            raise RuntimeError(f"nbgrader recorded {recorded} for {student}, the checks gave {graded.score}")
        return graded

    def grade_file(self, path: Path, student: str = None, root: Path = None):
        graded = self.grade(read_submission(path, root), student or str(path))
        graded.name = Path(path).name
        return graded

    def close(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
