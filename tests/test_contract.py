"""One contract: the notebook's visible checks accept and reject exactly what the grader's format checks do, in
the same words, for answers written every way students write them.

The visible side runs `check_format` on live values, as the release's test cells do; the grader side exports the
same values through the real export and loader and runs the format checks (Ex3 shapes, Ex4 shape and pixel
scale, Ex5 contract).
"""
import filecmp

import numpy as np
import pytest
import torch

import course_config as cfg
from autograder.answers import load_cell_answers
from autograder.checks import test_ex3_arithmetic as ex3, test_ex4_grid as ex4, test_ex5_experiment as ex5
from autograder import exercises
from autograder.compare import CONTRACT_FILE, CheckFailed
from autograder.contract import check_format, export_answers
from autograder.reference_answers import get_reference
from reference import solutions

FORMAT_CHECKS = {"ex3_arithmetic": [ex3.test_shapes], "ex4_grid": [ex4.test_shape, ex4.test_pixel_scale],
                 "ex5_experiment": [ex5.test_contract]}


@pytest.fixture(scope="module")
def values(vae, test_set):
    ex3_values = solutions.ex3_arithmetic(vae, test_set)
    _, experiment = solutions.ex5_example_experiment(vae, test_set)
    return {"direction": ex3_values["boot_direction"], "result": ex3_values["z_result"],
            "grid": solutions.ex4_grid(vae), "experiment": experiment}


def _ex3(v, change):
    a, b = v["direction"], v["result"]
    return {"boot_direction": change(a), "z_result": change(b)}


def _ex4(v, change):
    return {"decoded_grid": change(v["grid"])}


def _ex5(target, change=lambda e: e):
    def make(v):
        return {"TARGET_CATEGORY": target, "experiment_latents": change(dict(v["experiment"]))}
    return make


CASES = {  # name -> (cell, values from the right answers)
    "ex3 tensors (1, 32)": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t)),
    "ex3 shape (32,)": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t[0])),
    "ex3 numpy float64": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t.double().numpy())),
    "ex3 nested lists": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t.tolist())),
    "ex3 flat list": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t[0].tolist())),
    "ex3 bfloat16": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t.bfloat16())),
    "ex3 shape (2, 16)": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t.reshape(2, 16))),
    "ex3 NaN": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: t * float("nan"))),
    "ex3 a string": ("ex3_arithmetic", lambda v: _ex3(v, lambda t: "z")),
    "ex3 missing": ("ex3_arithmetic", lambda v: {"z_result": v["result"]}),
    "ex4 list of rows": ("ex4_grid", lambda v: _ex4(v, lambda g: [[c.numpy() for c in row] for row in g])),
    "ex4 tensor": ("ex4_grid", lambda v: _ex4(v, lambda g: g)),
    "ex4 extra size-1 dim": ("ex4_grid", lambda v: _ex4(v, lambda g: g[:, :, None])),
    "ex4 mosaic (280, 280)": ("ex4_grid", lambda v: _ex4(v, lambda g: g.permute(0, 2, 1, 3).reshape(280, 280))),
    "ex4 (100, 28, 28)": ("ex4_grid", lambda v: _ex4(v, lambda g: g.reshape(100, 28, 28))),
    "ex4 0-255 pixels": ("ex4_grid", lambda v: _ex4(v, lambda g: g * 255)),
    "ex4 empty list": ("ex4_grid", lambda v: _ex4(v, lambda g: [])),
    "ex5 int target": ("ex5_experiment", _ex5(7)),
    "ex5 numpy int target": ("ex5_experiment", _ex5(np.int64(7))),
    "ex5 0-d tensor target": ("ex5_experiment", _ex5(torch.tensor(7))),
    "ex5 float 7.0 target": ("ex5_experiment", _ex5(7.0)),
    "ex5 string '7' target": ("ex5_experiment", _ex5("7")),
    "ex5 name target": ("ex5_experiment", _ex5("Sneaker")),
    "ex5 target 12": ("ex5_experiment", _ex5(12)),
    "ex5 bool target": ("ex5_experiment", _ex5(True)),
    "ex5 codes as lists": ("ex5_experiment", _ex5(7, lambda e: {k: c.tolist() for k, c in e.items()})),
    "ex5 codes as numpy": ("ex5_experiment", _ex5(7, lambda e: {k: c.numpy() for k, c in e.items()})),
    "ex5 codes (n, 1, 32)": ("ex5_experiment", _ex5(7, lambda e: {k: c[:, None] for k, c in e.items()})),
    "ex5 one technique": ("ex5_experiment", _ex5(7, lambda e: dict([next(iter(e.items()))]))),
    "ex5 ten codes": ("ex5_experiment", _ex5(7, lambda e: {k: c[:5] for k, c in e.items()})),
    "ex5 a list of codes": ("ex5_experiment", _ex5(7, lambda e: torch.cat(list(e.values())))),
}


def _visible(cell_id, namespace):
    try:
        exercise = exercises.get(cell_id)
        check_format(namespace, exercise.format_rules(), exercise.FORMAT_SUMMARY)
    except AssertionError as err:
        return str(err)
    return ""


def _grader(tmp_path, cell_id, namespace):
    export_answers(cell_id, cfg.GRADED_ANSWERS[cell_id], namespace, str(tmp_path))
    student, reference = load_cell_answers(tmp_path, cell_id), get_reference()
    messages = []
    for check in FORMAT_CHECKS[cell_id]:
        try:
            check(student, reference)
        except CheckFailed as err:
            messages.append(str(err))
    return messages


@pytest.mark.parametrize("case", sorted(CASES))
def test_visible_checks_say_what_the_grader_says(tmp_path, values, case):
    cell_id, make = CASES[case]
    namespace = make(values)
    visible, grader = _visible(cell_id, namespace), _grader(tmp_path, cell_id, namespace)
    assert bool(visible) == bool(grader), f"visible: {visible!r}; grader: {grader!r}"
    if visible:  # the grader may add what it could still judge, after the same words
        assert grader[0].startswith(visible), f"visible: {visible!r}; grader: {grader[0]!r}"


def test_the_cases_cover_both_verdicts_for_every_cell(tmp_path, values):
    verdicts = {(cell_id, bool(_visible(cell_id, make(values)))) for cell_id, make in CASES.values()}
    assert verdicts == {(cell_id, ok) for cell_id in FORMAT_CHECKS for ok in (True, False)}


def test_the_release_ships_the_contract_the_grader_uses():
    shipped = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / CONTRACT_FILE
    source = cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID / CONTRACT_FILE
    kit = cfg.COURSE_ROOT / "autograder" / "contract.py"
    assert filecmp.cmp(shipped, kit, shallow=False), "run `make release`: the release's contract is stale"
    assert source.resolve() == kit.resolve()
