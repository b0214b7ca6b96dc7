"""Ex4: decoded_grid, 10 rows x 10 columns of 28x28 decoded images over latent dims 0 and 1.

The format point is the contract's (autograder/contract.py). The other three judge what the grid shows, read out
of whatever container holds it (a 280x280 mosaic, 100 images in a row, extra size-1 dims), so right content in
another container loses only the format point; a grid of another size is judged on its pixels and orientation.

What the kit knows about this exercise: how to read the student's answer (shared by the checks, the
feedback and the class report), its title, format rules and feedback pictures. Its checks are
autograder/checks/test_ex4_grid.py.
"""
import numpy as np
import course_config as cfg
from reference import lesson
from autograder import contract, drawing
from autograder.compare import CheckFailed, as_array, is_close, read_once
from autograder.diagnoses import varied_dims

CELL = "ex4_grid"


N = lesson.EX4_GRID_SIZE


LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]


SIDE = 28


DECODER_FC = 64 * 7 * 7  # what model.decoder_fc(z) gives, before the transposed convolutions make the image


MAX_PADDING = 4  # torchvision's make_grid pads 2 pixels by default


# Stored pictures (a dataset's images) have pixels that are whole multiples of 1/255 and change more when encoded and
# decoded again than decoder outputs do: measured median change 0.05 for training images, 0.02 for the reference grid
# (0.014 for reconstructions). Both together: a decoded grid saved as 8-bit (quantized) still stays far below this.
STORED_PICTURE_MEDIAN_CHANGE = 0.035
MONOTONE_MIN_CORRELATION = 0.9  # a grid's pixels through an increasing map still correlate this well with them


MONOTONE_MAX_FALL = 0.02  # of the grid's pixel range: how far its pixels may fall, in the order of the decoder's


def _images(array: np.ndarray):
    """(rows, cols, 28, 28) when the array unambiguously holds a grid of 28x28 images, else None."""
    sized = array.reshape([d for d in array.shape if d != 1] or [1])
    if sized.ndim == 4 and sized.shape[2:] == (SIDE, SIDE):
        return sized
    if sized.ndim == 3 and sized.shape[2] == SIDE * SIDE:
        return sized.reshape(*sized.shape[:2], SIDE, SIDE)
    if sized.ndim in (2, 3) and sized.shape[-2:] == (SIDE, SIDE) or sized.ndim == 2 and sized.shape[1] == SIDE * SIDE:
        images = sized.reshape(-1, SIDE, SIDE)  # images in a row, row by row: a square count makes a square grid
        side = int(round(np.sqrt(len(images))))
        return images.reshape(side, side, SIDE, SIDE) if side * side == len(images) else None
    if sized.ndim == 3 and sized.shape[0] == 3 and np.allclose(sized[0], sized[1:]):
        sized = sized[0]  # a grey mosaic saved with 3 identical channels (make_grid does this)
    if sized.ndim == 2:
        return _mosaic(sized)
    return None


def _mosaic(image: np.ndarray):
    """A mosaic of 28x28 tiles with a constant border of p pixels between them and around them (p = 0 to 4)."""
    height, width = image.shape
    for pad in range(MAX_PADDING + 1):
        if (height - pad) % (SIDE + pad) or (width - pad) % (SIDE + pad):
            continue
        rows, cols = (height - pad) // (SIDE + pad), (width - pad) // (SIDE + pad)
        keep = np.zeros_like(image, dtype=bool)
        for r in range(rows):
            for c in range(cols):
                top, left = pad + r * (SIDE + pad), pad + c * (SIDE + pad)
                keep[top:top + SIDE, left:left + SIDE] = True
        border = image[~keep]
        if rows and cols and (border.size == 0 or np.ptp(border) == 0):
            tiles = image[keep].reshape(rows, SIDE, cols, SIDE)
            return tiles.transpose(0, 2, 1, 3)
    return None


def raw_grid(student) -> np.ndarray:
    return read_once(student, "raw_grid", lambda: _raw_grid(student))


def _raw_grid(student) -> np.ndarray:
    """The student's grid as (rows, cols, 28, 28) on their own pixel scale; CheckFailed when none can be read."""
    array = as_array(student.get("decoded_grid"), "decoded_grid")
    grid = _images(array) if array.size else None
    if grid is None and array.size and array.shape[-1] == DECODER_FC:
        raise CheckFailed(f"decoded_grid holds the output of the decoder's first layer, decoder_fc ({DECODER_FC} = "
                          f"64x7x7 numbers per cell, shape {tuple(array.shape)}), not images: model.decode(z) runs "
                          "the whole decoder and returns the 28x28 image.")
    if grid is None and array.size and array.shape[-1] == LATENT_DIM:
        raise CheckFailed(f"decoded_grid holds latent codes ({LATENT_DIM} numbers per cell, shape "
                          f"{tuple(array.shape)}), not images: decode each z with model.decode(z) and keep the image.")
    if grid is None:
        contract.grid_format(student.get("decoded_grid"), N)  # names the problem: empty, or the shape
        raise CheckFailed(f"decoded_grid has shape {tuple(array.shape)}: the grader cannot read 28x28 images "
                          "out of it.")
    return grid


def student_grid(student) -> np.ndarray:
    return read_once(student, "grid", lambda: _student_grid(student))


def _student_grid(student) -> np.ndarray:
    """The grid on a 0-1 scale: 0-255 divided by 255; values below 0 (logits, taken before the decoder's final
    sigmoid, or a shifted scale) through the sigmoid, an increasing map. The scale is judged once, in
    test_pixel_scale; the other checks and the pictures see 0-1."""
    grid = raw_grid(student)
    if grid.min() < 0:
        return 1.0 / (1.0 + np.exp(-np.clip(grid, -60.0, 60.0)))
    return grid / 255.0 if grid.max() > cfg.PIXEL_SCALE_MAX else grid


def require_decoded_images(grid, reference):
    """Format points are for a grid of decoded images, not for any array of the right shape (random pixels, a
    blank grid): a decode has structure and changes little when encoded and decoded again."""
    images = grid.reshape(-1, SIDE, SIDE)
    distances = reference.decoder_distance(images)
    stored = np.abs(images * 255 - np.round(images * 255)).max(axis=(1, 2)) < 1e-3  # every pixel k/255
    if stored.mean() > 0.5 and np.median(distances) > STORED_PICTURE_MEDIAN_CHANGE:
        raise CheckFailed(
            f"decoded_grid holds stored pictures, not decoder outputs: {int(stored.sum())} of {len(images)} cells "
            "have only pixels that are whole multiples of 1/255, as a dataset's images do, and they change a median "
            f"{np.median(distances):.3f} when encoded and decoded again (decoded images: about 0.02). Fill each cell "
            "with model.decode(z) for the grid's z.")
    flat = images.std(axis=(1, 2)) < cfg.DECODED_MIN_CONTRAST
    far = int(((distances > cfg.DECODED_LIKE_DISTANCE) | flat).sum())
    if far > len(images) // 2:
        raise CheckFailed(
            f"decoded_grid does not hold images made by the VAE's decoder: {far} of {len(images)} cells are blank "
            f"or change a lot when encoded and decoded again (median change {np.median(distances):.2f}; decoded "
            f"images stay below {cfg.DECODED_LIKE_DISTANCE}). Fill each cell with model.decode(z).")


def require_decoded_cells(student, reference):
    """require_decoded_images on the student's grid, once for both format checks."""
    read_once(student, "decoded_like", lambda: require_decoded_images(student_grid(student), reference))


def shows_the_required_images(student, reference) -> str:
    """"exact" when the grid holds the required 100 images in some arrangement, "rescaled" when it holds them with
    its pixels through an increasing map, "" otherwise; worked out once for the cell's checks."""
    def look():
        got, expected = student_grid(student), reference["ex4.decoded_grid"]
        if got.shape[:2] != (N, N):
            return ""
        if any(is_close(a, expected, cfg.IMAGE_TOLERANCE) for a in arrangements(got)):
            return "exact"
        return "rescaled" if any(same_images(a, expected) for a in arrangements(got)) else ""
    return read_once(student, "shows_required", look)


def same_images(got: np.ndarray, candidate: np.ndarray) -> bool:
    """got shows candidate's images, its pixels through one increasing map (a rescale, a second sigmoid): a
    pixel-scale mistake, charged once in test_pixel_scale, never a reason to say the images are not there."""
    if got.shape != candidate.shape:
        return False
    if is_close(got, candidate, cfg.IMAGE_TOLERANCE):
        return True
    x, y = candidate.reshape(-1), got.reshape(-1)
    if y.std() < cfg.DECODED_MIN_CONTRAST or np.corrcoef(x, y)[0, 1] < MONOTONE_MIN_CORRELATION:
        return False  # cheap first: a wrong arrangement or another grid is far from this
    in_order = y[np.argsort(x, kind="stable")]  # got's pixels in the order of candidate's: never falling, if one map
    fall = (np.maximum.accumulate(in_order) - in_order).max()
    return bool(fall <= MONOTONE_MAX_FALL * np.ptp(y))


def arrangements(grid):
    for k in range(4):
        rotated = np.rot90(grid, k, axes=(0, 1))
        yield rotated
        yield rotated.transpose(1, 0, 2, 3)


def wrong_size(grid) -> str:
    rows, cols = grid.shape[:2]
    return (f"decoded_grid shows {rows}x{cols} images; the exercise asks for {N}x{N} over dims 0 and 1 from "
            f"{lesson.EX4_GRID_RANGE[0]:g} to {lesson.EX4_GRID_RANGE[1]:+g}, so these are not the required cells.")


def last_code(student):
    last = student.get("z")
    return last.array if last is not None and last.kind == "array" and last.array.size == 32 else None


def grid_over(reference, rows, cols, low, high, base, dims=lesson.EX4_DIMS) -> np.ndarray:
    """Reference decodes of a rows x cols grid over [low, high] in dims[0] (columns) and dims[1] (rows, top =
    high), every other dim as in `base`."""
    codes = np.tile(base.reshape(1, 1, 32), (rows, cols, 1))
    codes[..., dims[0]] = np.linspace(low, high, cols)[None, :]
    codes[..., dims[1]] = np.linspace(high, low, rows)[:, None]
    return reference.decode(codes.reshape(-1, 32)).reshape(rows, cols, SIDE, SIDE)


def layouts(student):
    """(low, high, base, dims): the required range with other dims 0, then what the student's last code shows:
    their range, their other dims, or the two other dims they varied."""
    yield (*lesson.EX4_GRID_RANGE, np.zeros(32), lesson.EX4_DIMS)
    z = last_code(student)
    if z is None:
        return
    z = z.reshape(-1)
    dims = varied_dims(z) or lesson.EX4_DIMS
    a, b = z[list(dims)]
    for low, high in {lesson.EX4_GRID_RANGE, (min(a, b), max(a, b)), (-max(abs(a), abs(b)), max(abs(a), abs(b)))}:
        if high > low:
            yield low, high, z, dims


ARRANGEMENT_NAMES = [(lambda g: g[::-1], "it is upside down: row 0 must be dim 1 at its largest (the top of the plot)"),
                     (lambda g: g[:, ::-1], "left and right are swapped: column 0 must be dim 0 at its smallest"),
                     (lambda g: g[::-1, ::-1], "it is rotated by 180 degrees"),
                     (lambda g: g.transpose(1, 0, 2, 3), "dims 0 and 1 are swapped: columns vary dim 0, rows dim 1")]


# ------------------------------------------------------------------------------------------------ what students see
# The checks the notebook's own format tests state: all a student reads when FEEDBACK_ON_SUBMIT is "format".
FORMAT_CHECKS = ("shape", "pixel_scale")
TITLE = "Exercise 4: the latent grid"
FORMAT_SUMMARY = "decoded_grid is in the format the autograder reads, pixels in [0, 1]; it judges the images."


def format_rules() -> list:
    """The visible checks' rules (autograder/contract.py), with course_config's values when the notebook is built."""
    return [("grid", "decoded_grid", {"grid_size": N, "pixel_max": cfg.PIXEL_SCALE_MAX})]


def pictures(answers, reference) -> list:
    grid = student_grid(answers)
    expected = reference["ex4.decoded_grid"]
    panels = [(drawing.grid_image(grid), "your decoded_grid", "gray", 1),
              (drawing.grid_image(expected), "reference", "gray", 1)]
    if grid.shape == expected.shape:
        panels.append((drawing.grid_image(np.abs(grid - expected)), "|difference|", "magma", 0.5))
    return [("Your grid (as the grader read it, on a 0-1 scale), the reference grid"
             + (", and where they differ." if len(panels) == 3 else "."), drawing.panels(panels, size=3.6))]
