"""Latent Lab course settings: the one file an instructor edits.

Every value carries a one-line reason. nbgrader_config.py, the reference package, the notebooks' build
and the autograder all read their settings from here, so nothing is configured twice.
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
# sha256 of the *decompressed* files: Debian recompressed the .gz files, so only the content is comparable.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CATEGORY_NAMES = [  # Fashion-MNIST label order, as in the lesson
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# ---------------------------------------------------------------- checkpoints
CHECKPOINT_DIR = COURSE_ROOT / "reference" / "checkpoints"
VAE_CHECKPOINT = CHECKPOINT_DIR / "vae.pt"                # the seeded pretrained VAE students explore
CLASSIFIER_CHECKPOINT = CHECKPOINT_DIR / "classifier.pt"  # the judge for Ex5 ("which category is this?")
# Pinned hashes: a checkpoint that differs by one byte is refused. Update only after retraining on purpose.
VAE_SHA256 = "0eb2a502f9d67955c3f001c8a0e673fe24772373d3d49b61798e784ef00308ab"
CLASSIFIER_SHA256 = "81b5b5d518ef3981d336c07c2c026fd3af8f3185d4400645ddc3d572a953dd5b"

# ---------------------------------------------------------------- training recipes
# The lesson's recipe, unchanged, so the shipped model is the one the lesson describes.
VAE_RECIPE = dict(
    seed=42,           # torch.manual_seed(42) before building the model, as in the lesson
    latent_dim=32,     # the lesson's LATENT_DIM
    epochs=15,         # the lesson trains 15 epochs
    batch_size=128,    # the lesson's DataLoader batch size
    lr=1e-3,           # Adam learning rate in the lesson
    beta=1.0,          # BCE-sum + beta * KL with beta 1: the plain ELBO
)
# The judge only has to tell categories apart; 4 epochs of a small CNN clear the 90 % bar on CPU.
CLASSIFIER_RECIPE = dict(
    seed=0,            # any fixed seed; this model is not part of the lesson
    epochs=4,          # enough for >= 90 % test accuracy, measured in the README
    batch_size=128,    # same loader settings as the VAE keeps the code shared
    lr=1e-3,           # Adam default
)
CLASSIFIER_MIN_TEST_ACCURACY = 0.90  # a judge below this would blame students for its own mistakes

# ---------------------------------------------------------------- reference solutions
EX3_N_SAMPLES = 20                          # the lesson averages the first 20 items of each category
EX3_CATEGORIES = dict(sneaker=7, ankle_boot=9, sandal=5)  # label indices used by the arithmetic
EX4_GRID_SIZE = 10                          # the lesson's 10x10 grid
EX4_GRID_RANGE = (-3.0, 3.0)                # +-3 standard deviations of the N(0, 1) prior
EX4_DIMS = (0, 1)                           # swept dims; the shipped VAE orders dims by KL, so these carry most
EX5_EXAMPLE_CATEGORY = 7                    # the lesson's example experiment generates sneakers
EX5_EXAMPLE_CENTER_N = 50                   # items averaged for the category centre, as in the lesson
EX5_EXAMPLE_NOISE_SCALE = 0.5               # neighbourhood radius in the lesson's example
EX5_EXAMPLE_SEED = 42                       # the lesson seeds its neighbourhood noise with 42

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
# Each autograded cell's points, split over named checks (4 per exercise, as the issue sets them).
CHECK_POINTS = {
    "ex3_arithmetic": {"shapes": 1.0, "boot_direction": 1.5, "z_result": 1.5},
    "ex4_grid": {"shape": 1.0, "pixel_scale": 1.0, "cells": 1.0, "orientation": 1.0},
    "ex5_experiment": {"contract": 1.0, "diversity": 1.0, "on_target": 2.0},
}
TSNE_POINTS_WHEN_GRADING = 500  # grading never runs the full t-SNE; a 500-point map takes about a second
# openTSNE iterations (early exaggeration, then normal): 100 + 200 already separates the clusters on 10,000
# points and takes ~12 s after ~5 s of affinities on 2 cores; openTSNE's default 250 + 500 takes ~85 s.
TSNE_ITERATIONS = (100, 200)

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
# Ex5's judge is the VAE itself: each distinct decoded image is encoded again (mu) and a small network trained on
# the VAE's re-encodings of its own decodes of training items names it, so it knows this VAE's blur. The judge
# classifier (trained on sharp photos) named only 8 % of the lesson's example Sandal experiment and 25 % of its Shirt
# one right, and 69 % of its Bag one against a bar of 60 % (benchmarks/ex5_judge.py, README "Ex5 judging").
EX5_JUDGE_ITEMS = (3000, 1000)  # training items per category: fitted on the first 3000, bars measured on the last 1000
EX5_JUDGE_RECIPE = dict(hidden=128, epochs=30, batch_size=512, lr=3e-3, seed=0)  # 32-128-10 network, ~1 s on 1 core
# An image counts for the category the network names only if its code lies where this share of that category's own
# re-encoded decodes lie (Mahalanobis distance); else it is "like no category": wild codes decode to fragments
# that any judge that must pick one of the ten calls Sandal.
EX5_JUDGE_TYPICAL = 0.99
# The bar is per category, because the VAE blurs some categories into their neighbours (Shirt into T-shirt, Pullover
# and Coat): bar = f + share * (r - f), with r how often the judge names held-out items of the category right and f
# the most often it names the category for another category's items or for samples from the prior. With share 0.5
# an experiment passes when the judge names its category more often than for images half of which were the
# category and half the category it is most confused with (measured bars 0.39 to 0.55).
EX5_ON_TARGET_SHARE = 0.5
# A decoded image changes little when encoded and decoded again (at most 0.08 mean |pixel change| on the reference
# grid); uniform noise changes by 0.25 or more. Ex4's format points need most cells below this.
DECODED_LIKE_DISTANCE = 0.15
DECODED_MIN_CONTRAST = 0.02  # pixel std: the flattest cell of the reference grid has 0.08, a blank cell 0
# Every grading kernel runs in a bubblewrap sandbox (autograder/sandbox.py). "none" grades without isolation:
# student code can then read and change the course; every report says so. Only for a machine without bwrap.
SANDBOX = "bwrap"
SANDBOX_LIMITS = dict(
    memory_mb=3072,     # heap per process (RLIMIT_DATA); the kernel uses ~0.9 GB after its imports, ~1.2 GB at most
    file_mb=256,        # largest file the kernel may write (RLIMIT_FSIZE); vae.pt and the exports are far smaller
    processes=64,       # processes and threads in the box; torch starts one thread per core, data loaders a few
    work_mb=512,        # the kernel's cwd and HOME (tmpfs): room for a downloaded dataset copy and figures
    tmp_mb=256,         # /tmp and /dev/shm each (tmpfs)
)
SUBMISSION_TIMEOUT_SECONDS = 600  # whole notebook; an honest one runs in ~10 s when grading, ~45 s with every plot
OUTPUT_LIMIT_BYTES = 2_000_000    # text and pictures kept from one notebook's run; the rest is dropped, with a note
GRADER_CACHE_DIR = COURSE_ROOT / ".cache"  # reference answers cached by checkpoint sha256; gitignored
