"""The whole grading flow, in order, as nbgrader preprocessors. nbgrader_config.py installs these lists.

Sanitize (nbgrader's own): fresh outputs, unique ids, our kernelspec, grade cells restored from the source.
Autograde: the executor runs the kernel in a sandbox and the checks in this process; nbgrader records scores.
"""
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds, GetGrades, LimitOutput,
    OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

from autograder.nbgrader_steps import ForgetUnknownGradeCells, GradeInSandbox, SubmissionReader

READER = SubmissionReader   # reads the submitted file like the CLI: a link, a fifo or garbage becomes a zero with why
SANITIZE = [
    ClearOutput,            # what the student's own run printed is not evidence
    DeduplicateIds,         # a duplicated cell id cannot shadow a grade cell
    ForgetUnknownGradeCells,  # cell roles and points come from the source; invented grade cells become plain
    OverwriteKernelspec,    # the grader's Python, not whatever the student's notebook names
    OverwriteCells,         # locked and test cells come back from the source, whatever the student did to them
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
    ClearHiddenTests,       # students read every check's message and picture, never the hidden tests' source
]
