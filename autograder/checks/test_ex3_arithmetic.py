"""Ex3: boot_direction = ankle boot - sneaker; z_result = sandal + boot_direction (20-item mean mu codes).

The checks only; reading the answer and what they share: autograder/exercises/ex3_arithmetic.py."""
import numpy as np

import course_config as cfg
from autograder import contract
from autograder.compare import CheckFailed, PassedBecause, is_close
from autograder.exercises.ex3_arithmetic import (
    SHAPE, averages_message, fail_with_diagnosis, off_averages, own_value, raw_value, reference_average, same_arithmetic, shape_of_the_averages, read_value,
)


def test_shapes(student, reference):
    for name in ("boot_direction", "z_result"):
        try:
            read_value(student, name)
        except CheckFailed as err:
            cause = shape_of_the_averages(student)
            raise CheckFailed(f"{str(err).rstrip('.')}: {cause}." if cause else str(err)) from None


def test_boot_direction(student, reference):
    raw = raw_value(student, "boot_direction")
    if raw is not None and not contract.same_numbers_shape(raw.shape, SHAPE):
        averages = shape_of_the_averages(student)
        if averages and same_arithmetic(raw, raw_value(student, "z_ankle_boot_avg"), raw_value(student, "z_sneaker_avg"),
                                         sign=-1):
            raise CheckFailed(f"`boot_direction` = z_ankle_boot_avg - z_sneaker_avg is the right arithmetic, but "
                              f"{averages}. This costs this step once; the next step is judged on your own values.")
        if averages and same_arithmetic(raw, raw_value(student, "z_sneaker_avg"), raw_value(student, "z_ankle_boot_avg"),
                                         sign=-1):
            raise CheckFailed(f"`boot_direction` is your z_sneaker_avg - your z_ankle_boot_avg: it points the wrong "
                              f"way (the direction from sneaker to ankle boot is ankle boot minus sneaker), and "
                              f"{averages}. The next step is judged on your own values.")
    got, expected = read_value(student, "boot_direction"), reference["ex3.boot_direction"]
    if is_close(got, expected, cfg.LATENT_TOLERANCE):
        return
    boot, sneaker = own_value(student, "z_ankle_boot_avg"), own_value(student, "z_sneaker_avg")
    off = off_averages(student, reference, ["z_ankle_boot_avg", "z_sneaker_avg"])
    if off and boot is not None and sneaker is not None and is_close(got, boot - sneaker, cfg.LATENT_TOLERANCE):
        raise CheckFailed(averages_message("boot_direction", off, reference))
    fail_with_diagnosis("boot_direction", got, expected, reference, {}, student.get("boot_direction"))


def test_z_result(student, reference):
    """Right when it equals the reference, or the student's own sandal average + their own boot_direction, unless
    that sandal average is a deviation no earlier step has charged for."""
    raw = raw_value(student, "z_result")
    if raw is not None and not contract.same_numbers_shape(raw.shape, SHAPE):
        if same_arithmetic(raw, raw_value(student, "z_sandal_avg"), raw_value(student, "boot_direction")):
            raise PassedBecause(f"Full points: `z_result` is your `z_sandal_avg` + your `boot_direction`, the right "
                                f"arithmetic on values of shape {tuple(raw.shape)} instead of {SHAPE}; that shape "
                                "mistake is charged above, once.")
    got = read_value(student, "z_result")
    if is_close(got, reference["ex3.z_result"], cfg.LATENT_TOLERANCE):
        return
    direction = own_value(student, "boot_direction")
    context = {} if direction is None else {"student_direction": direction}
    direction = reference["ex3.boot_direction"] if direction is None else direction
    sandal = own_value(student, "z_sandal_avg")
    sandal = reference_average(reference, "z_sandal_avg") if sandal is None else sandal
    if is_close(got, sandal + direction, cfg.LATENT_TOLERANCE):
        zeros = [f"your `{name}`" for name, value in (("z_sandal_avg", sandal), ("boot_direction", direction))
                 if np.abs(value).max() <= cfg.LATENT_TOLERANCE["atol"]]
        if zeros and not is_close(got, reference["ex3.z_result"], cfg.LATENT_TOLERANCE):
            raise CheckFailed(f"`z_result` is your z_sandal_avg + your boot_direction, but {' and '.join(zeros)} "
                              f"{'is' if len(zeros) == 1 else 'are'} all zeros: adding zero shows no arithmetic to "
                              "credit. Compute the averages from encode_to_mu, then the direction, then the sum.")
        off = off_averages(student, reference, ["z_sandal_avg"])
        charged = (off_averages(student, reference, ["z_ankle_boot_avg", "z_sneaker_avg"])
                   and not is_close(direction, reference["ex3.boot_direction"], cfg.LATENT_TOLERANCE))
        if off and not charged:
            raise CheckFailed(averages_message("z_result", off, reference))
        if not is_close(direction, reference["ex3.boot_direction"], cfg.LATENT_TOLERANCE):
            raise PassedBecause("Full points: `z_result` is your `z_sandal_avg` + your `boot_direction`, the right "
                                "arithmetic. Your `boot_direction` is not the reference's (that check above took "
                                "its points), so this result and its picture differ from the reference's too; the "
                                "one mistake costs once.")
        return
    expected = reference_average(reference, "z_sandal_avg") + direction
    fail_with_diagnosis("z_result", got, expected, reference, context, student.get("z_result"))
