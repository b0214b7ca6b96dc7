"""Reading a submission, in one place: the file (no links, no fifos, a size cap, inside its folder), its bytes as a
notebook (nbformat's schema), or the release notebook marked with why it was not read, so the student still gets a
zero with the reason instead of vanishing from the gradebook. The CLI, workers and nbgrader's autograde all read
through here; nothing after it meets a shape it does not know.
"""
import json
import logging
import os
import stat
from pathlib import Path

import nbformat

import course_config as cfg
from autograder.exchange import NOTES_FILE

log = logging.getLogger(__name__)
SOURCE_DIR = cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID
SOURCE_NOTEBOOK = SOURCE_DIR / f"{cfg.ASSIGNMENT_ID}.ipynb"
RELEASE_NOTEBOOK = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
MAX_NOTEBOOK_BYTES = 50 * 2**20  # a real submission is ~1 MB with outputs; a bigger file is not read at all
NOT_READ_KEY = "latent_lab_not_read"  # notebook metadata: why the submitted file was not read (SubmissionReader)
LEFT_OUT_KEY = "latent_lab_left_out"  # notebook metadata: what collect left out of the submission folder
KIT_KEYS = (NOT_READ_KEY, LEFT_OUT_KEY)  # only the kit writes these: a submission's own are dropped



def read_submission_file(path: Path, root: Path = None) -> bytes:
    """The file's bytes, or ValueError saying why it is not read: a symlink, a fifo or anything but a regular
    file, a file outside `root`, or one over MAX_NOTEBOOK_BYTES. A link's target is never opened."""
    path = Path(path)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ValueError("the submitted notebook is a symbolic link, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("the submission is not a regular file (a fifo, a device or a folder)")
    if root is not None and not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root)):
        raise ValueError("the submission lies outside the submission folder")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is {info.st_size / 2**20:.0f} MB; at most {MAX_NOTEBOOK_BYTES >> 20} MB "
                         "is read (clear the outputs: Edit > Clear All Outputs, save, resubmit)")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_NOTEBOOK_BYTES + 1)[:MAX_NOTEBOOK_BYTES]


def read_submission(path: Path, root: Path = None, keep_mark: bool = False):
    """The submitted notebook, read as the executor reads files (no links, no fifos, a size cap, inside root), or
    the release notebook marked with why it was not read (see stand_in)."""
    try:
        data = read_submission_file(path, root if root is not None else Path(path).parent)
    except ValueError as err:  # the executor's reasons: a link, a fifo, too big, outside the folder
        return stand_in(str(err), path)
    except OSError as err:
        return stand_in(f"it could not be opened ({type(err).__name__})", path)
    nb = parse_submission(data, keep_mark, path)
    if not keep_mark:
        left_out = left_out_at_collect(Path(path).parent)
        if left_out:
            nb.metadata[LEFT_OUT_KEY] = left_out
    return nb


def left_out_at_collect(folder: Path) -> list:
    """What the kit's collect left out of this submission folder (autograder/exchange.py), or []."""
    try:
        with open(folder / NOTES_FILE, "rb") as f:
            notes = json.loads(f.read(100_000))
    except (OSError, ValueError):
        return []
    return [str(note)[:300] for note in notes][:20] if isinstance(notes, list) else []


def parse_submission(data: bytes, keep_mark: bool = False, name="submission"):
    """A notebook from the submitted bytes (a worker gets only these), or the marked release notebook. It must be
    a valid notebook (nbformat's schema: no unknown cell types, metadata of the right types); a cell's nbgrader
    metadata that is not a dict with a grade id is dropped (cell roles come from the source, ForgetUnknownGradeCells),
    so no step after this one meets a shape it does not know."""
    try:
        # nbformat.reads would log a whole invalid cell, student text and all: read, convert, validate ourselves
        nb = nbformat.convert(nbformat.reader.reads(data.decode("utf-8")), 4)
        nbformat.validate(nb)
    except (Exception, RecursionError) as err:  # noqa: BLE001  not UTF-8, not JSON, not a notebook, nested too deep
        return stand_in(f"it is not a readable notebook ({type(err).__name__})", name)
    for cell in nb.cells:
        roles = cell.metadata.get("nbgrader")
        if roles is not None and not (isinstance(roles, dict) and isinstance(roles.get("grade_id"), str)):
            del cell.metadata["nbgrader"]
    if not keep_mark:
        for key in KIT_KEYS:  # only the kit sets these (a stand-in, collect's notes), never a submission
            nb.metadata.pop(key, None)
    return nb


def stand_in(reason: str, name="submission"):
    """The release notebook marked with why the submission was not read: the student still gets a zero with the
    reason instead of vanishing from the gradebook, and GradeInSandbox runs nothing of it."""
    log.warning("%s: not read (%s)", name, reason)
    nb = nbformat.read(RELEASE_NOTEBOOK, as_version=4)  # never the source: its solutions would leak
    nb.metadata[NOT_READ_KEY] = reason
    return nb
