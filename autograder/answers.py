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
            return f"{type(self.value).__name__} {self.value!r}"
        return self.info.get("type", self.kind)


class ExportUnreadable(Exception):
    pass


def _build(name: str, info: dict, arrays, key: str) -> Answer:
    kind = info.get("kind", "unsupported")
    if kind == "array":
        if key not in arrays:
            raise ExportUnreadable(f"array {key} is missing")
        return Answer(name, kind, array=arrays[key], info=info)
    if kind == "dict":
        items = [_build(item["name"], item, arrays, f"{key}.{i}") for i, item in enumerate(info.get("items", []))]
        return Answer(name, kind, items=items, info=info)
    if kind == "scalar":
        return Answer(name, kind, value=info.get("value"), info=info)
    return Answer(name, kind, info=info)


def load_cell_answers(answers_dir: Path, cell_id: str) -> Optional[dict]:
    """{name: Answer} for a cell, or None if the cell never exported (it did not run, or the kernel died first).

    Raises ExportUnreadable for a file that is not a valid export."""
    path = Path(answers_dir) / f"{cell_id}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop(META_KEY)))
        return {name: _build(name, info, arrays, name) for name, info in meta["values"].items()}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise ExportUnreadable(f"{path.name}: {err}") from None
