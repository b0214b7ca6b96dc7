"""Compare a student's value with the reference: explicit shape rules first, then a named tolerance.

Shape rule: the same numbers in the same order. A value is accepted when its shape equals the expected shape
once size-1 dims are dropped, so (32,) passes where (1, 32) is asked; it is then reshaped, never broadcast.
"""
import numpy as np
import torch

from autograder.answers import Answer


class CheckFailed(AssertionError):
    """A check's verdict; its message is shown to the student as is."""


def as_array(answer: Answer, name: str) -> np.ndarray:
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
    return [d for d in shape if d != 1] == [d for d in expected_shape if d != 1]


def reshape_like(array: np.ndarray, expected_shape, name: str) -> np.ndarray:
    if not same_numbers_shape(array.shape, expected_shape):
        raise CheckFailed(f"`{name}` has shape {tuple(array.shape)}; expected {tuple(expected_shape)}.")
    return array.reshape(expected_shape)


REL_ERROR_FLOOR = 0.05  # relative error is only reported where |expected| >= this: near 0 it means nothing


def error_report(got: np.ndarray, expected: np.ndarray) -> str:
    """max abs error, max rel error (where the expected value is not near 0), and where they occur."""
    abs_err = np.abs(got - expected)
    at_abs = tuple(int(i) for i in np.unravel_index(abs_err.argmax(), abs_err.shape))
    report = (f"max abs error {abs_err.max():.3g} at index {at_abs} (got {got[at_abs]:.4g}, expected "
              f"{expected[at_abs]:.4g})")
    sizable = np.abs(expected) >= REL_ERROR_FLOOR
    if sizable.any():
        rel_err = np.where(sizable, abs_err / np.where(sizable, np.abs(expected), 1.0), 0.0)
        at_rel = tuple(int(i) for i in np.unravel_index(rel_err.argmax(), rel_err.shape))
        report += f"; max rel error {rel_err.max():.3g} at index {at_rel} (where |expected| >= {REL_ERROR_FLOOR})"
    return report


def is_close(got: np.ndarray, expected: np.ndarray, tolerance: dict) -> bool:
    try:
        torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(got)),
                                   torch.from_numpy(np.ascontiguousarray(expected)), **tolerance)
    except AssertionError:
        return False
    return True


def assert_matches(answer: Answer, expected: np.ndarray, name: str, tolerance: dict) -> np.ndarray:
    """Shape-normalised, finite, and within tolerance of the reference; returns the normalised array."""
    got = reshape_like(as_array(answer, name), expected.shape, name)
    if not is_close(got, expected, tolerance):
        raise CheckFailed(f"`{name}` does not match the reference: {error_report(got, expected)}. "
                          f"Allowed: atol {tolerance['atol']:g} + rtol {tolerance['rtol']:g} x |expected|.")
    return got
