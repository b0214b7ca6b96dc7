"""Ex3: boot_direction = ankle boot - sneaker; z_result = sandal + boot_direction (20-item mean mu codes).

A value equal to the reference never loses points. Otherwise each step is judged on the student's own inputs
(their exported averages and boot_direction), so one deviation costs its own step once and is named there.
"""
import numpy as np

import course_config as cfg
from reference import lesson
from autograder import contract
from autograder.compare import CheckFailed, PassedBecause, error_report, is_close, read_once
from autograder.diagnoses import CHECK_DIAGNOSES, diagnose, looks_sampled

CELL = "ex3_arithmetic"
LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]
SHAPE = (1, LATENT_DIM)
AVERAGES = {"z_sneaker_avg": "sneaker", "z_ankle_boot_avg": "ankle_boot", "z_sandal_avg": "sandal"}
NAMES = lesson.CATEGORY_NAMES


def read_value(student, name):
    return read_once(student, name, lambda: contract.latent_code(student.get(name), name, LATENT_DIM))


def _own(student, name):
    """A value the student exported as a readable (1, 32) code, or None."""
    try:
        return read_value(student, name)
    except CheckFailed:
        return None


def _raw(student, name):
    """A value the student exported as a number array of any shape, or None: each step is judged on the student's
    own inputs even when a shape mistake made them all the wrong shape (it costs the `shapes` point once)."""
    try:
        return read_once(student, ("raw", name), lambda: contract.number_array(student.get(name), name))
    except CheckFailed:
        return None


def _same_arithmetic(got, *terms, sign=1) -> bool:
    """got == terms[0] + sign * terms[1], all of one shape (whatever it is), within the latent tolerance."""
    if got is None or any(t is None or t.shape != got.shape for t in terms):
        return False
    return is_close(got, terms[0] + sign * terms[1], cfg.LATENT_TOLERANCE)


def _shape_of_the_averages(student) -> str:
    """What the averages' shape says about how they were taken, or ''."""
    shapes = {tuple(v.shape) for v in (_raw(student, n) for n in AVERAGES) if v is not None}
    if len(shapes) != 1:
        return ""
    shape = shapes.pop()
    if shape == (lesson.EX3_N_SAMPLES,):
        return (f"your averages have shape {shape}: one number per image, the mean of each image's {LATENT_DIM} "
                "latent numbers (`.mean(dim=1)`). Average over the images instead: `.mean(dim=0, keepdim=True)` "
                f"gives {SHAPE}")
    if not contract.same_numbers_shape(shape, SHAPE):
        return f"your averages have shape {shape}, not {SHAPE}: average the encoded items over dim 0"
    return ""


def _reference_average(reference, name):
    return reference["category_mean_mu"][lesson.EX3_CATEGORIES[AVERAGES[name]]][None, :]


def _off_averages(student, reference, names) -> dict:
    """{name: the student's average} for each of `names` that differs from the lesson's 20-item mean."""
    own = {name: _own(student, name) for name in names}
    return {name: value for name, value in own.items()
            if value is not None and not is_close(value, _reference_average(reference, name), cfg.LATENT_TOLERANCE)}


def _what_went_into(name, value, reference) -> str:
    """Why an exported average differs from the lesson's, said only as far as the reference ingredients show it."""
    label = lesson.EX3_CATEGORIES[AVERAGES[name]]
    if is_close(value, reference["category_mean_logvar"][label][None, :], cfg.LATENT_TOLERANCE):
        return f"`{name}` averages logvar, not mu: the location of an image in latent space is mu"
    for other in range(10):
        if other != label and is_close(value, reference["category_mean_mu"][other][None, :], cfg.LATENT_TOLERANCE):
            return f"`{name}` is the average of {NAMES[other]} ({other}) items, not {NAMES[label]} ({label})"
    prefixes = reference["category_prefix_mean_mu"][label]  # [k - 1]: the mean mu of the first k items
    counts = [k + 1 for k in range(len(prefixes)) if is_close(value, prefixes[k][None, :], cfg.LATENT_TOLERANCE)]
    if counts:
        return (f"`{name}` is the mean mu of the first {counts[0]} {NAMES[label]} items of the test set, not the first "
                f"{lesson.EX3_N_SAMPLES} (get_items_by_category(test_dataset, {label}, n={lesson.EX3_N_SAMPLES}))")
    if looks_sampled(value, _reference_average(reference, name), reference["category_mean_logvar"][label],
                     lesson.EX3_N_SAMPLES, averages=1, typical=True):
        return CHECK_DIAGNOSES["ex3_sampled_z"].format(name=f"`{name}`")
    error = float(np.abs(value - _reference_average(reference, name)).max())
    return (f"`{name}` is not the mean mu of the first {lesson.EX3_N_SAMPLES} {NAMES[label]} items of the test set "
            f"(max abs error {error:.2g}): you averaged other items than the first {lesson.EX3_N_SAMPLES}, or another "
            f"number of them (the lesson uses get_items_by_category(test_dataset, {label}, n={lesson.EX3_N_SAMPLES}))")


def _averages_message(step, off, reference) -> str:
    causes = "; ".join(_what_went_into(name, value, reference) for name, value in off.items())
    return (f"Your arithmetic for {step} is right, but the averages it starts from are not the lesson's: {causes}. "
            "This costs this step once; the next step is judged on your own values.")


def _fail_with_diagnosis(name, got, expected, reference, context, answer):
    found = diagnose(f"ex3.{name}", got, {"reference": reference, **context}, cfg.LATENT_TOLERANCE)
    if not found and looks_sampled(got, expected, reference["category_mean_logvar"][lesson.EX3_CATEGORIES["sandal"]],
                                   lesson.EX3_N_SAMPLES):
        found = CHECK_DIAGNOSES["ex3_sampled_z"].format(name=name)
    details = (f"{error_report(got, expected)}; you gave a {answer.describe()}, the reference is a float32 tensor "
               f"of shape {SHAPE}")
    raise CheckFailed(f"{found} ({details})" if found else f"`{name}` does not match the reference: {details}.")


def test_shapes(student, reference):
    for name in ("boot_direction", "z_result"):
        try:
            read_value(student, name)
        except CheckFailed as err:
            cause = _shape_of_the_averages(student)
            raise CheckFailed(f"{str(err).rstrip('.')}: {cause}." if cause else str(err)) from None


def test_boot_direction(student, reference):
    raw = _raw(student, "boot_direction")
    if raw is not None and not contract.same_numbers_shape(raw.shape, SHAPE):
        averages = _shape_of_the_averages(student)
        if averages and _same_arithmetic(raw, _raw(student, "z_ankle_boot_avg"), _raw(student, "z_sneaker_avg"),
                                         sign=-1):
            raise CheckFailed(f"`boot_direction` = z_ankle_boot_avg - z_sneaker_avg is the right arithmetic, but "
                              f"{averages}. This costs this step once; the next step is judged on your own values.")
    got, expected = read_value(student, "boot_direction"), reference["ex3.boot_direction"]
    if is_close(got, expected, cfg.LATENT_TOLERANCE):
        return
    boot, sneaker = _own(student, "z_ankle_boot_avg"), _own(student, "z_sneaker_avg")
    off = _off_averages(student, reference, ["z_ankle_boot_avg", "z_sneaker_avg"])
    if off and boot is not None and sneaker is not None and is_close(got, boot - sneaker, cfg.LATENT_TOLERANCE):
        raise CheckFailed(_averages_message("boot_direction", off, reference))
    _fail_with_diagnosis("boot_direction", got, expected, reference, {}, student.get("boot_direction"))


def test_z_result(student, reference):
    """Right when it equals the reference, or the student's own sandal average + their own boot_direction, unless
    that sandal average is a deviation no earlier step has charged for."""
    raw = _raw(student, "z_result")
    if raw is not None and not contract.same_numbers_shape(raw.shape, SHAPE):
        if _same_arithmetic(raw, _raw(student, "z_sandal_avg"), _raw(student, "boot_direction")):
            raise PassedBecause(f"Full points: `z_result` is your `z_sandal_avg` + your `boot_direction`, the right "
                                f"arithmetic on values of shape {tuple(raw.shape)} instead of {SHAPE}; that shape "
                                "mistake is charged above, once.")
    got = read_value(student, "z_result")
    if is_close(got, reference["ex3.z_result"], cfg.LATENT_TOLERANCE):
        return
    direction = _own(student, "boot_direction")
    context = {} if direction is None else {"student_direction": direction}
    direction = reference["ex3.boot_direction"] if direction is None else direction
    sandal = _own(student, "z_sandal_avg")
    sandal = _reference_average(reference, "z_sandal_avg") if sandal is None else sandal
    if is_close(got, sandal + direction, cfg.LATENT_TOLERANCE):
        off = _off_averages(student, reference, ["z_sandal_avg"])
        charged = (_off_averages(student, reference, ["z_ankle_boot_avg", "z_sneaker_avg"])
                   and not is_close(direction, reference["ex3.boot_direction"], cfg.LATENT_TOLERANCE))
        if off and not charged:
            raise CheckFailed(_averages_message("z_result", off, reference))
        if not is_close(direction, reference["ex3.boot_direction"], cfg.LATENT_TOLERANCE):
            raise PassedBecause("Full points: `z_result` is your `z_sandal_avg` + your `boot_direction`, the right "
                                "arithmetic. Your `boot_direction` is not the reference's (that check above took "
                                "its points), so this result and its picture differ from the reference's too; the "
                                "one mistake costs once.")
        return
    expected = _reference_average(reference, "z_sandal_avg") + direction
    _fail_with_diagnosis("z_result", got, expected, reference, context, student.get("z_result"))
