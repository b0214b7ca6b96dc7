"""Ex4: decoded_grid, 10 rows x 10 columns of 28x28 decoded images over latent dims 0 and 1.

The checks only; reading the answer and what they share: autograder/exercises/ex4_grid.py."""
import course_config as cfg
from autograder import contract
from autograder.compare import CheckFailed, PassedBecause, error_report, is_close
from autograder.diagnoses import diagnose
from autograder.exercises.ex4_grid import (
    ARRANGEMENT_NAMES, N, arrangements, grid_over, last_code, layouts, wrong_size, raw_grid, require_decoded_cells, same_images, shows_the_required_images, student_grid,
)


def test_shape(student, reference):
    grid = student_grid(student)
    require_decoded_cells(student, reference)
    try:
        contract.grid_format(student.get("decoded_grid"), N)
    except CheckFailed as err:
        if grid.shape[:2] == (N, N):
            raise CheckFailed(f"{err} The grader read the {N}x{N} images out of it all the same, so only this "
                              "format point is lost.") from None
        raise


def test_pixel_scale(student, reference):
    grid = raw_grid(student)
    require_decoded_cells(student, reference)
    contract.pixel_scale(grid, cfg.PIXEL_SCALE_MAX)
    got = student_grid(student)
    if shows_the_required_images(student, reference) == "rescaled":
        raise CheckFailed(f"decoded_grid's pixels run from {got.min():.3g} to {got.max():.3g}: they are the decoded "
                          "images through another increasing map (a second sigmoid, a rescale), not the decoder's "
                          "own values, which run from about 0 to 1. Keep model.decode(z)'s output as it is.")


def test_cells(student, reference):
    """The right 100 images, in whatever arrangement (orientation is its own check)."""
    got, expected = student_grid(student), reference["ex4.decoded_grid"]
    if got.shape[:2] != (N, N):
        raise CheckFailed(wrong_size(got))
    shown = shows_the_required_images(student, reference)
    if shown == "rescaled":
        raise PassedBecause("The right 100 images, on another pixel scale (charged once, in pixel_scale).")
    if not shown:
        context = {"reference": reference, "last_code": last_code(student)}
        found = diagnose("ex4.decoded_grid", got, context, cfg.IMAGE_TOLERANCE)
        raise CheckFailed(found or f"decoded_grid's images are not the decoded grid over dims 0 and 1 from -3 to +3 "
                                   f"with all other dims 0: {error_report(got, expected)}.")


def test_orientation(student, reference):
    """Judged on what the grid shows: the required grid, or one of the student's own size and range."""
    got, expected = student_grid(student), reference["ex4.decoded_grid"]
    if got.shape[:2] == (N, N) and any(is_close(a, expected, cfg.IMAGE_TOLERANCE) for a in arrangements(got)):
        if not is_close(got, expected, cfg.IMAGE_TOLERANCE):
            raise CheckFailed(diagnose("ex4.decoded_grid", got, {"reference": reference}, cfg.IMAGE_TOLERANCE))
        return
    rows, cols = got.shape[:2]
    for low, high, base, dims in layouts(student):
        own = grid_over(reference, rows, cols, low, high, base, dims)
        if same_images(got, own):
            return  # the right layout; the cells and pixel checks say what else is wrong
        for arrange, name in ARRANGEMENT_NAMES:
            if same_images(got, arrange(own)):
                raise CheckFailed(f"Judged on your {rows}x{cols} grid over dims {dims[0]} and {dims[1]} from "
                                  f"{low:g} to {high:+g}: {name}.")
    raise CheckFailed("Orientation can only be judged on a grid the grader recognises: the required one, or one "
                      "of your own size, range and pair of dims (see the check above).")
