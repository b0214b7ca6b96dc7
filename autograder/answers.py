"""Grader side of the export: read one cell's answers back as plain data, never unpickling anything."""
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from autograder.export import META_KEY


@dataclass
class Answer:
    """One exported value. kind is array, scalar, dict, missing or unsupported."""
    name: str
    kind: str
    array: Optional[np.ndarray] = None     # float64, for kind == "array"
    value: object = None                   # for kind == "scalar"
    items: list = field(default_factory=list)  # Answers, for kind == "dict"
    info: dict = field(default_factory=dict)   # type, dtype, device, requires_grad, subclass, custom_eq, reason

    def describe(self) -> str:
        """'float32 tensor of shape (1, 32) on cuda:0' and the like, for messages."""
        if self.kind == "array":
            where = f" on {self.info['device']}" if self.info.get("device", "cpu") != "cpu" else ""
            kind = "list" if self.info.get("dtype") == "list" else self.info.get("type", "array").split(".")[-1]
            return f"{self.info.get('dtype')} {kind} of shape {tuple(self.array.shape)}{where}"
        if self.kind == "scalar":
            return f"{type(self.value).__name__} {self.value!r}"[:200]
        if self.kind == "unsupported":
            return f"value the grader cannot read: {self.info.get('reason', 'unknown type')}"
        return self.info.get("type", self.kind)


class ExportUnreadable(Exception):
    pass


# What the grader reads from one cell's export at most: an honest one is a few hundred KB (the 10x10 grid is
# 78,400 float64s). Everything is checked before it is parsed; the kernel that wrote it is not trusted.
MAX_EXPORT_BYTES = 32 * 2**20   # 4 million float64 numbers, once unpacked
MAX_ARRAYS = 1_000
MAX_META_BYTES = 1 * 2**20
MAX_DEPTH = 8   # a dict of techniques holds arrays: two levels; deeper nesting is not an answer


def _build(name: str, info: dict, arrays, key: str, depth: int = 0) -> Answer:
    if not isinstance(info, dict):
        raise ExportUnreadable(f"{key}: not a description")
    if depth > MAX_DEPTH:
        raise ExportUnreadable(f"values nested more than {MAX_DEPTH} levels deep")
    kind = info.get("kind", "unsupported")
    if kind == "array":
        if key not in arrays:
            raise ExportUnreadable(f"array {key} is missing")
        return Answer(name, kind, array=arrays[key], info=info)
    if kind == "dict":
        items = [_build(str(item.get("name")) if isinstance(item, dict) else "?", item, arrays, f"{key}.{i}", depth + 1)
                 for i, item in enumerate(info.get("items", []))]
        return Answer(name, kind, items=items, info=info)
    if kind == "scalar":
        return Answer(name, kind, value=info.get("value"), info=info)
    return Answer(name, kind, info=info)


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
        return {str(name): _build(str(name), info, arrays, str(name)) for name, info in meta["values"].items()}
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
