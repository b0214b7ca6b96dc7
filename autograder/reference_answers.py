"""What the checks compare against: the shipped reference answers, verified, and proved to hold on this machine.

Everything that decides a verdict (the lesson's answers, the diagnoses' ingredients, the Ex5 judge) is derived once
by `make reference` (reference/derive.py) and shipped in reference/checkpoints/reference_answers.npz, its sha256
pinned in reference/lesson.py; grading only reads it, never fits or recomputes it, and needs no dataset. Before the
first grading of a process, the machine recomputes what it can (the lesson's answers from the shipped test items,
the judge's float64 path on fixed codes) and stops with a MachineProblem beyond lesson.REFERENCE_MATCH_ATOL, rather
than grade against other numbers than every other machine.
"""
import functools
import json
import time

import numpy as np

import course_config as cfg
from reference import data, dataset_codes, derive, lesson
from reference.judge import NO_CATEGORY, Float64VAE, bars, judge_codes, verdict_name  # noqa: F401
from autograder import settings
from autograder.errors import MachineProblem

REMAKE = ("If the VAE or the lesson's numbers changed on purpose, run `make reference` and pin the sha256 it prints "
          "as REFERENCE_SHA256 in reference/lesson.py; otherwise restore the kit's files (`git checkout -- reference`).")


class ReferenceProblem(MachineProblem):
    """The shipped reference answers are missing, not the pinned ones, stale, or computed otherwise here: grading
    stops with the reason instead of grading anyone against other numbers."""


class Reference:
    """The shipped values by name, and the grader's own float64 model for the images it decodes and judges."""

    def __init__(self, values: dict, vae, sha256: str, meta: dict):
        self.values = {**values, "ex5.judge.bar": bars(values, cfg.EX5_ON_TARGET_SHARE)}
        self.vae = vae            # the shipped float32 VAE, as students have it
        self.sha256 = sha256      # the reference file's, recorded with every grade
        self.meta = meta          # how and where it was derived
        self.model = Float64VAE(vae)

    def __getitem__(self, name):
        return self.values[name]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, 32) codes -> (n, 28, 28) images in [0, 1], decoded by the shipped VAE in float64."""
        return self.model.decode(codes)

    def encode(self, images: np.ndarray):
        """(n, 28, 28) images -> (mu, logvar) in float64."""
        return self.model.encode(images)

    def decoder_distance(self, images: np.ndarray) -> np.ndarray:
        """Mean |pixel change| of each (28, 28) image when encoded (mu) and decoded again by the reference VAE."""
        x = np.clip(images, 0, 1)
        return np.abs(self.model.decode(self.model.encode_mu(x)) - x).mean(axis=(1, 2))

    @staticmethod
    def judge_name() -> str:
        return "the VAE itself (each image encoded again and named by a small network trained on this VAE's decodes)"

    def on_target_bar(self, category: int) -> float:
        """The share of distinct images the judge must name `category` (see course_config.EX5_ON_TARGET_SHARE)."""
        return float(self.values["ex5.judge.bar"][category])

    @functools.cached_property
    def _dataset_codes(self) -> dict:
        try:
            return dataset_codes.read_verified()
        except ValueError as err:
            raise ReferenceProblem(str(err)) from None

    def real_items(self, codes: np.ndarray) -> list:
        """For each code, (split, index) of the Fashion-MNIST item it is the shipped VAE's mu of, or None."""
        return dataset_codes.real_items(codes, self._dataset_codes)

    def judge(self, images: np.ndarray) -> np.ndarray:
        """A category for each (28, 28) image (NO_CATEGORY when its code lies where no category's decodes lie):
        the image is encoded again by the VAE (mu) and named by the shipped Ex5 judge."""
        return judge_codes(self.values, self.model.encode_mu(images))


def read_shipped(path=None, expected_sha256=None) -> tuple:
    """(values, sha256, meta) of the shipped file, after checking its pin and the settings it was derived with."""
    path, expected = path or lesson.REFERENCE_ANSWERS, expected_sha256 or lesson.REFERENCE_SHA256
    if not path.is_file():
        raise ReferenceProblem(f"The reference answers {path} are missing. {REMAKE}")
    actual = data.sha256_of(path)
    if actual != expected:
        raise ReferenceProblem(f"The reference answers {path} failed verification: sha256 is {actual}, expected "
                               f"{expected} (REFERENCE_SHA256 in reference/lesson.py). {REMAKE}")
    with np.load(path, allow_pickle=False) as npz:
        values = {name: npz[name] for name in npz.files}
    meta = json.loads(values.pop("meta").item())
    made_with = meta["settings"]
    changed = {k: (v, made_with.get(k)) for k, v in derive.settings().items() if made_with.get(k) != v}
    if changed:
        said = "; ".join(f"{k} is {now} in reference/lesson.py, was {then}" for k, (now, then) in changed.items())
        raise ReferenceProblem(f"The reference answers {path} were derived with other settings: {said}. {REMAKE}")
    return values, actual, meta


def differences(reference: Reference) -> list:
    """[(how far beyond its tolerance, name, index, shipped, here, atol)] for each recomputable value, worst first:
    the lesson's answers recomputed in float32 from the shipped test items, the judge's path in float64."""
    here = derive.lesson_answers(reference.vae, derive.probe_items(reference.values))
    here.update(derive.probe(reference.model, reference.values, reference["probe.codes"]))
    found = []
    for name, value in here.items():
        shipped = reference[name]
        if name == "probe.verdicts":
            gap, atol = (value != shipped).astype(np.float64), 0.5  # any other verdict is beyond any tolerance
        else:
            gap = np.abs(value - shipped)
            atol = lesson.REFERENCE_MATCH_ATOL["float64" if name.startswith(derive.FLOAT64_PREFIXES) else "float32"]
        worst = np.unravel_index(np.argmax(np.nan_to_num(gap, nan=np.inf)), gap.shape)  # NaN: the worst there is
        found.append((float(np.nan_to_num(gap[worst], nan=np.inf)) / atol, name, tuple(int(i) for i in worst),
                      float(shipped[worst]), float(value[worst]), atol))
    return sorted(found, reverse=True)


def check_machine(reference: Reference) -> float:
    """Seconds it took; ReferenceProblem naming the largest difference when this machine computes otherwise."""
    import torch

    started, threads = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(cfg.GRADING_THREADS)  # as the checks will compute
    try:
        ratio, name, index, shipped, here, atol = differences(reference)[0]
    finally:
        torch.set_num_threads(threads)
    if ratio > 1:
        meta = reference.meta
        raise ReferenceProblem(
            f"This machine computes the reference answers differently from the shipped ones: {name}{list(index)} is "
            f"{here!r} here, {shipped!r} shipped (difference {abs(here - shipped):.3g}, allowed {atol:g}). Grading "
            f"stopped so that nobody is graded against other numbers than on every other machine. Shipped with "
            f"torch {meta['torch']} on {meta['machine']}; here torch {torch.__version__}, kernels "
            f"{torch.backends.cpu.get_cpu_capability()}. Install the kit's requirements.txt (`make venv`) and do not "
            f"set TF32 or half precision for the grader. {REMAKE}")
    return time.perf_counter() - started


@functools.lru_cache(maxsize=1)
def get_reference() -> Reference:
    """The verified reference answers, once per process, after this machine proved it computes them alike and its
    course_config.py has settings the kit can use (a worker on another machine reads its own)."""
    from reference.checkpoints import CheckpointError, load_model

    settings.require()

    try:
        vae = load_model("vae")
        values, sha256, meta = read_shipped()
        reference = Reference(values, vae, sha256, meta)
        check_machine(reference)
        reference.real_items(np.zeros((0, vae.latent_dim)))  # the dataset codes verified before anyone is graded
    except ReferenceProblem:
        raise
    except CheckpointError as err:
        raise ReferenceProblem(str(err)) from None
    except Exception as err:  # noqa: BLE001  never a student's doing: stop grading with it, zero nobody
        raise ReferenceProblem(f"The reference answers could not be read or checked ({type(err).__name__}: "
                               f"{err}). {REMAKE}") from err
    return reference
