"""The catalogue of classic mistakes: each entry names one, says what to fix, and knows how to recognise it.

A check that fails asks `diagnose(quantity, got, context)` which entries fit the student's value; the message of
the first that fits goes into the feedback. Recognising is done by rebuilding the mistaken answer from the
reference ingredients and comparing with the same tolerance as the check, so an entry can only fire on a value
that really is that mistake.
"""
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from reference import lesson
from autograder.compare import is_close, same_numbers_shape

NAMES = lesson.CATEGORY_NAMES
SNEAKER, BOOT, SANDAL = (lesson.EX3_CATEGORIES[k] for k in ("sneaker", "ankle_boot", "sandal"))
# Sampled averages sit about one standard deviation of sampling away per dim (root mean square 0.9-1.15 measured on
# the shipped VAE); averages of other items than the lesson's are further (2-5), or are named exactly by count.
SAMPLED_RMS_MAX = 1.6


@dataclass(frozen=True)
class Diagnosis:
    name: str
    quantity: str   # "ex3.boot_direction", "ex3.z_result", "ex4.decoded_grid", "ex5...."
    message: str    # may use {detail}
    candidates: Callable[[dict], Iterable]  # context -> (mistaken value, detail) pairs

    def matches(self, got: np.ndarray, context: dict, tolerance: dict):
        for candidate, detail in self.candidates(context):
            if got.shape == candidate.shape and is_close(got, candidate, tolerance):
                return self.message.format(detail=detail)
        return None


def _ref(context, key):
    return context["reference"][key]


def _direction(context, a, b, key="category_mean_mu"):
    table = _ref(context, key)
    return (table[a] - table[b])[None, :]


# ---------------------------------------------------------------- Ex3
def _reversed(c):
    yield -_ref(c, "ex3.boot_direction"), ""


def _single_items(c):
    yield _direction(c, BOOT, SNEAKER, "category_first_mu"), ""


def _logvar(c):
    yield _direction(c, BOOT, SNEAKER, "category_mean_logvar"), ""


def _wrong_categories(c):
    for a in range(10):
        for b in range(10):
            if a != b and (a, b) not in ((BOOT, SNEAKER), (SNEAKER, BOOT)):
                yield _direction(c, a, b), f"{NAMES[a]} ({a}) minus {NAMES[b]} ({b})"


def _student_direction(c):
    return c.get("student_direction", _ref(c, "ex3.boot_direction"))


def _wrong_base(c):
    means = _ref(c, "category_mean_mu")
    for base in range(10):
        if base != SANDAL:
            yield means[base][None, :] + _student_direction(c), f"{NAMES[base]} ({base})"


def _subtracted(c):
    yield _ref(c, "category_mean_mu")[SANDAL][None, :] - _student_direction(c), ""


def _single_sandal(c):
    yield _ref(c, "category_first_mu")[SANDAL][None, :] + _student_direction(c), ""


def _logvar_result(c):
    logvars = _ref(c, "category_mean_logvar")
    yield (logvars[SANDAL] + logvars[BOOT] - logvars[SNEAKER])[None, :], ""


def _direction_only(c):
    if np.abs(_student_direction(c)).max() > 1e-6:  # z_result = a zero direction says nothing about z_result
        yield _student_direction(c), ""


def _direction_twice(c):
    yield _ref(c, "category_mean_mu")[SANDAL][None, :] + 2 * _student_direction(c), ""


# ---------------------------------------------------------------- Ex4
def _upside_down(c):
    yield _ref(c, "ex4.decoded_grid")[::-1], ""


def _dims_swapped(c):
    # Swapping the roles of dims 0 and 1 mirrors the grid about its anti-diagonal.
    yield _ref(c, "ex4.decoded_grid").transpose(1, 0, 2, 3)[::-1, ::-1], ""


def _other_arrangements(c):
    grid = _ref(c, "ex4.decoded_grid")
    yield grid[:, ::-1], "left and right are swapped (column 0 must be dim0 = -3)"
    yield grid[::-1, ::-1], "the grid is rotated by 180 degrees"
    yield grid.transpose(1, 0, 2, 3), "rows and columns are swapped"


# The next two cannot rebuild 100 images from one exported code; they read the last code the student's loop built
# (`z`) and, when it shows the mistake, offer the student's own grid as the candidate, so they match exactly then.
def _last_code_other_dims(c):
    z = c.get("last_code")
    if z is not None and z.size == 32 and np.abs(z.reshape(-1)[2:]).max() > 1e-6:
        yield c["got"], f"the last code has {int((np.abs(z.reshape(-1)[2:]) > 1e-6).sum())} non-zero entries beyond dims 0 and 1"


def varied_dims(z) -> tuple:
    """(column dim, row dim) a last code shows when it has exactly two non-zero dims other than dims 0 and 1 (the
    skeleton's loop ends at the column dim high, the row dim low), else ()."""
    if z is None:
        return ()
    z = z.reshape(-1)
    nonzero = [int(i) for i in np.flatnonzero(np.abs(z) > 1e-6)]
    if len(nonzero) != 2 or set(nonzero) == set(lesson.EX4_DIMS):
        return ()
    return tuple(sorted(nonzero, key=lambda i: -z[i]))


def _last_code_other_pair(c):
    dims = varied_dims(c.get("last_code"))
    if dims:
        yield c["got"], f"dims {dims[0]} (columns) and {dims[1]} (rows)"


def _last_code_range(c):
    z = c.get("last_code")
    if z is not None and z.size == 32:
        last = z.reshape(-1)[:2]
        expected = np.array([lesson.EX4_GRID_RANGE[1], lesson.EX4_GRID_RANGE[0]])
        if not np.allclose(sorted(np.abs(last)), sorted(np.abs(expected)), atol=1e-3) and np.abs(last).max() > 0:
            yield c["got"], f"the last code has dims 0, 1 = ({last[0]:.3g}, {last[1]:.3g}), expected (+3, -3)"


CATALOGUE = [
    Diagnosis("ex3_direction_reversed", "ex3.boot_direction",
              "boot_direction points the wrong way: it is sneaker minus ankle boot. The direction from a sneaker "
              "to an ankle boot is z_ankle_boot_avg - z_sneaker_avg.", _reversed),
    Diagnosis("ex3_single_items", "ex3.boot_direction",
              "boot_direction uses single images, not the 20-item averages; use z_ankle_boot_avg and "
              "z_sneaker_avg, which average 20 items to cancel out the noise of any one image.", _single_items),
    Diagnosis("ex3_logvar_instead_of_mu", "ex3.boot_direction",
              "boot_direction was computed from logvar, not mu. encode() returns (mu, logvar); the location of an "
              "image in latent space is mu.", _logvar),
    Diagnosis("ex3_wrong_categories", "ex3.boot_direction",
              "boot_direction is {detail}. It should be Ankle boot (9) minus Sneaker (7); check the category "
              "indices.", _wrong_categories),
    Diagnosis("ex3_wrong_base", "ex3.z_result",
              "z_result adds the direction to the average {detail}; it should be added to the average Sandal (5), "
              "z_sandal_avg.", _wrong_base),
    Diagnosis("ex3_direction_subtracted", "ex3.z_result",
              "z_result subtracts boot_direction from the sandal; the arithmetic is sandal + (boot - sneaker).",
              _subtracted),
    Diagnosis("ex3_single_sandal", "ex3.z_result",
              "z_result starts from a single sandal, not z_sandal_avg (the 20-item average).", _single_sandal),
    Diagnosis("ex3_logvar_result", "ex3.z_result",
              "z_result was computed from logvar, not mu. Use the mean codes (mu).", _logvar_result),
    Diagnosis("ex3_direction_only", "ex3.z_result",
              "z_result is just boot_direction; add it to the average sandal code, z_sandal_avg.", _direction_only),
    Diagnosis("ex3_direction_twice", "ex3.z_result",
              "z_result adds boot_direction twice (z_sandal_avg + 2 * boot_direction); add it once.", _direction_twice),
    Diagnosis("ex4_upside_down", "ex4.decoded_grid",
              "The grid is upside down: row 0 must be dim1 = +3 (the top of the plot). Loop over "
              "reversed(grid_range) for the rows, as the skeleton does.", _upside_down),
    Diagnosis("ex4_dims_swapped", "ex4.decoded_grid",
              "Dims 0 and 1 are swapped: the columns must vary dim 0 (d1_val) and the rows dim 1 (d2_val). "
              "Set z[0, 0] = d1_val and z[0, 1] = d2_val.", _dims_swapped),
    Diagnosis("ex4_other_arrangement", "ex4.decoded_grid",
              "The right images are there but {detail}.", _other_arrangements),
    Diagnosis("ex4_other_pair_of_dims", "ex4.decoded_grid",
              "The grid varies latent {detail}; the exercise asks for dims 0 (columns) and 1 (rows), every other dim "
              "0: set z[0, 0] = d1_val and z[0, 1] = d2_val.", _last_code_other_pair),
    Diagnosis("ex4_other_dims_not_zero", "ex4.decoded_grid",
              "The other 30 dims must be 0 (the prior's mean): {detail}. Start each code from "
              "torch.zeros(1, LATENT_DIM).", _last_code_other_dims),
    Diagnosis("ex4_wrong_range", "ex4.decoded_grid",
              "The grid does not span -3 to +3 in 10 steps: {detail}. Use grid_range as given.", _last_code_range),
]
BY_NAME = {d.name: d for d in CATALOGUE}
# Mistakes recognised by a check's own logic rather than by rebuilding the answer. Same catalogue: one name,
# one message each; the checks format them with what they found. Problems any value can have (missing, NaN or
# inf, a Tensor subclass, its own `==`, a wrong shape, the format of each cell) are the contract's
# (autograder/contract.py), worded once there for the grader and the notebook's visible checks alike.
CHECK_DIAGNOSES = {
    "ex3_sampled_z": "{name} is off by about as much as random sampling would make it: it looks like it was built "
                     "from sampled z (model(x) or reparameterize) instead of mu. Use encode_to_mu, which returns mu.",
    "ex5_near_duplicates": "Too many near-duplicates: only {distinct} distinct image(s) among your {n} (two count as "
                           "one when their mean pixel difference is below {threshold}); the experiment needs at "
                           "least {min}. Vary the codes more.",
    "ex5_real_items": "{real} of your {n} codes are the encoder's codes (mu) of real Fashion-MNIST items ({items}): "
                      "decoding them reconstructs those photos rather than generating new images, so they do not "
                      "count. {distinct} distinct generated image(s) remain; the experiment needs at least {min}. "
                      "Move away from the items' codes (noise, steps along directions, blends).",
    "ex5_off_target": "Judged by {judge}: {hits} of your {n} distinct decoded images are {target}; {needed} are "
                      "needed ({target}'s bar: {bar:.0%} of your distinct images). "
                      "Most were seen as: {seen}.",
}


def diagnose(quantity: str, got: np.ndarray, context: dict, tolerance: dict) -> str:
    """The first catalogue message that fits, or ''."""
    for diagnosis in CATALOGUE:
        if diagnosis.quantity == quantity:
            message = diagnosis.matches(got, {**context, "got": got}, tolerance)
            if message:
                return message
    return ""


def looks_sampled(got: np.ndarray, expected: np.ndarray, logvar_mean: np.ndarray, n: int, averages: int = 2,
                  typical: bool = False) -> bool:
    """A mean of n sampled z's sits within a few posterior standard deviations / sqrt(n) of the mean of mu, and not
    much closer: a rounding-sized difference (a tolerance of 0) is no sampling. averages: how many means of n
    samples feed `got` (two for a difference of averages, one for an average). typical: also as far as sampling
    typically is (root mean square of the standardised differences near 1; averages of other items are further)."""
    sigma = np.sqrt(np.exp(logvar_mean) * averages / n)
    if not same_numbers_shape(got.shape, expected.shape):
        return False
    off = np.abs(got.reshape(expected.shape) - expected) / sigma
    rms = np.sqrt(np.mean(off ** 2))
    return bool(np.all(off < 5) and rms > 0.3 and (not typical or rms < SAMPLED_RMS_MAX))
