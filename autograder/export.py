"""Runs inside the student's kernel: write named answers as plain arrays, nothing else.

The hidden test cells call `export_answers(cell_id, names, globals())`. No check runs here: everything in the
student's kernel can be patched, so this only describes and saves values. The grader reads them back with
`np.load(allow_pickle=False)` in its own process.

Standalone on purpose (numpy; torch only if the student's values are tensors): the grading kernel never needs
the kit, the reference or the gradebook on its path.
"""
import json
import os
import sys

import numpy as np

ANSWERS_DIR_ENV = "LATENT_LAB_ANSWERS_DIR"
META_KEY = "__meta__"


def _is_tensor(value):
    torch = sys.modules.get("torch")  # never import torch for a student who did not
    return torch is not None and isinstance(value, torch.Tensor)


def _type_name(value):
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _has_custom_eq(value):
    for base in type(value).__mro__:
        if "__eq__" in vars(base):
            return base.__module__.split(".")[0] not in ("builtins", "torch", "numpy")
    return False


def _to_float_array(value, info):
    """A tensor or array as float64 numpy (float64 holds every float dtype exactly, bfloat16 included)."""
    if _is_tensor(value):
        torch = sys.modules["torch"]
        info.update(dtype=str(value.dtype).replace("torch.", ""), device=str(value.device),
                    requires_grad=bool(value.requires_grad), subclass=type(value) is not torch.Tensor)
        plain = torch.Tensor.detach(value).as_subclass(torch.Tensor).cpu()
        return None if plain.is_complex() else plain.to(torch.float64).numpy()
    array = np.asarray(value)
    info.update(dtype=str(array.dtype), subclass=type(value) is not np.ndarray and isinstance(value, np.ndarray))
    if array.dtype.kind not in "fiub":
        return None
    return array.astype(np.float64)


def _describe(value, key, arrays):
    """Metadata for one value; arrays it needs go into `arrays` under keys starting with `key`."""
    info = {"type": _type_name(value), "custom_eq": _has_custom_eq(value)}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        info.update(kind="scalar", value=value)
    elif isinstance(value, (int, float)) or (isinstance(value, np.generic) and np.isreal(value)):
        info.update(kind="scalar", value=value.item() if isinstance(value, np.generic) else value)
    elif isinstance(value, dict):
        info.update(kind="dict", items=[])
        for i, (name, item) in enumerate(value.items()):
            info["items"].append({"name": str(name), **_describe(item, f"{key}.{i}", arrays)})
    elif _is_tensor(value) or isinstance(value, np.ndarray):
        array = _to_float_array(value, info)
        if array is None:
            info.update(kind="unsupported", reason=f"dtype {info['dtype']} is not a real number type")
        else:
            arrays[key] = array
            info.update(kind="array", shape=list(array.shape))
    elif isinstance(value, (list, tuple)) and len(value) == 0:
        arrays[key] = np.zeros((0,))
        info.update(kind="array", shape=[0], dtype="list")
    elif isinstance(value, (list, tuple)):
        # The lesson's decoded_grid is a list of rows of arrays: stack it if it is rectangular.
        try:
            parts = [_to_float_array(v, {}) if not isinstance(v, (list, tuple)) else
                     np.stack([_to_float_array(w, {}) for w in v]) for v in value]
            array = np.stack(parts)
        except (ValueError, TypeError, AttributeError):
            info.update(kind="unsupported", reason="a list whose items are not arrays of one common shape")
        else:
            arrays[key] = array
            info.update(kind="array", shape=list(array.shape), dtype="list")
    else:
        info.update(kind="unsupported", reason=f"values of type {type(value).__name__} are not graded")
    return info


def export_answers(cell_id, names, namespace, out_dir=None):
    """Save namespace[name] for each name to <out_dir>/<cell_id>.npz; missing names are recorded, not raised."""
    out_dir = out_dir or os.environ.get(ANSWERS_DIR_ENV)
    if not out_dir:
        return None  # not grading (e.g. an instructor running the source notebook): nothing to export
    arrays, meta = {}, {"cell_id": cell_id, "values": {}}
    for name in names:
        if name not in namespace:
            meta["values"][name] = {"kind": "missing"}
            continue
        try:
            meta["values"][name] = _describe(namespace[name], name, arrays)
        except RecursionError:
            meta["values"][name] = {"kind": "unsupported", "reason": "it is nested too deeply"}
        except Exception as err:  # a hostile or broken object: record it, never crash the export
            meta["values"][name] = {"kind": "unsupported", "reason": f"reading it raised {type(err).__name__}"}
    path = os.path.join(out_dir, f"{cell_id}.npz")
    np.savez(path, **{META_KEY: np.array(json.dumps(meta))}, **arrays)
    return path
