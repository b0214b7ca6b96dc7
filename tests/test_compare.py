"""Are the comparison rules explicit: same numbers in the same order, finite, plain types, named tolerance?"""
import numpy as np
import pytest
import torch

import course_config as cfg
from autograder.answers import load_cell_answers
from autograder.compare import CheckFailed, as_array, assert_matches, error_report, reshape_like
from autograder.contract import export_answers

EXPECTED = np.linspace(-1, 1, 32).reshape(1, 32)


def exported(tmp_path, value):
    export_answers("cell", ["x"], {"x": value}, str(tmp_path))
    return load_cell_answers(tmp_path, "cell")["x"]


@pytest.mark.parametrize("make", [
    lambda: torch.tensor(EXPECTED, dtype=torch.float32),
    lambda: torch.tensor(EXPECTED, dtype=torch.float64),
    lambda: torch.tensor(EXPECTED, dtype=torch.float16),
    lambda: torch.tensor(EXPECTED, dtype=torch.bfloat16),
    lambda: torch.tensor(EXPECTED, dtype=torch.float32).requires_grad_(),
    lambda: torch.tensor(EXPECTED[0], dtype=torch.float32),            # (32,) where (1, 32) is asked
    lambda: EXPECTED.astype(np.float32),
    lambda: [list(EXPECTED[0])],                                        # a plain nested list
], ids=["float32", "float64", "float16", "bfloat16", "requires_grad", "shape_32", "numpy", "list"])
def test_correct_values_in_any_form_match(tmp_path, make):
    got = assert_matches(exported(tmp_path, make()), EXPECTED, "x", cfg.LATENT_TOLERANCE)
    assert got.shape == (1, 32)


@pytest.mark.parametrize("shape", [(1, 1), (32, 32), (2, 32), (1, 16)])
def test_values_that_only_match_by_broadcasting_are_refused(tmp_path, shape):
    value = torch.zeros(shape)
    with pytest.raises(CheckFailed, match=rf"has shape \({shape[0]}, {shape[1]}\); expected \(1, 32\)"):
        assert_matches(exported(tmp_path, value), np.zeros((1, 32)), "x", cfg.LATENT_TOLERANCE)


def test_nan_is_refused_with_its_position(tmp_path):
    value = torch.tensor(EXPECTED, dtype=torch.float32)
    value[0, 7] = float("nan")
    with pytest.raises(CheckFailed, match=r"contains 1 NaN or infinite values \(the first at index \(0, 7\)\)"):
        as_array(exported(tmp_path, value), "x")


def test_a_tensor_subclass_is_refused(tmp_path):
    class Sneaky(torch.Tensor):
        pass

    with pytest.raises(CheckFailed, match="subclass"):
        as_array(exported(tmp_path, torch.zeros(1, 32).as_subclass(Sneaky)), "x")


def test_an_object_with_its_own_eq_is_refused(tmp_path):
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailed, match="with its own `==`"):
        as_array(exported(tmp_path, AlwaysEqual()), "x")


def test_a_missing_variable_says_what_to_do(tmp_path):
    export_answers("cell", ["x"], {}, str(tmp_path))
    with pytest.raises(CheckFailed, match="is not defined when the cell finishes. Fill in the TODO"):
        as_array(load_cell_answers(tmp_path, "cell")["x"], "x")


def test_the_failure_report_gives_max_abs_and_rel_error_and_where():
    got = EXPECTED.copy()
    got[0, 3] += 0.5
    report = error_report(got, EXPECTED)
    assert "max abs error 0.5 at index (0, 3)" in report and "max rel error" in report


def test_a_value_just_outside_tolerance_fails_and_inside_passes(tmp_path):
    inside = torch.tensor(EXPECTED + 0.5 * cfg.LATENT_TOLERANCE["atol"])
    outside = torch.tensor(EXPECTED + 3 * (cfg.LATENT_TOLERANCE["atol"] + cfg.LATENT_TOLERANCE["rtol"]))
    assert_matches(exported(tmp_path, inside), EXPECTED, "x", cfg.LATENT_TOLERANCE)
    with pytest.raises(CheckFailed, match="does not match the reference"):
        assert_matches(exported(tmp_path, outside), EXPECTED, "x", cfg.LATENT_TOLERANCE)


def test_shape_rule_is_reshape_never_broadcast():
    assert reshape_like(np.arange(32.0), (1, 32), "x").shape == (1, 32)
    with pytest.raises(CheckFailed):
        reshape_like(np.arange(64.0).reshape(2, 32), (1, 32), "x")
