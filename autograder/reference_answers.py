"""What the checks compare against: reference answers from the shipped checkpoint and the real test set.

Computed by the reference solutions (never a copy of them), plus the ingredients the diagnoses need (every
category's mean mu and logvar, first items) and Ex5's judge, fitted on the training set as the VAE decodes it
(about 10 s on 2 cores). Cached on disk by the checkpoint's sha256 and the settings, and in memory per process,
so grading a folder computes them once.
"""
import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import course_config as cfg
from reference import lesson
from reference import data, solutions
from reference.checkpoints import load_model


NO_CATEGORY = 10  # the Ex5 judge's verdict for an image whose code lies where no category's decodes lie


def verdict_name(label: int) -> str:
    return lesson.CATEGORY_NAMES[label] if label < NO_CATEGORY else "like no category"


@dataclass
class Reference:
    values: dict          # name -> float64 array (see compute())
    vae: torch.nn.Module  # the reference decoder, for decoding students' Ex5 latents

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

    @staticmethod
    def judge_name() -> str:
        return "the VAE itself (each image encoded again and named by a small network trained on this VAE's decodes)"

    def on_target_bar(self, category: int) -> float:
        """The share of distinct images the judge must name `category` (see course_config.EX5_ON_TARGET_SHARE)."""
        return float(self.values["ex5.judge.bar"][category])

    @torch.no_grad()
    def judge(self, images: np.ndarray) -> np.ndarray:
        """A category for each (28, 28) image (NO_CATEGORY when its code lies where no category's decodes lie):
        the image is encoded again by the VAE (mu) and named by the Ex5 judge fitted in compute()."""
        x = torch.from_numpy(images).float().reshape(-1, 1, 28, 28)
        return judge_codes(self.values, self.vae.encode(x)[0].double().numpy())


# ---------------------------------------------------------------- the Ex5 judge: the VAE judging its own decodes

def judge_codes(values: dict, z: np.ndarray) -> np.ndarray:
    """Verdicts for re-encoded codes (n, 32), in float64 from the stored weights: a 32-hidden-10 network names a
    category, and the code must lie where EX5_JUDGE_TYPICAL of that category's own re-encoded decodes lie."""
    w1, b1, w2, b2 = (np.asarray(values[f"ex5.judge.{k}"], dtype=np.float64) for k in ("w1", "b1", "w2", "b2"))
    label = (np.maximum(z @ w1.T + b1, 0) @ w2.T + b2).argmax(1)
    offset = z - values["ex5.judge.gate_mean"][label]
    distance = np.einsum("ni,nij,nj->n", offset, values["ex5.judge.gate_precision"][label], offset)
    return np.where(distance <= values["ex5.judge.gate_limit"][label], label, NO_CATEGORY)


@torch.no_grad()
def reencoded(vae, codes: torch.Tensor) -> torch.Tensor:
    """mu of each code's decoded image: what the judge sees of a student's decoded image."""
    return torch.cat([vae.encode(vae.decode(batch))[0] for batch in codes.split(2000)]).double()


def fit_judge(vae, train_set) -> dict:
    """The Ex5 judge, fitted on training items as the VAE decodes them (never on the test set students use):
    a small network on the first EX5_JUDGE_ITEMS[0] items of each category, each category's Gaussian gate on the
    same items, and the per-category bar from what it says about the last EX5_JUDGE_ITEMS[1] items of each
    category and about samples from the prior."""
    fit_n, check_n = lesson.EX5_JUDGE_ITEMS
    recipe = lesson.EX5_JUDGE_RECIPE
    labels = train_set.labels
    by_category = [torch.nonzero(labels == c).flatten() for c in range(10)]
    fit = torch.cat([idx[:fit_n] for idx in by_category])
    check = torch.cat([idx[-check_n:] for idx in by_category])
    with torch.no_grad():
        z_fit = reencoded(vae, torch.cat([vae.encode(b)[0] for b in train_set.images[fit].split(2000)]))
        z_check = reencoded(vae, torch.cat([vae.encode(b)[0] for b in train_set.images[check].split(2000)]))
    y_fit, y_check = labels[fit], labels[check].numpy()

    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # never touches the caller's random stream
        torch.set_num_threads(1)  # the same weights whatever the machine's core count
        torch.manual_seed(recipe["seed"])
        net = torch.nn.Sequential(torch.nn.Linear(32, recipe["hidden"]), torch.nn.ReLU(),
                                  torch.nn.Linear(recipe["hidden"], 10))
        optimizer = torch.optim.Adam(net.parameters(), lr=recipe["lr"])
        x, y = z_fit.float(), y_fit
        try:
            for _ in range(recipe["epochs"]):
                for idx in torch.randperm(len(x)).split(recipe["batch_size"]):
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                    optimizer.step()
        finally:
            torch.set_num_threads(threads)
    values = {"ex5.judge.w1": net[0].weight, "ex5.judge.b1": net[0].bias,
              "ex5.judge.w2": net[2].weight, "ex5.judge.b2": net[2].bias}
    values = {k: v.detach().double().numpy() for k, v in values.items()}
    means, precisions, limits = [], [], []
    for c in range(10):
        z = z_fit[y_fit == c].numpy()
        offset = z - z.mean(0)
        precision = np.linalg.inv(np.cov(z.T))
        means.append(z.mean(0))
        precisions.append(precision)
        limits.append(np.quantile(np.einsum("ni,ij,nj->n", offset, precision, offset), cfg.EX5_JUDGE_TYPICAL))
    values.update({"ex5.judge.gate_mean": np.stack(means), "ex5.judge.gate_precision": np.stack(precisions),
                   "ex5.judge.gate_limit": np.array(limits)})

    # What the judge says about held-out items of each category and about the prior's samples sets the bars.
    verdicts = judge_codes(values, z_check.numpy())
    confusion = np.array([[np.mean(verdicts[y_check == true] == named) for named in range(10)] for true in range(10)])
    prior = torch.randn(len(check), 32, generator=torch.Generator().manual_seed(recipe["seed"]))
    prior_named = np.bincount(judge_codes(values, reencoded(vae, prior).numpy()), minlength=NO_CATEGORY + 1)[:10]
    recall = np.diag(confusion).copy()
    false_named = np.array([max(np.delete(confusion[:, c], c).max(), prior_named[c] / len(prior)) for c in range(10)])
    values.update({"ex5.judge.confusion": confusion, "ex5.judge.prior_named": prior_named / len(prior),
                   "ex5.judge.recall": recall, "ex5.judge.false_named": false_named,
                   "ex5.judge.bar": false_named + cfg.EX5_ON_TARGET_SHARE * (recall - false_named)})
    return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in values.items()}


@torch.no_grad()
def compute(vae, test_set, train_set) -> dict:
    n = lesson.EX3_N_SAMPLES
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
    values["category_centre_mu"] = torch.stack([solutions.category_mean_mu(vae, test_set, c, lesson.EX5_EXAMPLE_CENTER_N)[0]
                                                for c in range(10)])
    values["ex4.decoded_grid"] = solutions.ex4_grid(vae)
    values["ex4.grid_values"] = torch.linspace(*lesson.EX4_GRID_RANGE, lesson.EX4_GRID_SIZE)
    values.update(fit_judge(vae, train_set))
    return {k: v.double().cpu().numpy() for k, v in values.items()}


CODE_THAT_COMPUTES = [Path(__file__), cfg.COURSE_ROOT / "reference" / "solutions.py",
                      cfg.COURSE_ROOT / "reference" / "vae.py", cfg.COURSE_ROOT / "reference" / "data.py"]


def cache_key() -> str:
    """The checkpoint's sha256, every setting the reference answers depend on, and the code that computes them (so
    an edit to it recomputes them; nobody has to remember to bump a version)."""
    code = hashlib.sha256(b"".join(path.read_bytes() for path in CODE_THAT_COMPUTES)).hexdigest()
    settings = repr((code, lesson.VAE_SHA256, lesson.EX3_N_SAMPLES, sorted(lesson.EX3_CATEGORIES.items()), lesson.EX4_GRID_SIZE,
                     lesson.EX4_GRID_RANGE, lesson.EX4_DIMS, lesson.EX5_EXAMPLE_CENTER_N, lesson.EX5_JUDGE_ITEMS,
                     sorted(lesson.EX5_JUDGE_RECIPE.items()), cfg.EX5_JUDGE_TYPICAL, cfg.EX5_ON_TARGET_SHARE))
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def get_reference() -> Reference:
    vae = load_model("vae")
    cache = cfg.GRADER_CACHE_DIR / f"reference-{cache_key()}.npz"
    try:
        with np.load(cache, allow_pickle=False) as npz:
            values = {k: npz[k] for k in npz.files}
    except (OSError, ValueError):  # no cache yet, or a broken one: recompute
        values = compute(vae, data.load("test"), data.load("train"))
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **values)
            tmp.replace(cache)
        except OSError as err:  # a read-only kit (another user's): grade all the same, recompute next time
            logging.getLogger(__name__).warning("reference answers not cached (%s)", err)
    return Reference(values, vae)
