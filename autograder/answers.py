"""Grader side of the export: read one cell's answers back as plain data, never unpickling anything."""
import json
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from autograder.contract import META_KEY, Answer, build  # noqa: F401 (Answer: the type checks receive)


class CellAnswers(dict):
    """One cell's answers {name: Answer}, read once: what the checks derive from them (a grid read out of a mosaic,
    the decoded Ex5 images) is kept, a CheckFailed included, so every check and the feedback pictures share one
    reading of each value (export -> read -> check -> feedback)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._readings = {}

    def reading(self, key, read):
        if key not in self._readings:
            try:
                self._readings[key] = (read(), None)
            except AssertionError as err:  # CheckFailed: kept, and raised again for every later reader
                self._readings[key] = (None, err)
        value, err = self._readings[key]
        if err is not None:
            raise err
        return value


class ExportUnreadable(Exception):
    pass


# What the grader reads from one cell's export at most: an honest one is a few hundred KB (the 10x10 grid is
# 78,400 float64s). Everything is checked before it is parsed; the kernel that wrote it is not trusted.
MAX_EXPORT_BYTES = 32 * 2**20   # 4 million float64 numbers, once unpacked
MAX_ARRAYS = 1_000
MAX_META_BYTES = 1 * 2**20


def load_cell_answers(answers_dir: Path, cell_id: str) -> Optional[dict]:
    """{name: Answer} for a cell, or None if the cell never exported (it did not run, or the kernel died first).

    Raises ExportUnreadable for a file that is not a valid export."""
    path = Path(answers_dir) / f"{cell_id}.npz"
    if path.is_symlink() or not path.is_file() or path.stat().st_size == 0:  # the sandbox pre-creates it empty
        return None
    try:
        _check_size(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop(META_KEY)))
        return CellAnswers({str(name): build(str(name), info, arrays, str(name)) for name, info in meta["values"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, zipfile.BadZipFile) as err:
        raise ExportUnreadable(f"{path.name}: {str(err)[:200]}") from None


def _check_size(path: Path) -> None:
    """Refuse an export too big to be an answer, before anything in it is parsed or decompressed."""
    if path.stat().st_size > MAX_EXPORT_BYTES:
        raise ExportUnreadable(f"the export is {path.stat().st_size >> 20} MB; at most {MAX_EXPORT_BYTES >> 20} MB")
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ARRAYS:
            raise ExportUnreadable(f"{len(entries)} arrays; at most {MAX_ARRAYS}")
        if sum(e.file_size for e in entries) > MAX_EXPORT_BYTES:
            raise ExportUnreadable(f"more than {MAX_EXPORT_BYTES >> 20} MB once unpacked")
        meta = next((e for e in entries if e.filename == f"{META_KEY}.npy"), None)
        if meta is None or meta.file_size > MAX_META_BYTES:
            raise ExportUnreadable("no description of the values, or one too large")
