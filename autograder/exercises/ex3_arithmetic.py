"""Ex3: boot_direction = ankle boot - sneaker; z_result = sandal + boot_direction (20-item mean mu codes).

A value equal to the reference never loses points. Otherwise each step is judged on the student's own inputs
(their exported averages and boot_direction), so one deviation costs its own step once and is named there.

What the kit knows about this exercise: how to read the student's answer (shared by the checks, the
feedback and the class report), its title, format rules and feedback pictures. Its checks are
autograder/checks/test_ex3_arithmetic.py.
"""
import numpy as np
import course_config as cfg
from reference import lesson
from autograder import contract, drawing
from autograder.compare import CheckFailed, error_report, is_close, read_once
from autograder.diagnoses import CHECK_DIAGNOSES, diagnose, looks_sampled

CELL = "ex3_arithmetic"


LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]


SHAPE = (1, LATENT_DIM)


AVERAGES = {"z_sneaker_avg": "sneaker", "z_ankle_boot_avg": "ankle_boot", "z_sandal_avg": "sandal"}


NAMES = lesson.CATEGORY_NAMES


def read_value(student, name):
    return read_once(student, name, lambda: contract.latent_code(student.get(name), name, LATENT_DIM))


def own_value(student, name):
    """A value the student exported as a readable (1, 32) code, or None."""
    try:
        return read_value(student, name)
    except CheckFailed:
        return None


def raw_value(student, name):
    """A value the student exported as a number array of any shape, or None: each step is judged on the student's
    own inputs even when a shape mistake made them all the wrong shape (it costs the `shapes` point once)."""
    try:
        return read_once(student, ("raw", name), lambda: contract.number_array(student.get(name), name))
    except CheckFailed:
        return None


def same_arithmetic(got, *terms, sign=1) -> bool:
    """got == terms[0] + sign * terms[1], all of one shape (whatever it is), within the latent tolerance."""
    if got is None or any(t is None or t.shape != got.shape for t in terms):
        return False
    return is_close(got, terms[0] + sign * terms[1], cfg.LATENT_TOLERANCE)


def shape_of_the_averages(student) -> str:
    """What the averages' shape says about how they were taken, or ''."""
    shapes = {tuple(v.shape) for v in (raw_value(student, n) for n in AVERAGES) if v is not None}
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


def reference_average(reference, name):
    return reference["category_mean_mu"][lesson.EX3_CATEGORIES[AVERAGES[name]]][None, :]


def off_averages(student, reference, names) -> dict:
    """{name: the student's average} for each of `names` that differs from the lesson's 20-item mean."""
    own = {name: own_value(student, name) for name in names}
    return {name: value for name, value in own.items()
            if value is not None and not is_close(value, reference_average(reference, name), cfg.LATENT_TOLERANCE)}


def _what_went_into(name, value, reference) -> str:
    """Why an exported average differs from the lesson's, said only as far as the reference ingredients show it."""
    label = lesson.EX3_CATEGORIES[AVERAGES[name]]
    if np.ptp(value) <= cfg.LATENT_TOLERANCE["atol"]:  # zeros, or one number repeated: nothing was encoded
        constant = float(np.asarray(value).flat[0])
        return (f"`{name}` is {'all zeros' if abs(constant) <= cfg.LATENT_TOLERANCE['atol'] else f'{constant:.3g} in every entry'}"
                f": it was not computed from the encoded items (the mean of encode_to_mu of the first "
                f"{lesson.EX3_N_SAMPLES} {NAMES[label]} items)")
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
    if looks_sampled(value, reference_average(reference, name), reference["category_mean_logvar"][label],
                     lesson.EX3_N_SAMPLES, averages=1, typical=True):
        return CHECK_DIAGNOSES["ex3_sampled_z"].format(name=f"`{name}`")
    error = float(np.abs(value - reference_average(reference, name)).max())
    return (f"`{name}` is not the mean mu of the first {lesson.EX3_N_SAMPLES} {NAMES[label]} items of the test set "
            f"(max abs error {error:.2g}): you averaged other items than the first {lesson.EX3_N_SAMPLES}, or another "
            f"number of them (the lesson uses get_items_by_category(test_dataset, {label}, n={lesson.EX3_N_SAMPLES}))")


def averages_message(step, off, reference) -> str:
    causes = "; ".join(_what_went_into(name, value, reference).rstrip(".") for name, value in off.items())
    return (f"Your arithmetic for {step} is right, but the averages it starts from are not the lesson's: {causes}. "
            "This costs this step once; the next step is judged on your own values.")


def fail_with_diagnosis(name, got, expected, reference, context, answer):
    found = diagnose(f"ex3.{name}", got, {"reference": reference, **context}, cfg.LATENT_TOLERANCE)
    if not found and looks_sampled(got, expected, reference["category_mean_logvar"][lesson.EX3_CATEGORIES["sandal"]],
                                   lesson.EX3_N_SAMPLES):
        found = CHECK_DIAGNOSES["ex3_sampled_z"].format(name=name)
    details = (f"{error_report(got, expected)}; you gave a {answer.describe()}, the reference is a float32 tensor "
               f"of shape {SHAPE}")
    raise CheckFailed(f"{found} ({details})" if found else f"`{name}` does not match the reference: {details}.")


# ------------------------------------------------------------------------------------------------ what students see
# The checks the notebook's own format tests state: all a student reads when FEEDBACK_ON_SUBMIT is "format".
FORMAT_CHECKS = ("shapes",)
TITLE = "Exercise 3: latent arithmetic"
FORMAT_SUMMARY = "boot_direction and z_result are in the format the autograder reads; it judges their values."


def format_rules() -> list:
    """The visible checks' rules (autograder/contract.py), with course_config's values when the notebook is built."""
    return [("latent_code", name, {"latent_dim": LATENT_DIM}) for name in ("boot_direction", "z_result")]


def pictures(answers, reference) -> list:
    """The student's decoded z_result beside the reference's."""
    z_result = read_value(answers, "z_result")
    expected = reference.decode(reference["ex3.z_result"].reshape(1, -1))[0]
    got = reference.decode(np.asarray(z_result, dtype=np.float64).reshape(1, -1))[0]
    return [("Your z_result decoded by the reference VAE, beside the reference result.",
             drawing.panels([(got.reshape(28, 28), "yours: decode(z_result)", "gray", 1),
                             (expected.reshape(28, 28), "reference", "gray", 1)], size=1.8))]
