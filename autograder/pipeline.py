"""The whole grading flow, in order, as nbgrader preprocessors. nbgrader_config.py installs these lists.

Sanitize (nbgrader's own): fresh outputs, unique ids, our kernelspec, grade cells restored from the source.
Autograde: the kernel only runs and exports; the checks run afterwards in this process; nbgrader records scores.
"""
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds, GetGrades, LimitOutput,
    OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

from autograder.nbgrader_steps import ExecuteToTheEnd, FreshAnswerFolder, GradeExportedAnswers

SANITIZE = [
    ClearOutput,            # what the student's own run printed is not evidence
    DeduplicateIds,         # a duplicated cell id cannot shadow a grade cell
    OverwriteKernelspec,    # the grader's Python, not whatever the student's notebook names
    OverwriteCells,         # locked and test cells come back from the source, whatever the student did to them
    CheckCellMetadata,
]
AUTOGRADE = [
    FreshAnswerFolder,      # exports go to a new empty folder, outside the submission
    ExecuteToTheEnd,        # run top to bottom with per-cell timeouts; a dead kernel keeps what ran
    GradeExportedAnswers,   # the checks, in this process: scores and feedback into the test cells
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,         # nbgrader writes the scores to the gradebook (the single writer)
    AssignLatePenalties,
    CheckCellMetadata,
]
FEEDBACK = [
    GetGrades,
    CSSHTMLHeaderPreprocessor,
    ClearHiddenTests,       # students read every check's message and picture, never the hidden tests' source
]
