"""The lesson's Ex3 and Ex4 pictures, drawn as the lesson draws them (dark background, grey images)."""
import matplotlib

matplotlib.use("Agg")  # files only; no display on a grading server
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _gray(ax, image, title=None):
    ax.imshow(np.asarray(image).squeeze(), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)


def arithmetic_panel(img_sneaker, img_ankle_boot, img_sandal, img_result, path, result_title="Sandal + Boot-ness"):
    """Avg sneaker, avg ankle boot, their decoded difference, avg sandal, sandal + boot-ness."""
    with plt.style.context("dark_background"):
        fig, axes = plt.subplots(1, 5, figsize=(14, 3))
        _gray(axes[0], img_sneaker, "Avg Sneaker")
        _gray(axes[1], img_ankle_boot, "Avg Ankle Boot")
        diff = np.asarray(img_ankle_boot).squeeze() - np.asarray(img_sneaker).squeeze()
        axes[2].imshow(diff, cmap="RdBu", vmin=-0.5, vmax=0.5)
        axes[2].set_title('"Boot-ness"\ndirection', fontsize=11)
        axes[2].axis("off")
        _gray(axes[3], img_sandal, "Avg Sandal")
        _gray(axes[4], img_result, result_title)
        for x, sign in zip((0.26, 0.445, 0.635, 0.82), "-=+="):
            fig.text(x, 0.5, sign, fontsize=24, ha="center", va="center", color="white")
        plt.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)


def latent_grid(decoded_grid, path, title="Decoded Images Across a 2D Slice of the Latent Space",
                x_label="Latent Dimension 1 (from -3 to +3)", y_label="Latent Dimension 2 (from -3 to +3)"):
    """A rows x cols grid of 28x28 images; row 0 is the top of the plot."""
    decoded_grid = np.asarray(decoded_grid)
    rows, cols = decoded_grid.shape[:2]
    with plt.style.context("dark_background"):
        fig, axes = plt.subplots(rows, cols, figsize=(12, 12))
        for r in range(rows):
            for c in range(cols):
                _gray(axes[r, c], decoded_grid[r, c])
        fig.text(0.5, 0.02, x_label, ha="center", fontsize=13)
        fig.text(0.02, 0.5, y_label, va="center", rotation="vertical", fontsize=13)
        fig.suptitle(title, fontsize=14, y=0.98)
        plt.tight_layout(rect=[0.03, 0.03, 1, 0.97])
        fig.savefig(path, dpi=60)
        plt.close(fig)
