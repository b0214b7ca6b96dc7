"""Ex4: decoded_grid, 10 rows x 10 columns of 28x28 decoded images over latent dims 0 and 1."""
import numpy as np

import course_config as cfg
from autograder.compare import CheckFailed, as_array, error_report, is_close, same_numbers_shape
from autograder.diagnoses import CHECK_DIAGNOSES, diagnose

CELL = "ex4_grid"
N = cfg.EX4_GRID_SIZE


def student_grid(student):
    """decoded_grid as (10, 10, 28, 28) on a 0-1 scale, whatever its layout; CheckFailed if it cannot be."""
    array = as_array(student.get("decoded_grid"), "decoded_grid")
    if array.size == 0:
        raise CheckFailed("`decoded_grid` is empty: the loop that fills it stopped before its first image. Fill in "
                          "the TODO inside the loop, then run the cell.")
    if array.shape[:2] != (N, N) and array.ndim >= 1 and array.shape[0] == N * N:
        array = array.reshape(N, N, *array.shape[1:])  # a flat list of 100 images, row by row
    if array.shape[:2] != (N, N):
        raise CheckFailed(CHECK_DIAGNOSES["ex4_wrong_grid_size"].format(shape=tuple(array.shape)))
    if array[0, 0].size != 28 * 28:
        raise CheckFailed(CHECK_DIAGNOSES["ex4_wrong_image_shape"].format(shape=tuple(array.shape[2:])))
    array = array.reshape(N, N, 28, 28)
    if array.max() > cfg.PIXEL_SCALE_MAX:
        array = array / 255.0  # judged once, in test_pixel_scale; the other checks see the 0-1 grid
    return array


def require_decoded_images(grid, reference):
    """Format points are for a grid of decoded images, not for any array of the right shape (random pixels)."""
    distances = reference.decoder_distance(grid.reshape(-1, 28, 28))
    far = int((distances > cfg.DECODED_LIKE_DISTANCE).sum())
    if far > distances.size // 2:
        raise CheckFailed(
            f"decoded_grid does not hold images made by the VAE's decoder: {far} of {distances.size} cells change "
            f"a lot when encoded and decoded again (median {np.median(distances):.2f}; decoded images stay below "
            f"{cfg.DECODED_LIKE_DISTANCE}). Fill each cell with model.decode(z).")


def test_shape(student, reference):
    shape = as_array(student.get("decoded_grid"), "decoded_grid").shape
    require_decoded_images(student_grid(student), reference)  # unreadable grids fail in student_grid
    if not same_numbers_shape(shape, (N, N, 28, 28)):
        key = "ex4_wrong_image_shape" if shape[:2] == (N, N) else "ex4_wrong_grid_size"
        raise CheckFailed(CHECK_DIAGNOSES[key].format(shape=shape[2:] if key == "ex4_wrong_image_shape" else shape))


def test_pixel_scale(student, reference):
    array = as_array(student.get("decoded_grid"), "decoded_grid")
    require_decoded_images(student_grid(student), reference)  # unreadable grids fail in student_grid
    if array.max() > cfg.PIXEL_SCALE_MAX:
        raise CheckFailed(CHECK_DIAGNOSES["ex4_pixels_0_255"].format(max=array.max()))
    if array.min() < 0:
        raise CheckFailed(f"decoded_grid has negative pixels (min {array.min():.3g}); decoded images lie in [0, 1].")


def _arrangements(grid):
    for k in range(4):
        rotated = np.rot90(grid, k, axes=(0, 1))
        yield rotated
        yield rotated.transpose(1, 0, 2, 3)


def test_cells(student, reference):
    """The right 100 images, in whatever arrangement (orientation is its own check)."""
    got, expected = student_grid(student), reference["ex4.decoded_grid"]
    if not any(is_close(a, expected, cfg.IMAGE_TOLERANCE) for a in _arrangements(got)):
        last = student.get("z")
        context = {"reference": reference, "last_code": last.array if last is not None and last.kind == "array" else None}
        found = diagnose("ex4.decoded_grid", got, context, cfg.IMAGE_TOLERANCE)
        raise CheckFailed(found or f"decoded_grid's images are not the decoded grid over dims 0 and 1 from -3 to +3 "
                                   f"with all other dims 0: {error_report(got, expected)}.")


def test_orientation(student, reference):
    got, expected = student_grid(student), reference["ex4.decoded_grid"]
    if not is_close(got, expected, cfg.IMAGE_TOLERANCE):
        if not any(is_close(a, expected, cfg.IMAGE_TOLERANCE) for a in _arrangements(got)):
            raise CheckFailed("Orientation can only be judged once the cells are right (see the check above).")
        raise CheckFailed(diagnose("ex4.decoded_grid", got, {"reference": reference}, cfg.IMAGE_TOLERANCE))
