"""One sanitized submission in; its graded notebook, scores and feedback out. It is the AUTOGRADE step of
autograder/pipeline.py (GradeInSandbox), which nbgrader and the CLI both run after nbgrader's sanitize steps
restored the protected cells; it never raises for anything a submission does.

    graded = grade_notebook(nb)

Steps, in order: the kernel runs the notebook in a sandbox (autograder/sandbox.py) under the time and output caps,
exporting answers into the box's answers files; the student's outputs are sanitized (no script, no handlers); the
checks run here, in the grader, on the answers read with limits (autograder/answers.py); each test cell's outputs
become its feedback and score.
"""
import ast
import copy
import html
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from bleach import ALLOWED_TAGS
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import default

import course_config as cfg
from autograder import contract, kept
from autograder.submission import SOURCE_DIR
from autograder.math_offline import lesson_text_as_mathml
from reference import cpu_kernels
from autograder.errors import MachineProblem
from autograder.sandbox import temp_dir

log = logging.getLogger(__name__)
UNSANDBOXED_NOTE = ("Graded WITHOUT the sandbox (SANDBOX = \"none\" or --no-sandbox): the student's code could "
                    "read and change the course.")


class KernelStartFailed(MachineProblem):
    """The kernel died before any student code ran: a problem of this machine, so grading stops instead of
    handing every student a zero (tried twice per submission first)."""


@dataclass
class Graded:
    notebook: object                             # the graded notebook (feedback in the test cells), or None
    grades: dict                                 # {cell_id: CellGrade}
    problem: str = ""                            # why the notebook could not run, or stopped early
    seconds: dict = field(default_factory=dict)  # {"execute": s, "checks": s, "total": s}
    sandbox: str = cfg.SANDBOX
    name: str = "submission.ipynb"               # the submitted file's name
    kept: tuple = None                           # (answer files, graded.json) to keep beside it (autograder/kept.py)
    cpu_kernels: dict = field(default_factory=cpu_kernels.environment)  # what the grader and kernel computed with

    @property
    def score(self) -> float:
        return sum(g.score for g in self.grades.values())

    @property
    def max_score(self) -> float:
        return sum(sum(points.values()) for points in cfg.CHECK_POINTS.values())


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _zero(reason: str, problem: str, started: float) -> Graded:
    from autograder.grade import not_run

    return Graded(None, not_run(reason), problem, {"total": time.perf_counter() - started})


# ------------------------------------------------------------------------------------------------ reading
def not_read(err: Exception) -> Graded:
    reason = err if isinstance(err, ValueError) else f"it could not be opened ({type(err).__name__})"
    return _zero(f"The submission was not graded: {reason}. Submit the notebook file itself "
                 "(File > Download in Jupyter) and resubmit.", f"not read: {reason}", time.perf_counter())


# ------------------------------------------------------------------------------------------------ running
MAX_ANALYSED_SOURCE = 100_000  # characters of one cell; a longer cell is not analysed and counts as reading anything
MAX_ANALYSED_NOTEBOOK = 1_000_000  # characters of all cells together: the rest count as reading anything


def _names(source: str):
    """(names the cell assigns or imports, names it reads before assigning them), or None when the cell cannot be
    analysed: too long, or not plain Python (IPython's `!`, `%` and `?` lines can run any code): then it may read
    anything. Python's own parser only, linear in the cell's length (IPython's transformers are quadratic in it).
    An assignment counts after its right-hand side, and `x += 1` reads x first."""
    if len(source) > MAX_ANALYSED_SOURCE:
        return None
    try:  # student code, parsed in the grader: anything it makes the parser do ends here
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    events = []  # (position, kind, name)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            after = (node.end_lineno, node.end_col_offset)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            events += [(after, "store", n.id) for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            events.append(((node.lineno, node.col_offset), "load", node.target.id))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            events += [((node.lineno, node.col_offset), "store", a.asname or a.name.split(".")[0]) for a in node.names]
    assigned = {(n.id, n.lineno, n.col_offset) for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                for n in ast.walk(t) if isinstance(n, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (node.id, node.lineno, node.col_offset) not in assigned:
            kind = "load" if isinstance(node.ctx, ast.Load) else "store"
            events.append(((node.lineno, node.col_offset), kind, node.id))
    defined, read = set(), set()
    for _, kind, name in sorted(events):
        if kind == "load" and name not in defined:
            read.add(name)
        elif kind == "store":
            defined.add(name)
    return defined, read


def cells_to_skip(nb) -> set:
    """Indexes of the locked drawing cells (course_config.SKIP_WHEN_GRADING) that are safe to skip: none of the
    names they define is read by a later cell, so a student who reuses one (the t-SNE cell's labels) is run as is.
    Each code cell is analysed once."""
    cells, budget = [], MAX_ANALYSED_NOTEBOOK
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            budget -= len(cell.source)
            cells.append((i, _grade_id(cell) in cfg.SKIP_WHEN_GRADING, _names(cell.source) if budget >= 0 else None))
    skip = set()
    for position, (index, drawing, names) in enumerate(cells):
        if not drawing or not names or not names[0]:
            continue
        later = [n for _, later_drawing, n in cells[position + 1:] if not later_drawing]
        if all(n is not None and not names[0] & n[1] for n in later):
            skip.add(index)
    return skip


class RunInBox(Execute):
    """nbgrader's Execute, in the sandbox, with the kit's rules:
    - a dead kernel or a cell past its time ends the run; what ran keeps its outputs and exports;
    - every cell's timeout is also bounded by what is left of the submission's time;
    - locked cells that only draw pictures (course_config.SKIP_WHEN_GRADING) are not run;
    - at most course_config.OUTPUT_LIMIT_BYTES of output is kept."""

    interrupt_on_timeout = False  # a loop that ignores SIGINT would hang every later cell: stop instead
    shutdown_kernel = "immediate"  # its exports are written when its cells end; a polite stop only costs time

    def preprocess(self, nb, resources=None, km=None):
        self.stopped, self.output_bytes, self.output_note_given = "", 0, False
        self.started = False
        self.deadline = time.monotonic() + cfg.SUBMISSION_TIMEOUT_SECONDS
        self.skipped = cells_to_skip(nb)
        try:
            return super().preprocess(nb, resources, km)
        except Exception as err:
            if not self.started:  # no student code had run yet: the machine's fault, never the student's
                raise KernelStartFailed(f"the grading kernel did not start ({type(err).__name__}: {err})") from err
            raise

    def preprocess_cell(self, cell, resources, index):
        self.started = True
        if index in self.skipped:
            cell.outputs = [new_output("stream", name="stdout",
                                       text="(Not run by the autograder: this cell only draws a picture.)\n")]
            return cell, resources
        if self.stopped:
            if cell.cell_type == "code":
                cell.outputs = []
            return cell, resources
        left = self.deadline - time.monotonic()
        self.timeout = max(1, int(min(cfg.CELL_TIMEOUT_SECONDS, left)))
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError as err:
            log.warning("Kernel died in cell %d: %s", index + 1, err)  # counted from 1, as in the feedback
            self._stop(cell, index, "KernelDied", "the Python kernel died in {where} (out of memory, a kill "
                       "signal, os._exit, a crash in native code...)")
        except CellTimeoutError:
            limit = (f"the whole notebook's limit of {cfg.SUBMISSION_TIMEOUT_SECONDS} s" if left <= cfg.CELL_TIMEOUT_SECONDS
                     else f"the limit of {cfg.CELL_TIMEOUT_SECONDS} s per cell")
            self._stop(cell, index, "CellTimeout", f"{{where}} was stopped after running past {limit} (make it "
                       "faster: fewer points or iterations, or move slow work out of graded cells)")
        return cell, resources

    def _stop(self, cell, index, ename, why):
        """Name where and why the run ended, in the cell and (through `stopped`) in every ungraded check."""
        where = f"cell {index + 1}" + (f" ('{_grade_id(cell)}')" if _grade_id(cell) else "")
        self.stopped = why.format(where=where)
        message = f"{self.stopped[0].upper()}{self.stopped[1:]}. Later cells did not run; credit earned before is kept."
        cell.outputs.append(new_output("error", ename=ename, evalue=message, traceback=[message]))

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        self.output_bytes += size
        if self.output_bytes > cfg.OUTPUT_LIMIT_BYTES:
            if not self.output_note_given:
                self.output_note_given = True
                outs.append(new_output("stream", name="stderr", text=(
                    f"\n[The autograder kept the first {cfg.OUTPUT_LIMIT_BYTES:,} bytes of output; the rest of "
                    "this notebook's output was dropped.]\n")))
            return None
        return super().output(outs, msg, display_id, cell_index)


SAFE_SCHEMES = ("http", "https", "mailto")  # a link a student writes may go there, or nowhere (relative, #anchor)
SAFE_DATA = re.compile(r"data:image/(png|jpeg|gif);base64,", re.I)  # pictures inlined by Jupyter itself
MARKDOWN_URL = re.compile(r"(\]\(\s*<?)([^\s)>]+)|(^[ \t]*\[[^\]\n]+\]:[ \t]*<?)(\S+)|(<)([a-zA-Z][\w+.-]*:[^>\s]*)(?=>)",
                          re.M)
UNSAFE_URL = "#unsafe-link-removed"


def safe_url(url: str) -> bool:
    """An allowed scheme, an inlined picture or no scheme at all, as a browser reads it (entities decoded, blanks
    and control characters inside the scheme ignored)."""
    plain = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url)).lower()
    scheme = re.match(r"([a-z][a-z0-9+.-]*):", plain)
    return not scheme or scheme.group(1) in SAFE_SCHEMES or bool(SAFE_DATA.match(plain))


def safe_markdown_links(text: str) -> str:
    """Markdown's own links, images, reference definitions and autolinks with any other scheme (javascript:,
    vbscript:, data:text/html...) pointed nowhere: an HTML sanitizer never sees them, the renderer makes them live."""
    def point(match):  # groups (lead, url) of whichever of the three forms matched
        lead, url = next((match.group(i), match.group(i + 1)) for i in (1, 3, 5) if match.group(i + 1) is not None)
        return lead + (url if safe_url(url) else UNSAFE_URL)
    return MARKDOWN_URL.sub(point, text)


class SanitizeStudentHTML(SanitizeHTML):
    """No script, no event handlers, no JavaScript outputs, no link to anything but http(s), mailto or a picture in
    anything a student wrote or printed: HTML by an allow-list of tags and attributes (bleach, via nbconvert),
    Markdown's own links by safe_markdown_links. Locked cells are the course's own (restored from the source), so
    they keep their text exactly."""

    @default("tags")
    def _tags(self):  # bleach's few, and the lesson's collapsible hints (no attribute of theirs is allowed)
        return [*ALLOWED_TAGS, "details", "summary"]

    def preprocess_cell(self, cell, resources, index):
        if cell.get("metadata", {}).get("nbgrader", {}).get("locked") and cell.cell_type != "code":
            return cell, resources
        if cell.cell_type in ("markdown", "raw"):
            cell.source = safe_markdown_links(cell.source)
        for output in cell.get("outputs", []):
            if "text/markdown" in output.get("data", {}):
                output.data["text/markdown"] = safe_markdown_links(str(output.data["text/markdown"]))
        return super().preprocess_cell(cell, resources, index)


def _assignment_files():
    return [p for p in SOURCE_DIR.iterdir() if p.is_file() and p.suffix != ".ipynb"]


_warm = []  # this process's warm box, started at its first submission
_box_pool = []  # where this worker's first box may be taken from (parallel.grade_on_worker)


def offer_box_pool(address: str) -> None:
    """Take this process's first warm box from the grading client's BoxPool at `address` (already started)."""
    _box_pool[:] = [address]


def warm_box():
    """This grading process's warm box (autograder/sandbox.py), started again if its fork server is gone."""
    from autograder.sandbox import WarmBox, at_exit

    if _warm and not _warm[0].alive:
        _warm.pop().close()
    if not _warm:
        taken = WarmBox.take_from(_box_pool.pop()) if _box_pool else None
        _warm.append(taken or WarmBox(_assignment_files(), list(cfg.CHECK_POINTS)))
        at_exit(lambda: _warm and _warm.pop().close())
    return _warm[0]


def box_pool(count: int):
    """A BoxPool of `count` warm boxes for local workers, or None where submissions do not run in warm boxes."""
    from autograder.sandbox import BoxPool

    return BoxPool(count, _assignment_files(), list(cfg.CHECK_POINTS)) if cfg.SANDBOX_WARM else None


def kernel_environment(answers_dir) -> dict:
    """What an unsandboxed grading kernel needs to find: where to export, the exporter, and the data."""
    return {contract.ANSWERS_DIR_ENV: str(answers_dir), "LATENT_LAB_EXPORTER": str(Path(contract.__file__).resolve()),
            "LATENT_LAB_DATA": str(cfg.DATA_DIR), "NBGRADER_EXECUTION": "autograde"}


def run_notebook(nb, sandbox: str):
    """Execute nb (in place) in a fresh kernel; (answers folder to read, cleanup callable, why it stopped)."""
    if sandbox == "none":
        work = temp_dir("latent_lab_run_")
        answers = work / "answers"
        answers.mkdir()
        for item in _assignment_files():
            shutil.copy(item, work / item.name)
        os.environ.update(kernel_environment(answers))
        runner = RunInBox(timeout=cfg.CELL_TIMEOUT_SECONDS)
        runner.preprocess(nb, {"metadata": {"path": str(work)}})
        return answers, lambda: shutil.rmtree(work, ignore_errors=True), runner.stopped
    from autograder.sandbox import Box, SandboxedKernelManager

    box = warm_box().slot() if cfg.SANDBOX_WARM else Box(_assignment_files(), list(cfg.CHECK_POINTS))
    try:
        runner = RunInBox(timeout=cfg.CELL_TIMEOUT_SECONDS, kernel_manager_class=SandboxedKernelManager.for_box(box))
        runner.preprocess(nb, {"metadata": {"path": str(box.host_dir)}})
    except BaseException:
        box.close()
        raise
    return box.answers_dir, box.close, runner.stopped


def grade_notebook(nb, sandbox: str = None) -> Graded:
    """Run and grade a notebook whose protected cells are already restored. Never raises for the notebook."""
    import torch

    from autograder.grade import grade_answers
    from autograder.reference_answers import get_reference

    sandbox = sandbox or cfg.SANDBOX
    started = time.perf_counter()
    seconds = {}
    cleanup = None
    try:
        get_reference()  # read and proved on this machine once per process (~0.15 s): not this submission's time
        torch.set_num_threads(cfg.GRADING_THREADS)  # the checks compute as on any machine; workers share the cores
        started = time.perf_counter()
        try:
            pristine = copy.deepcopy(nb)
            answers_dir, cleanup, stopped = run_notebook(nb, sandbox)
        except KernelStartFailed as err:
            log.warning("%s; trying once more", err)
            nb = pristine
            try:
                answers_dir, cleanup, stopped = run_notebook(nb, sandbox)
            except KernelStartFailed as again:
                from autograder.sandbox import what_the_kernel_says

                raise KernelStartFailed(f"{again}{what_the_kernel_says(sandbox)}") from again
        seconds["execute"] = time.perf_counter() - started
        nb = lesson_text_as_mathml(nb, lambda nb: SanitizeStudentHTML().preprocess(nb, {})[0])
        checks_started = time.perf_counter()
        raised = errors_in_solution_cells(nb)
        try:
            grades = grade_answers(answers_dir, stopped=stopped, raised=raised)
        except SystemError as err:  # CPython 3.11.2's ast race with a thread formatting a traceback (gh-106905)
            log.warning("the checks met an interpreter error (%s); running them once more", err)
            grades = grade_answers(answers_dir, stopped=stopped, raised=raised)
        answers = kept.answer_files(answers_dir)
        seconds["checks"] = time.perf_counter() - checks_started
    except Exception as err:  # noqa: BLE001  anything else that went wrong while grading: still a grade
        if isinstance(err, MachineProblem):
            raise  # not the student's doing: stop the batch with the reason (and the fix)
        log.exception("grading failed")
        return _zero(f"The autograder could not run this notebook ({type(err).__name__}: {err}). Your instructor "
                     "has been told; nothing here is your mistake.", f"grader error: {type(err).__name__}: {err}",
                     started)
    finally:
        if cleanup:
            cleanup()
    write_feedback(nb, grades, sandbox)
    seconds["total"] = time.perf_counter() - started
    graded = Graded(nb, grades, stopped, seconds, sandbox)
    graded.kept = (answers, kept.record(graded, answers, stopped, raised))
    return graded


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def errors_in_solution_cells(nb) -> dict:
    """{cell_id: 'RuntimeError: message (line 12)'} for each graded solution cell that raised."""
    errors = {}
    for cell in nb.cells:
        if _grade_id(cell) not in cfg.CHECK_POINTS or cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error" or output.get("ename") in ("KernelDied", "CellTimeout"):
                continue  # the run's own stops are named through `stopped`
            if output.get("ename") == "NotImplementedError" and not output.get("evalue"):
                break  # nbgrader's untouched TODO stub: the checks' own "fill in the TODO" is the real cause
            trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
            line = re.findall(r"Cell In\[\d+\], line (\d+)", trace)[:1]  # the cell's own frame comes first
            evalue = str(output.get("evalue", ""))[:300]
            errors[_grade_id(cell)] = f"{output.get('ename')}: {evalue}" + (f" (line {line[0]})" if line else "")
            break
    return errors


def add_notice(nb, text: str) -> None:
    """A notice above the first graded cell's feedback (the score stays the cell's last output)."""
    first = next(cell for cell in nb.cells if _grade_id(cell) == f"{next(iter(cfg.CHECK_POINTS))}_tests")
    first.outputs.insert(0, new_output("display_data", data={"text/html": f"<p><b>{html.escape(text)}</b></p>",
                                                               "text/plain": text}))


def write_feedback(nb, grades, sandbox):
    """Each test cell's outputs become its feedback and score, nothing else: a warning on stderr or a failed
    visible assert never decides the score (nbgrader's SaveAutoGrades reads the score from the last output)."""
    cells = {f"{cell_id}_tests": cell_id for cell_id in cfg.CHECK_POINTS}
    note = f"<p><b>{UNSANDBOXED_NOTE}</b></p>" if sandbox == "none" else ""
    for cell in nb.cells:
        cell_id = cells.get(_grade_id(cell))
        if cell_id is None or cell.cell_type != "code":
            continue
        grade = grades[cell_id]
        cell.outputs = [
            new_output("display_data", data={"text/html": note + grade.html, "text/plain": grade.text}),
            new_output("execute_result", data={"text/plain": f"{grade.score:g}"}, execution_count=None),
        ]
