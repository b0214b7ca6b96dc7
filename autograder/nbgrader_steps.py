"""The kit's own parts of nbgrader's autograde (see autograder/pipeline.py for the whole list).

SubmissionReader   nbgrader's exporter, except that it reads the submitted file as the executor does (no links, no
                   fifos, a size cap) and turns an unreadable file into the release notebook marked "not read", so
                   the student still gets a zero with the reason instead of vanishing from the gradebook.
ForgetUnknownGradeCells  cell roles come from the source; an invented grade cell becomes a plain one.
GradeInSandbox     replaces nbgrader's Execute: it hands the sanitized notebook to the one grading executor
                   (autograder/executor.py: sandboxed kernel, caps, checks in this process, feedback in the test
                   cells), so `nbgrader autograde` and `python -m autograder grade` grade every submission alike.
"""
import copy
import logging
import os
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import NbGraderPreprocessor

import course_config as cfg
from autograder import executor

log = logging.getLogger(__name__)
NOT_READ_KEY = "latent_lab_not_read"  # notebook metadata: why the submitted file was not read (SubmissionReader)


def kernel_environment(answers_dir) -> dict:
    """What an unsandboxed grading kernel needs to find: where to export, the exporter, and the data."""
    from autograder import contract

    return {contract.ANSWERS_DIR_ENV: str(answers_dir), "LATENT_LAB_EXPORTER": str(Path(contract.__file__).resolve()),
            "LATENT_LAB_DATA": str(cfg.DATA_DIR), "NBGRADER_EXECUTION": "autograde"}


class SubmissionReader(NotebookExporter):
    """Installed as c.Autograde.exporter_class: reads each submitted notebook safely, or stands in for it."""

    def from_filename(self, filename, resources=None, **kwargs):
        try:
            data = executor.read_submission_file(filename, Path(filename).parent)
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except ValueError as err:  # the executor's reasons: a link, a fifo, too big
            return self.stand_in(filename, resources, err, **kwargs)
        except Exception as err:  # noqa: BLE001  not UTF-8, not JSON, not a notebook, nested too deep
            return self.stand_in(filename, resources, ValueError(f"it is not a readable notebook "
                                                                 f"({type(err).__name__})"), **kwargs)
        autograded = os.path.join(os.path.abspath(self.parent.coursedir.root), "autograded", "")
        if not os.path.abspath(filename).startswith(autograded):
            nb.metadata.pop(NOT_READ_KEY, None)  # only the stand-in below may carry the mark
        return self.from_notebook_node(nb, resources, **kwargs)

    def stand_in(self, filename, resources, reason, **kwargs):
        """The release notebook, marked with why the submission was not read. nbgrader writes it to autograded/ and
        reads it back for its autograde pass, so the mark travels in the notebook; GradeInSandbox zeros it."""
        log.warning("%s: not read (%s)", filename, reason)
        release = Path(self.parent.coursedir.root, "release", resources["nbgrader"]["assignment"], Path(filename).name)
        if not release.is_file():  # never the source: its solutions would reach the student's feedback
            release = executor.RELEASE_NOTEBOOK
        nb = nbformat.read(release, as_version=4)
        nb.metadata[NOT_READ_KEY] = str(reason)
        return self.from_notebook_node(nb, resources, **kwargs)


class ForgetUnknownGradeCells(NbGraderPreprocessor):
    """Cell roles (grade, solution, locked, points) belong to the assignment, not to the submission: a cell with a
    grade id the source has gets the source's nbgrader metadata back, and one with an unknown grade id becomes a
    plain cell. nbgrader's OverwriteCells would otherwise fail on an invented grade cell, or on a solution cell
    marked as graded, and drop the whole student from the gradebook."""

    def preprocess(self, nb, resources):
        roles = {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
                 for cell in nbformat.read(executor.SOURCE_NOTEBOOK, as_version=4).cells if "nbgrader" in cell.metadata}
        for cell in nb.cells:
            if "nbgrader" not in cell.metadata:
                continue
            grade_id = cell.metadata["nbgrader"].get("grade_id")
            if grade_id in roles:
                cell.metadata["nbgrader"] = copy.deepcopy(roles[grade_id])
            else:
                log.warning("cell with unknown grade id %r: kept as a plain cell", str(grade_id)[:80])
                del cell.metadata["nbgrader"]
        return nb, resources


class GradeInSandbox(NbGraderPreprocessor):
    """Run and grade one submission through the executor; never raises for anything the submission does."""

    def preprocess(self, nb, resources):
        from autograder.sandbox import MachineProblem

        try:
            if NOT_READ_KEY in nb.metadata:  # a link, a fifo, not a notebook: nothing of it is run
                graded = executor.not_read(ValueError(nb.metadata[NOT_READ_KEY]))
            else:
                graded = executor.grade_notebook(nb)
        except MachineProblem as err:  # not the student's doing: stop the run with the reason; grades so far stay
            log.error("%s", err)
            raise SystemExit(2) from None
        if graded.notebook is None:  # not run: the restored notebook carries the reason in its test cells
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = []
            executor.write_feedback(nb, graded.grades, graded.sandbox)
        else:
            nb = graded.notebook
        return nb, resources
