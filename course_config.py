"""Latent Lab course settings: the one file an instructor edits.

Every value carries a one-line reason. nbgrader_config.py, the reference package, the notebooks' build
and the autograder all read their settings from here, so nothing is configured twice. What the lesson and the
shipped models are (its numbers, training recipes, pinned hashes) is not a setting: see reference/lesson.py.
"""
import os
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent
COURSE_ID = "latent_lab"      # nbgrader course id (the exchange and formgrader show it)
ASSIGNMENT_ID = "latent_space"  # nbgrader assignment name; also the folder under source/ and release/

# ---------------------------------------------------------------- data
# Where the staged Fashion-MNIST lives (torchvision layout: <DATA_DIR>/FashionMNIST/raw/). Gitignored.
DATA_DIR = Path(os.environ.get("LATENT_LAB_DATA", COURSE_ROOT / "data"))  # the notebook reads the same variable
# Where to look for the four .gz files, first to last; FASHION_MNIST_DIR overrides for one run.
FASHION_MNIST_SOURCES = [
    os.environ.get("FASHION_MNIST_DIR", ""),   # an instructor's own copy
    "/usr/share/datasets/fashion-mnist",       # Debian package dataset-fashion-mnist (works offline)
]

# ---------------------------------------------------------------- where generated pictures go
FIGURE_DIR = COURSE_ROOT / "reference" / "figures"   # committed, shown in the README's model card
DEMO_OUTPUT_DIR = COURSE_ROOT / "demo_output"        # what `make demo` writes; gitignored

# ---------------------------------------------------------------- the assignment (source/latent_space)
PREDICT_POINTS = 1            # each PREDICT answer is graded by hand; a small reward for committing to a guess
EX5_INTERPRETATION_POINTS = 3  # the written interpretation of the experiment, graded by hand
# Autograded cells: solution cell id -> the variables its hidden test exports for the grader.
GRADED_ANSWERS = {
    # the three averages only let each step be judged on the student's own inputs (one mistake costs once)
    "ex3_arithmetic": ["boot_direction", "z_result", "z_sneaker_avg", "z_ankle_boot_avg", "z_sandal_avg"],
    "ex4_grid": ["decoded_grid", "z"],          # z (the last code built) only helps name mistakes
    "ex5_experiment": ["TARGET_CATEGORY", "experiment_latents"],
}
# Each autograded cell's points, split over named checks (`make release` carries them into the notebook).
CHECK_POINTS = {
    "ex3_arithmetic": {"shapes": 1.0, "boot_direction": 1.5, "z_result": 1.5},
    "ex4_grid": {"shape": 1.0, "pixel_scale": 1.0, "cells": 1.0, "orientation": 1.0},
    "ex5_experiment": {"contract": 1.0, "diversity": 1.0, "on_target": 2.0},
}
TSNE_POINTS_WHEN_GRADING = 500  # grading never runs the full t-SNE; a 500-point map takes about a second

# ---------------------------------------------------------------- grading
# Locked cells that only draw pictures: the grader skips them (the feedback draws its own), saving ~5 s each run.
SKIP_WHEN_GRADING = ["ex1_tsne", "ex2_interpolation", "ex3_plot", "ex4_plot", "ex5_show"]
CELL_TIMEOUT_SECONDS = 120     # per cell; the slowest cell (full t-SNE) needs ~25 s on 2 cores, so 4x margin
# Tolerances, measured by `python -m tools.calibrate` on 2 CPU cores (max |difference| from the reference):
# honest drift is 0 to 5e-7 across thread counts, oneDNN on/off, one-at-a-time decoding and float64; a float16
# model drifts 1.1e-3 (latents) / 1.4e-3 (pixels), a bfloat16 one 8.7e-3 / 1.5e-2. The subtlest mistakes land at
# 0.075 (19 items averaged instead of 20) and 0.07 (a grid over +-2.9 instead of +-3); classic ones at 1 or more.
LATENT_TOLERANCE = dict(atol=2e-2, rtol=2e-2)  # mu codes and their sums and differences
IMAGE_TOLERANCE = dict(atol=3e-2, rtol=0.0)    # decoded pixels in [0, 1]
PIXEL_SCALE_MAX = 1.0 + 1e-3   # a grid whose pixels exceed this is on the wrong scale (0-255)
EX5_MIN_CODES = 15             # the lesson asks for at least 15 generated images
EX5_MIN_TECHNIQUES = 2         # ... made with at least two techniques
EX5_MAX_CODES = 500            # codes judged at most (the first ones): the duplicate search grows with n squared
# Mean |pixel difference| below which two decoded images count as one: half the smallest step of the example
# experiment's dimension sweep (0.0067); the sweep's own repeated centre image sits at 0.0016.
EX5_DUPLICATE_PIXEL_DISTANCE = 0.004
# The bar is per category, because the VAE blurs some categories into their neighbours (Shirt into T-shirt, Pullover
# and Coat): bar = f + share * (r - f), with r how often the judge names held-out items of the category right and f
# the most often it names the category for another category's items or for samples from the prior. With share 0.5
# an experiment passes when the judge names its category more often than for images half of which were the
# category and half the category it is most confused with (measured bars 0.38 to 0.55).
EX5_ON_TARGET_SHARE = 0.5
# A decoded image changes little when encoded and decoded again (at most 0.08 mean |pixel change| on the reference
# grid); uniform noise changes by 0.25 or more. Ex4's format points need most cells below this.
DECODED_LIKE_DISTANCE = 0.15
DECODED_MIN_CONTRAST = 0.02  # pixel std: the flattest cell of the reference grid has 0.08, a blank cell 0
# Every grading kernel runs in a bubblewrap sandbox (autograder/sandbox.py). "none" grades without isolation:
# student code can then read and change the course; every report says so. Only for a machine without bwrap.
SANDBOX = "bwrap"
# One warm box per grading process: its fork server imports torch & co. once and forks each submission's kernel
# into fresh namespaces (autograder/zygote.py): ~1 s instead of ~8 s of CPU per submission. False: a cold box each.
SANDBOX_WARM = True
# Threads for torch/BLAS in each grading kernel and in the checks: the lesson's small tensors run fastest on one
# (measured 0.71 vs 0.74 s a submission with two), every machine computes the same numbers, --workers uses the cores.
GRADING_THREADS = 1
# CPU kernels for torch, oneDNN and MKL in the grader and every kernel: "avx2" makes AVX-512 machines compute the
# same bits as AVX2 ones (oneDNN's AVX-512 convolutions differ by 1e-7), so a mixed cluster grades alike; "native"
# lets each machine use its own (reference/cpu_kernels.py).
CPU_KERNELS = "avx2"
SANDBOX_LIMITS = dict(
    memory_mb=3072,     # heap per process (RLIMIT_DATA); the kernel uses ~0.9 GB after its imports, ~1.2 GB at most
    file_mb=256,        # largest file the kernel may write (RLIMIT_FSIZE); vae.pt and the exports are far smaller
    processes=64,       # processes and threads in the box; torch starts one thread per core, data loaders a few
    work_mb=512,        # the kernel's cwd and HOME (tmpfs): room for a downloaded dataset copy and figures
    tmp_mb=256,         # /tmp and /dev/shm each (tmpfs)
)
SUBMISSION_TIMEOUT_SECONDS = 600  # whole notebook; an honest one runs in ~10 s when grading, ~45 s with every plot
OUTPUT_LIMIT_BYTES = 2_000_000    # text and pictures kept from one notebook's run; the rest is dropped, with a note

# ---------------------------------------------------------------- the grading service (`latent-lab serve`)
# What a student reads seconds after Submit: "full" (every check's table, message and picture, as generate_feedback
# makes it), "score" (the autograded total only), "format" (only the checks the notebook's own format tests state;
# the hidden checks' results withheld) or "off" (nothing until you release feedback yourself).
FEEDBACK_ON_SUBMIT = "full"
FEEDBACK_PER_DAY = 5            # submissions per student per UTC day that bring feedback (None: no limit); later
                                # ones are still graded for the gradebook, and told when the next feedback opens
FEEDBACK_UNTIL_DUE_DATE = True  # True: a submission after the assignment's due date is graded, without feedback
SERVICE_WORKERS = 2             # grading processes the service keeps warm: one per core of a 2-core grading host
SERVICE_POLL_SECONDS = 1.0      # how often it looks at the exchange's inbound; a listing costs ~1 ms
