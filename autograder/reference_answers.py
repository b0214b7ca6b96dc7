"""What the checks compare against: reference answers from the shipped checkpoint and the real test set.

Computed by the reference solutions (never a copy of them), plus the ingredients the diagnoses need (every
category's mean mu and logvar, first items). Cached on disk by the checkpoint's sha256, and in memory per
process, so grading a folder computes them once.
"""
import functools
import hashlib
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

import course_config as cfg
from reference import data, solutions
from reference.checkpoints import load_model


REFERENCE_VERSION = 3  # bump when compute() changes what it stores


@dataclass
class Reference:
    values: dict          # name -> float64 array (see compute())
    vae: torch.nn.Module  # the reference decoder, for decoding students' Ex5 latents
    classifier: torch.nn.Module

    def __getitem__(self, name):
        return self.values[name]

    @torch.no_grad()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, 32) codes -> (n, 28, 28) images in [0, 1], decoded by the shipped VAE in float32 on CPU."""
        return self.vae.decode(torch.from_numpy(codes).float()).squeeze(1).double().numpy()

    @torch.no_grad()
    def decoder_distance(self, images: np.ndarray) -> np.ndarray:
        """Mean |pixel change| of each (28, 28) image when encoded (mu) and decoded again by the reference VAE."""
        x = torch.from_numpy(np.clip(images, 0, 1)).float().reshape(-1, 1, 28, 28)
        return (self.vae.decode(self.vae.encode(x)[0]) - x).abs().mean(dim=(1, 2, 3)).double().numpy()

    def classifier_trusted(self, category: int) -> bool:
        """Does the classifier recognise this VAE's decodes of `category` (course_config.EX5_CLASSIFIER_TRUSTED)?"""
        return float(self.values["ex5.example_on_target"][category]) >= cfg.EX5_CLASSIFIER_TRUSTED

    def judge_name(self, category: int) -> str:
        return ("the judge classifier" if self.classifier_trusted(category) else
                "the VAE itself (each image encoded again and named after the nearest category centre)")

    @torch.no_grad()
    def judge(self, images: np.ndarray, category: int = None) -> np.ndarray:
        """A category for each (28, 28) image: the classifier's, or the VAE's own where the classifier cannot
        recognise this VAE's decodes of `category`."""
        x = torch.from_numpy(images).float().reshape(-1, 1, 28, 28)
        if category is None or self.classifier_trusted(category):
            return self.classifier(x).argmax(1).numpy()
        centres = torch.from_numpy(self.values["category_centre_mu"]).float()
        return torch.cdist(self.vae.encode(x)[0], centres).argmin(1).numpy()


@torch.no_grad()
def compute(vae, classifier, test_set) -> dict:
    n = cfg.EX3_N_SAMPLES
    ex3 = solutions.ex3_arithmetic(vae, test_set)
    values = {f"ex3.{k}": v for k, v in ex3.items()}
    # Diagnosis ingredients: each category's 20-item mean mu and mean logvar, and its first item's mu.
    means, logvars, firsts = [], [], []
    for category in range(10):
        mu, logvar = vae.encode(solutions.get_items_by_category(test_set, category, n=n))
        means.append(mu.mean(0))
        logvars.append(logvar.mean(0))
        firsts.append(mu[0])
    values.update({"category_mean_mu": torch.stack(means), "category_mean_logvar": torch.stack(logvars),
                   "category_first_mu": torch.stack(firsts)})
    values["category_centre_mu"] = torch.stack([solutions.category_mean_mu(vae, test_set, c, cfg.EX5_EXAMPLE_CENTER_N)[0]
                                                for c in range(10)])
    values["ex4.decoded_grid"] = solutions.ex4_grid(vae)
    values["ex4.grid_values"] = torch.linspace(*cfg.EX4_GRID_RANGE, cfg.EX4_GRID_SIZE)
    # What the lesson's example experiment reaches per category: sets a fair Ex5 bar for every category.
    shares = []
    for category in range(10):
        _, experiment = solutions.ex5_example_experiment(vae, test_set, category=category)
        verdicts = classifier(vae.decode(torch.cat(list(experiment.values())))).argmax(1)
        shares.append((verdicts == category).double().mean())
    values["ex5.example_on_target"] = torch.stack(shares)
    return {k: v.double().cpu().numpy() for k, v in values.items()}


def cache_key() -> str:
    """The checkpoint's sha256 and every setting the reference answers depend on."""
    settings = repr((REFERENCE_VERSION, cfg.VAE_SHA256, cfg.CLASSIFIER_SHA256, cfg.EX3_N_SAMPLES, sorted(cfg.EX3_CATEGORIES.items()), cfg.EX4_GRID_SIZE,
                     cfg.EX4_GRID_RANGE, cfg.EX4_DIMS))
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def get_reference() -> Reference:
    vae, classifier = load_model("vae"), load_model("classifier")
    cache = cfg.GRADER_CACHE_DIR / f"reference-{cache_key()}.npz"
    try:
        with np.load(cache, allow_pickle=False) as npz:
            values = {k: npz[k] for k in npz.files}
    except (OSError, ValueError):  # no cache yet, or a broken one: recompute
        values = compute(vae, classifier, data.load("test"))
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **values)
            tmp.replace(cache)
        except OSError as err:  # a read-only kit (another user's): grade all the same, recompute next time
            logging.getLogger(__name__).warning("reference answers not cached (%s)", err)
    return Reference(values, vae, classifier)
