"""Pictures for feedback: rows of panels, the grid as one mosaic, decoded images under the judge's labels, as
base64 PNGs. The exercises draw theirs with these (autograder/exercises/)."""
import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autograder.reference_answers import verdict_name  # noqa: E402


def png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)  # layouts are set by hand: bbox_inches="tight" draws everything twice
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def panels(panels, size=3.0) -> str:
    """One row of pictures, each [(image, title, cmap, vmax)] in an axes of its own, as a base64 PNG."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.35), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=size / (size + 0.35), wspace=0.04)
    for ax, (image, title, cmap, vmax) in zip(axes[0], panels):
        ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return png(fig)


def grid_image(grid) -> np.ndarray:
    """(10, 10, 28, 28) -> one (280, 280) mosaic."""
    return np.asarray(grid).transpose(0, 2, 1, 3).reshape(grid.shape[0] * 28, grid.shape[1] * 28)


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
    return png(fig)
