"""The kit's own parts of nbgrader's autograde (see autograder/pipeline.py for the whole list).

SubmissionReader   nbgrader's exporter, except that it reads the submitted file with read_submission (no links, no
                   fifos, a size cap; an unreadable file becomes the release notebook marked "not read", so the
                   student still gets a zero with the reason instead of vanishing from the gradebook).
ForgetUnknownGradeCells  cell roles come from the source; an invented grade cell becomes a plain one.
GradeInSandbox     replaces nbgrader's Execute: it hands the sanitized notebook to the one grading executor
                   (autograder/executor.py: sandboxed kernel, caps, checks in this process, feedback in the test
                   cells); the CLI runs the same lists (autograder/pipeline.py), so both grade alike.
"""
import copy
import logging
import os
from pathlib import Path

import nbformat
import nbgrader
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from nbgrader.utils import compute_checksum
from traitlets import Bool, List, Unicode

import course_config as cfg
from autograder import executor, kept
from autograder.submission import LEFT_OUT_KEY, NOT_READ_KEY, SOURCE_NOTEBOOK, read_submission

log = logging.getLogger(__name__)
class SubmissionReader(NotebookExporter):
    """Installed as c.Autograde.exporter_class: reads each submitted notebook with read_submission. nbgrader writes
    the sanitized notebook to autograded/ and reads it back for its autograde pass: only there is the mark kept."""

    def from_filename(self, filename, resources=None, **kwargs):
        autograded = os.path.join(os.path.abspath(self.parent.coursedir.root), "autograded", "")
        nb = read_submission(filename, keep_mark=os.path.abspath(filename).startswith(autograded))
        return self.from_notebook_node(nb, resources, **kwargs)


class ForgetUnknownGradeCells(NbGraderPreprocessor):
    """Cell roles (grade, solution, locked, points) belong to the assignment, not to the submission: a cell with a
    grade id the source has gets the source's nbgrader metadata back, and one with an unknown grade id becomes a
    plain cell. nbgrader's OverwriteCells would otherwise fail on an invented grade cell, or on a solution cell
    marked as graded, and drop the whole student from the gradebook."""

    def preprocess(self, nb, resources):
        roles = {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
                 for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells if "nbgrader" in cell.metadata}
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


class RestoreCells(OverwriteCells):
    """nbgrader's OverwriteCells, without its warning that a test cell's checksum changed when the only change is
    the one the release made: the hidden tests it removed (three warnings per student in every autograde log that
    said nothing). Any other change is still reported, and every cell is restored from the source as before."""

    def preprocess_cell(self, cell, resources, index):
        self.submitted = cell
        return super().preprocess_cell(cell, resources, index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and new == self.released_checksum(name):
            return
        super().report_change(name, attr, old, new)

    def released_checksum(self, grade_id: str) -> str:
        source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
        released = copy.deepcopy(self.submitted)
        released.source = source.source
        ClearHiddenTests()._remove_hidden_test_region(released)
        return compute_checksum(released)


class ClearHiddenTestsForFeedback(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, taking the output priority nbconvert's HTML exporter sets for every step
    (nbgrader declares it not configurable, so each generate_feedback warned "Config option display_data_priority
    not recognized by ClearHiddenTests")."""

    display_data_priority = List(ClearHiddenTests.display_data_priority.default_value).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        """Also drops the bare score (`Out: 4`) under each autograded cell's table: nbgrader read it into the
        gradebook at autograde; the student reads the same number in the table's heading."""
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
        return cell, resources


class SubmitReceipt(NbGraderPreprocessor):
    """The grading service's receipt (time, attempt, feedback left today) as the feedback page's first cell; does
    nothing unless the service set `text` for the one generate_feedback it runs (autograder/serve.py)."""

    text = ""
    display_data_priority = List([]).tag(config=True)  # set by nbconvert for every step (see above); unused here

    def preprocess(self, nb, resources):
        if self.text:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(self.text))
        return nb, resources


class GradeInSandbox(NbGraderPreprocessor):
    """Run and grade one submission through the executor; never raises for anything the submission does. The
    executor's full result (every check's message) stays in resources for the CLI's results.json."""

    sandbox = Unicode(cfg.SANDBOX, help="bwrap, or none (no isolation: course_config.SANDBOX)").tag(config=True)
    exit_on_machine_problem = Bool(True, help="stop nbgrader's whole run (it would fail each student in turn); "
                                              "the kit's own runs catch MachineProblem instead").tag(config=True)

    def grade(self, nb, resources) -> executor.Graded:
        if NOT_READ_KEY in nb.metadata:  # a link, a fifo, not a notebook: nothing of it is run
            return executor.not_read(ValueError(nb.metadata[NOT_READ_KEY]))
        return executor.grade_notebook(nb, self.sandbox)

    def preprocess(self, nb, resources):
        from autograder.errors import MachineProblem

        left_out = nb.metadata.pop(LEFT_OUT_KEY, [])
        try:
            graded = self.grade(nb, resources)
        except MachineProblem as err:  # not the student's doing: stop the run with the reason; grades so far stay
            if not self.exit_on_machine_problem:
                raise
            log.error("%s", err)
            raise SystemExit(2) from None
        if graded.notebook is None:  # not run: the restored notebook carries the reason in its test cells
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = []
            executor.write_feedback(nb, graded.grades, graded.sandbox)
        else:
            nb = graded.notebook
        if left_out:
            executor.add_notice(nb, "Left out when your submission was collected (the grader takes only files you "
                                    "made, as files): " + "; ".join(left_out))
        resources["latent_lab_graded"] = graded
        resources.setdefault("outputs", {}).update(kept.files(graded))  # nbgrader writes them beside the notebook
        return nb, resources


class UseWorkerResult(GradeInSandbox):
    """GradeInSandbox for `python -m autograder autograde`: the submission was already graded by a worker, so
    nbgrader's own run for the student takes that result instead of running the notebook again."""

    results = {}  # student id -> executor.Graded, filled by the client as workers finish

    def grade(self, nb, resources) -> executor.Graded:
        return self.results.pop(resources["nbgrader"]["student"])


# The templates nbgrader's HTML pages are looked up in (feedback, formgrader): the kit's own first, for what it
# replaces (mathjax.html.j2: no CDN), then nbgrader's, which both set for themselves only when this is unset.
HTML_TEMPLATES = [str(Path(__file__).parent / "templates" / "nbconvert"),
                  str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")]


def quiet_formgrader_dialogs() -> None:
    """Formgrader shows each command's log in its dialog, captured at whatever level the server's logger has (DEBUG
    under JupyterHub here: every preprocessor nbconvert applies, a screenful per student). The capture keeps INFO and
    above; called from nbgrader_config.py, which formgrader loads in the instructor's server before each command."""
    import nbgrader.apps.api as api

    if getattr(api.capture_log, "keeps_info", False):
        return
    capture = api.capture_log

    def capture_at_info(app, *args, **kwargs):
        level = app.log.level
        app.log.setLevel(logging.INFO if level < logging.INFO else level)
        try:
            return capture(app, *args, **kwargs)
        finally:
            app.log.setLevel(level)

    capture_at_info.keeps_info = True
    api.capture_log = capture_at_info
