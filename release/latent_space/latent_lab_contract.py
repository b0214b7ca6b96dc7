"""The answer contract: one file, shared by the grader and the student's notebook.

It says how a value in the student's kernel becomes an `Answer` (numbers as float64 arrays, scalars, dicts;
nothing else is read), saves answers for the grader (`export_answers`, called by the hidden test cells), and
holds each graded cell's format rules with the words the student reads. The release ships this file beside the
notebook as latent_lab_contract.py (a link to this one, so there is no second copy), and the visible checks run
`check_format(globals(), rules, summary)`: a student is told about the format exactly what the grader will say,
no more and no less. Whether the values are right is judged by the grader alone (autograder/checks).

Standalone on purpose (numpy; torch only if the student's values are tensors): the grading kernel never needs
the kit on its path, and nothing here is checked inside the student's kernel for the grade (it can be patched).
"""
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

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


def _describe_safely(value, key, arrays):
    try:
        return _describe(value, key, arrays)
    except RecursionError:
        return {"kind": "unsupported", "reason": "it is nested too deeply"}
    except Exception as err:  # a hostile or broken object: record it, never crash the export
        return {"kind": "unsupported", "reason": f"reading it raised {type(err).__name__}"}


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
        meta["values"][name] = _describe_safely(namespace[name], name, arrays)
    path = os.path.join(out_dir, f"{cell_id}.npz")
    np.savez(path, **{META_KEY: np.array(json.dumps(meta))}, **arrays)
    return path


# ---------------------------------------------------------------- reading an answer back
MAX_DEPTH = 8   # a dict of techniques holds arrays: two levels; deeper nesting is not an answer


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


class NotAnAnswer(ValueError):
    """An export that does not describe values (a broken or forged file)."""


def build(name: str, info: dict, arrays, key: str, depth: int = 0) -> Answer:
    """The Answer that `_describe` described, from its metadata and arrays."""
    if not isinstance(info, dict):
        raise NotAnAnswer(f"{key}: not a description")
    if depth > MAX_DEPTH:
        raise NotAnAnswer(f"values nested more than {MAX_DEPTH} levels deep")
    kind = info.get("kind", "unsupported")
    if kind == "array":
        if key not in arrays:
            raise NotAnAnswer(f"array {key} is missing")
        return Answer(name, kind, array=arrays[key], info=info)
    if kind == "dict":
        items = [build(str(item.get("name")) if isinstance(item, dict) else "?", item, arrays, f"{key}.{i}", depth + 1)
                 for i, item in enumerate(info.get("items", []))]
        return Answer(name, kind, items=items, info=info)
    if kind == "scalar":
        return Answer(name, kind, value=info.get("value"), info=info)
    return Answer(name, kind, info=info)


def answer_of(name: str, namespace: dict) -> Answer:
    """namespace[name] read exactly as the grader reads its export (used by the visible checks)."""
    if name not in namespace:
        return Answer(name, "missing", info={"kind": "missing"})
    arrays = {}
    return build(name, _describe_safely(namespace[name], name, arrays), arrays, name)


# ---------------------------------------------------------------- the format rules, in the student's words
class CheckFailed(AssertionError):
    """A check's verdict; its message is shown to the student as is."""


def number_array(answer: Answer, name: str) -> np.ndarray:
    """The answer as a finite float64 array, or CheckFailed saying what to fix."""
    if answer is None or answer.kind == "missing":
        raise CheckFailed(f"`{name}` is not defined when the cell finishes. Fill in the TODO, then run the cell.")
    if answer.info.get("subclass"):
        raise CheckFailed(f"`{name}` is a {answer.info['type']}, a subclass; use a plain torch.Tensor or numpy array.")
    if answer.info.get("custom_eq"):
        raise CheckFailed(f"`{name}` is a {answer.info['type']} with its own `==`; use a plain tensor or array.")
    if answer.kind == "unsupported":
        raise CheckFailed(f"`{name}` cannot be graded: {answer.info.get('reason', 'unsupported value')}.")
    if answer.kind != "array":
        raise CheckFailed(f"`{name}` should be a tensor, but it is a {answer.describe()}.")
    array = answer.array
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(f"`{name}` contains {int(bad.sum())} NaN or infinite values (the first at index {where}).")
    return array


def same_numbers_shape(shape, expected_shape) -> bool:
    """The shape rule: the same numbers in the same order, so (32,) passes where (1, 32) is asked."""
    return [d for d in shape if d != 1] == [d for d in expected_shape if d != 1]


def reshape_like(array: np.ndarray, expected_shape, name: str) -> np.ndarray:
    """Reshaped to expected_shape when only size-1 dims differ; never broadcast."""
    if not same_numbers_shape(array.shape, expected_shape):
        raise CheckFailed(f"`{name}` has shape {tuple(array.shape)}; expected {tuple(expected_shape)}.")
    return array.reshape(expected_shape)


def latent_code(answer: Answer, name: str, latent_dim: int) -> np.ndarray:
    """Ex3's values: one latent code, (1, latent_dim)."""
    return reshape_like(number_array(answer, name), (1, latent_dim), name)


def grid_format(answer: Answer, grid_size: int) -> None:
    """Ex4's format point: decoded_grid is grid_size rows of grid_size 28x28 images (size-1 dims aside)."""
    array = number_array(answer, "decoded_grid")
    if array.size == 0:
        raise CheckFailed("`decoded_grid` is empty: the loop that fills it stopped before its first image (an "
                          "error in the cell, or the TODO inside the loop not filled in). Fix that, then run the cell.")
    if not same_numbers_shape(array.shape, (grid_size, grid_size, 28, 28)):
        raise CheckFailed(f"decoded_grid should be {grid_size} rows by {grid_size} columns of 28x28 images "
                          f"(a list of rows, or an array of shape ({grid_size}, {grid_size}, 28, 28)); "
                          f"got shape {tuple(array.shape)}.")


def pixel_scale(array: np.ndarray, pixel_max: float) -> None:
    """Ex4's decoded pixels lie in [0, 1], as model.decode returns them."""
    if array.min() < 0 and array.max() > pixel_max:
        raise CheckFailed(f"decoded_grid has pixels from {array.min():.3g} to {array.max():.3g}, below 0 and above 1: "
                          "values taken before the decoder's final sigmoid (logits) look like this. Keep "
                          "model.decode(z)'s output as it is, in [0, 1].")
    if array.max() > pixel_max:
        raise CheckFailed(f"decoded_grid has pixels up to {array.max():.4g}: it is on a 0-255 scale. Keep the "
                          "decoder's output in [0, 1], as model.decode returns it.")
    if array.min() < 0:
        raise CheckFailed(f"decoded_grid has negative pixels (min {array.min():.3g}); decoded images lie in [0, 1].")


def target_category(answer: Answer) -> int:
    """Ex5's TARGET_CATEGORY: a label 0-9 as an int (a numpy int or a one-number tensor reads the same)."""
    if answer is None or answer.kind == "missing":
        raise CheckFailed("`TARGET_CATEGORY` is not defined. Set it to the label (0-9) of the category you generate.")
    value = answer.value if answer.kind == "scalar" else (answer.array.item() if answer.kind == "array"
                                                         and answer.array.size == 1 else None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or not 0 <= value <= 9:
        raise CheckFailed(f"TARGET_CATEGORY must be an int from 0 to 9 (a Fashion-MNIST label); got "
                          f"{answer.describe()}.")
    return int(value)


def technique_codes(item: Answer, latent_dim: int) -> np.ndarray:
    """One technique's codes: (n, latent_dim); one code given as (latent_dim,) reads as (1, latent_dim)."""
    codes = number_array(item, f"experiment_latents[{item.name!r}]")
    if codes.ndim == 1 and codes.shape[0] == latent_dim:
        codes = codes[None, :]
    if codes.ndim != 2 or codes.shape[1] != latent_dim:
        raise CheckFailed(f"experiment_latents[{item.name!r}] has shape {tuple(codes.shape)}; each technique's "
                          f"codes must have shape (n, {latent_dim}).")
    return codes


def experiment(answer: Answer, latent_dim: int) -> dict:
    """Ex5's experiment_latents: {technique: (n, latent_dim) codes}."""
    if answer is None or answer.kind == "missing":
        raise CheckFailed(f"`experiment_latents` is not defined. Make it a dict from technique name to a tensor "
                          f"of latent codes of shape (n, {latent_dim}).")
    if answer.kind != "dict":
        raise CheckFailed(f"`experiment_latents` should be a dict from technique name to codes; it is a "
                          f"{answer.describe()}.")
    return {item.name: technique_codes(item, latent_dim) for item in answer.items}


def experiment_size(found: dict, min_techniques: int, min_codes: int) -> None:
    """Ex5's requirements: at least min_techniques techniques and min_codes codes (both named when both fall short)."""
    n = sum(len(codes) for codes in found.values())
    short = ([f"has {len(found)} technique(s); the experiment needs at least {min_techniques}"]
             if len(found) < min_techniques else [])
    short += [f"holds {n} codes in total; the experiment needs at least {min_codes}"] if n < min_codes else []
    if short:
        raise CheckFailed(f"experiment_latents {', and '.join(short)}.")


def _latent_code_rule(answer, name, latent_dim) -> dict:
    latent_code(answer, name, latent_dim)
    return {}


def _grid_rule(answer, name, grid_size, pixel_max) -> dict:
    grid_format(answer, grid_size)
    pixel_scale(number_array(answer, name), pixel_max)
    return {}


def _target_rule(answer, name) -> dict:
    return {"target": target_category(answer)}


def _experiment_rule(answer, name, latent_dim, min_techniques, min_codes) -> dict:
    found = experiment(answer, latent_dim)
    experiment_size(found, min_techniques, min_codes)
    return {"techniques": len(found), "codes": sum(len(codes) for codes in found.values())}


# The rules an exercise's visible check may name (autograder/exercises/<cell>.py format_rules): each reads one
# variable as the grader reads it, raises CheckFailed with the grader's words, and returns facts for the summary.
FORMAT_RULES = {"latent_code": _latent_code_rule, "grid": _grid_rule, "target_category": _target_rule,
                "experiment": _experiment_rule}


def check_format(namespace: dict, rules: list, summary: str) -> str:
    """The visible checks: a cell's format rules on the live values, read as the grader reads them. rules:
    [(rule, variable, settings)], written into the notebook with course_config's values when it is built. Returns
    the summary (its {fields} filled from the rules' facts), or raises CheckFailed (an AssertionError) with the
    grader's own words."""
    facts = {}
    for rule, name, settings in rules:
        facts.update(FORMAT_RULES[rule](answer_of(name, namespace), name, **settings))
    return summary.format(**facts)
