"""What the lesson and the shipped models are: not settings. Changing a value here means rewriting the lesson or
retraining (and re-pinning) a checkpoint, so an instructor never edits this file; course_config.py holds what they do.

Every value carries a one-line reason. The notebook's build, the reference solutions, training and the grader read
them from here.
"""
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- data
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
CHECKPOINT_DIR = KIT_ROOT / "reference" / "checkpoints"
VAE_CHECKPOINT = CHECKPOINT_DIR / "vae.pt"                # the seeded pretrained VAE students explore
CLASSIFIER_CHECKPOINT = CHECKPOINT_DIR / "classifier.pt"  # names decoded images in the model card

# Pinned hashes: a checkpoint that differs by one byte is refused. Update only after retraining on purpose.
VAE_SHA256 = "0eb2a502f9d67955c3f001c8a0e673fe24772373d3d49b61798e784ef00308ab"
CLASSIFIER_SHA256 = "81b5b5d518ef3981d336c07c2c026fd3af8f3185d4400645ddc3d572a953dd5b"

# What the checks compare against, derived once from the VAE and the data by `make reference` (reference/derive.py)
# and shipped: the Ex3/Ex4 answers, the diagnoses' ingredients and the fitted Ex5 judge. Fitting the judge on another
# CPU moves its bars by up to 0.006, enough to flip a student, so grading never fits or recomputes it.
REFERENCE_ANSWERS = CHECKPOINT_DIR / "reference_answers.npz"
REFERENCE_SHA256 = "c58e91cc6857baf88d669ae2d8b14c71bc7534b8e11a8ab761adaefeab97b796"
# The VAE's mu code of every Fashion-MNIST item (float16), by `make dataset-codes` (reference/dataset_codes.py): Ex5
# counts a code that is a real item's as a reconstruction, not a generated image, without reading the dataset.
DATASET_CODES = CHECKPOINT_DIR / "dataset_codes.npz"
DATASET_CODES_SHA256 = "2c5554b676278d79cae9fa2283135b488be55f74704f1685b3832fd6d6b42fff"
# Each grading process first recomputes what it can of the shipped answers on its own CPU and stops (MachineProblem)
# beyond these max |differences|. Measured between kernel sets (AVX-512, AVX2, default, oneDNN off, 1 or 2 threads):
# float32 (the lesson's answers) up to 1e-6, 20,000x inside LATENT_TOLERANCE; float64 (the grader's own decodes
# and the judge's re-encodings) up to 1e-15.
REFERENCE_MATCH_ATOL = dict(float32=1e-4, float64=1e-9)

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

# Ex5's judge is the VAE itself: each distinct decoded image is encoded again (mu) and a small network trained on
# the VAE's re-encodings of its own decodes of training items names it, so it knows this VAE's blur. The judge
# classifier (trained on sharp photos) named only 8 % of the lesson's example Sandal experiment and 25 % of its Shirt
# one right, and 69 % of its Bag one against a bar of 60 % (benchmarks/ex5_judge.py, README "Ex5 judging").
EX5_JUDGE_ITEMS = (3000, 1000)  # training items per category: fitted on the first 3000, bars measured on the last 1000
EX5_JUDGE_RECIPE = dict(hidden=128, epochs=30, batch_size=512, lr=3e-3, seed=0)  # 32-128-10 network, ~1 s on 1 core
# An image counts for the category the network names only if its code lies where this share of that category's own
# re-encoded decodes lie (Mahalanobis distance); else it is "like no category": wild codes decode to fragments
# that any judge that must pick one of the ten calls Sandal. Part of the shipped judge (its gates' limits).
EX5_JUDGE_TYPICAL = 0.99

# ---------------------------------------------------------------- the lesson's own numbers (its text, its solutions)
EX3_N_SAMPLES = 20                          # the lesson averages the first 20 items of each category
EX3_CATEGORIES = dict(sneaker=7, ankle_boot=9, sandal=5)  # label indices used by the arithmetic
EX4_GRID_SIZE = 10                          # the lesson's 10x10 grid
EX4_GRID_RANGE = (-3.0, 3.0)                # +-3 standard deviations of the N(0, 1) prior
EX4_DIMS = (0, 1)                           # swept dims; the shipped VAE orders dims by KL, so these carry most
EX5_EXAMPLE_CATEGORY = 7                    # the lesson's example experiment generates sneakers
EX5_EXAMPLE_CENTER_N = 50                   # items averaged for the category centre, as in the lesson
EX5_EXAMPLE_NOISE_SCALE = 0.5               # neighbourhood radius in the lesson's example
EX5_EXAMPLE_SEED = 42                       # the lesson seeds its neighbourhood noise with 42

# openTSNE iterations (early exaggeration, then normal): 100 + 200 already separates the clusters on 10,000
# points and takes ~12 s after ~5 s of affinities on 2 cores; openTSNE's default 250 + 500 takes ~85 s.
TSNE_ITERATIONS = (100, 200)
