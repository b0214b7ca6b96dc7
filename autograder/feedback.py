"""Feedback a student reads: a table of checks per graded cell, and pictures of their answer beside the reference.

Shared by nbgrader (the outputs of each test cell, shown by formgrader and generate_feedback) and the CLI.
"""
import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import course_config as cfg  # noqa: E402
from reference import lesson  # noqa: E402
from autograder.reference_answers import verdict_name  # noqa: E402
from autograder.pages import page  # noqa: E402
from autograder.printable import printable  # noqa: E402
from autograder.results import score  # noqa: E402

TITLES = {"ex3_arithmetic": "Exercise 3: latent arithmetic", "ex4_grid": "Exercise 4: the latent grid",
          "ex5_experiment": "Exercise 5: targeted generation"}


def text_report(cell_id, results, notes=()) -> str:
    lines = [f"{TITLES.get(cell_id, cell_id)}: {score(results):g} / {sum(r.max_points for r in results):g}"]
    for r in results:  # a message quotes what the student's code said: one line each, control characters escaped
        lines.append(f"  [{'PASS' if r.passed else 'FAIL'}] {r.name} ({r.points:g}/{r.max_points:g})"
                     + (f": {printable(r.message)}" if r.message else ""))
    lines += [f"  Note: {printable(note)}" for note in notes]
    return "\n".join(lines)


def html_report(cell_id, results, pictures=(), notes=()) -> str:
    return page("feedback_cell.html.j2", title=TITLES.get(cell_id, cell_id), score=score(results),
                total=sum(r.max_points for r in results), results=results, notes=notes, pictures=pictures)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)  # layouts are set by hand: bbox_inches="tight" draws everything twice
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _panels(panels, size=3.0) -> str:
    """One row of pictures, each [(image, title, cmap, vmax)] in an axes of its own, as a base64 PNG."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.35), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=size / (size + 0.35), wspace=0.04)
    for ax, (image, title, cmap, vmax) in zip(axes[0], panels):
        ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return _png(fig)


def grid_image(grid) -> np.ndarray:
    """(10, 10, 28, 28) -> one (280, 280) mosaic."""
    return np.asarray(grid).transpose(0, 2, 1, 3).reshape(grid.shape[0] * 28, grid.shape[1] * 28)


def ex3_pictures(reference, z_result):
    """The student's decoded z_result beside the reference's."""
    expected = reference.decode(reference["ex3.z_result"].reshape(1, -1))[0]
    got = reference.decode(np.asarray(z_result, dtype=np.float64).reshape(1, -1))[0]
    return [("Your z_result decoded by the reference VAE, beside the reference result.",
             _panels([(got.reshape(28, 28), "yours: decode(z_result)", "gray", 1),
                      (expected.reshape(28, 28), "reference", "gray", 1)], size=1.8))]


def ex4_pictures(reference, grid):
    expected = reference["ex4.decoded_grid"]
    panels = [(grid_image(grid), "your decoded_grid", "gray", 1), (grid_image(expected), "reference", "gray", 1)]
    if grid.shape == expected.shape:
        panels.append((grid_image(np.abs(grid - expected)), "|difference|", "magma", 0.5))
    return [("Your grid (as the grader read it, on a 0-1 scale), the reference grid"
             + (", and where they differ." if len(panels) == 3 else "."), _panels(panels, size=3.6))]


LABEL_BAND, GAP = 10, 2  # pixels above each decoded image for the judge's label, and between images


def labelled_mosaic(images, labels, target, cols=10) -> str:
    """Decoded images in rows of `cols`, each under the judge's label (green on target, red otherwise), drawn
    as one image and one text per label: far cheaper than an axes per image."""
    rows = (len(images) + cols - 1) // cols
    cell_h, cell_w = 28 + LABEL_BAND + GAP, 28 + GAP
    mosaic = np.ones((rows * cell_h, cols * cell_w))
    for i, image in enumerate(images):
        top, left = (i // cols) * cell_h + LABEL_BAND, (i % cols) * cell_w
        mosaic[top:top + 28, left:left + 28] = np.asarray(image).reshape(28, 28)
    scale = 1.1 / cell_w  # inches per mosaic pixel: about 1.1 inch per image
    fig = plt.figure(figsize=(mosaic.shape[1] * scale, mosaic.shape[0] * scale))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    for i, label in enumerate(labels):
        ax.text((i % cols) * cell_w + 14, (i // cols) * cell_h + LABEL_BAND - 1.5, verdict_name(label),
                ha="center", va="bottom", fontsize=8, color="green" if label == target else "red")
    return _png(fig)


def ex5_pictures(reference, codes_by_technique, target):
    pictures = []
    for technique, codes in list(codes_by_technique.items())[:10]:  # a picture each for the first ten techniques
        images = reference.decode(codes[:30])
        pictures.append((f"{technique}: your codes decoded by the reference VAE, with the judge's label "
                         f"(green = {lesson.CATEGORY_NAMES[target] if target is not None else 'target'}).",
                         labelled_mosaic(images, reference.judge(images), target)))
    return pictures


def notes_for(cell_id, answers) -> list:
    """What the checks left out of judging, said once per cell even when every check passed."""
    from autograder.checks import test_ex5_experiment

    if cell_id != "ex5_experiment":
        return []
    try:
        n = sum(len(codes) for codes in test_ex5_experiment.techniques(answers, strict=False).values())
    except Exception:  # noqa: BLE001  an unreadable experiment already has its messages
        return []
    if n > cfg.EX5_MAX_CODES:
        return [f"only the first {cfg.EX5_MAX_CODES} of your {n} codes were decoded and judged."]
    return []


def pictures_for(cell_id, answers, reference) -> list:
    """(caption, base64 PNG) pairs for a cell; none when the answer is too broken to draw."""
    from autograder.checks import test_ex3_arithmetic, test_ex4_grid, test_ex5_experiment

    try:
        if cell_id == "ex3_arithmetic":
            return ex3_pictures(reference, test_ex3_arithmetic.read_value(answers, "z_result"))
        if cell_id == "ex4_grid":
            return ex4_pictures(reference, test_ex4_grid.student_grid(answers))
        if cell_id == "ex5_experiment":
            try:
                target = test_ex5_experiment.target_category(answers, strict=False)
            except AssertionError:
                target = None
            return ex5_pictures(reference, test_ex5_experiment.techniques(answers, strict=False), target)
    except Exception:  # noqa: BLE001  a picture is a courtesy; a broken answer already has its messages
        return []
    return []
