"""Compare a student's value with the reference: explicit shape rules first, then a named tolerance.

The shape rule and the reading of an answer are the contract's (autograder/contract.py), shared with the
notebook's visible checks; this module adds the tolerance and the error report.
"""
import numpy as np
import torch

from autograder.contract import Answer, CheckFailed, number_array, reshape_like, same_numbers_shape  # noqa: F401


as_array = number_array  # the contract's reading of a number answer, under the name the checks use


class PassedBecause(Exception):
    """A check that passes on the student's own earlier value (carried forward) says so, in these words, beside
    its full points: a "passed" next to a picture that is plainly not the reference's would read as a mistake."""

# The contract as the release ships it (a link to autograder/contract.py beside the notebook).
CONTRACT_FILE = "latent_lab_contract.py"


def read_once(student, key, read):
    """read() the first time a check or a picture asks for `key` of this cell's answers, the kept result after."""
    return student.reading(key, read) if hasattr(student, "reading") else read()


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
    if got.shape == expected.shape and got.size and np.abs(got - expected).max() > (
            tolerance["atol"] + tolerance["rtol"] * np.abs(expected).max()):
        return False  # surely outside: no element can pass (0.2 ms for a grid; torch's full comparison takes 6)
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
