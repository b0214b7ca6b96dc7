"""Ex3: boot_direction = ankle boot - sneaker; z_result = sandal + boot_direction (20-item mean mu codes)."""
import course_config as cfg
from autograder.compare import CheckFailed, as_array, error_report, is_close, reshape_like
from autograder.diagnoses import CHECK_DIAGNOSES, diagnose, looks_sampled

CELL = "ex3_arithmetic"
SHAPE = (1, 32)


def _fail_with_diagnosis(name, got, expected, reference, context, answer):
    found = diagnose(f"ex3.{name}", got, {"reference": reference, **context}, cfg.LATENT_TOLERANCE)
    if not found and looks_sampled(got, expected, reference["category_mean_logvar"][cfg.EX3_CATEGORIES["sandal"]],
                                   cfg.EX3_N_SAMPLES):
        found = CHECK_DIAGNOSES["ex3_sampled_z"].format(name=name)
    details = (f"{error_report(got, expected)}; you gave a {answer.describe()}, the reference is a float32 tensor "
               f"of shape {SHAPE}")
    raise CheckFailed(f"{found} ({details})" if found else f"`{name}` does not match the reference: {details}.")


def test_shapes(student, reference):
    for name in ("boot_direction", "z_result"):
        array = as_array(student.get(name), name)
        reshape_like(array, SHAPE, name)


def test_boot_direction(student, reference):
    expected = reference["ex3.boot_direction"]
    got = reshape_like(as_array(student.get("boot_direction"), "boot_direction"), SHAPE, "boot_direction")
    if not is_close(got, expected, cfg.LATENT_TOLERANCE):
        _fail_with_diagnosis("boot_direction", got, expected, reference, {}, student.get("boot_direction"))


def test_z_result(student, reference):
    """Judged on the student's own boot_direction when it has the right shape, so one mistake costs once."""
    got = reshape_like(as_array(student.get("z_result"), "z_result"), SHAPE, "z_result")
    sandal = reference["category_mean_mu"][cfg.EX3_CATEGORIES["sandal"]][None, :]
    context = {}
    try:
        direction = reshape_like(as_array(student.get("boot_direction"), "boot_direction"), SHAPE, "boot_direction")
        context["student_direction"] = direction
    except CheckFailed:
        direction = reference["ex3.boot_direction"]
    expected = sandal + direction
    if not is_close(got, expected, cfg.LATENT_TOLERANCE):
        _fail_with_diagnosis("z_result", got, expected, reference, context, student.get("z_result"))
