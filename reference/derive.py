"""Derive what the grader compares against from the shipped VAE and Fashion-MNIST, once, and ship it.

    python -m reference.derive        # `make reference`: writes reference/checkpoints/reference_answers.npz

Run it after retraining the VAE (`make checkpoints` does) or after changing a lesson number it uses (`settings()`),
then pin the printed sha256 as REFERENCE_SHA256 in reference/lesson.py. Grading never runs it: the Ex5 judge fitted
on another CPU has other bars (up to 0.006 apart, enough to flip a student), so the one fitted here is shipped.

The file (numpy .npz, read with allow_pickle=False):
  ex3.*, category_*, ex4.*        the lesson's answers and the diagnoses' ingredients, float32 as the lesson computes
  ex5.judge.*                     the fitted judge: weights, gates, what it says of held-out items and prior samples
  probe.images, probe.labels      the test items those answers come from (the first 50 of each category, uint8)
  probe.codes, probe.reencoded,   codes, the grader's float64 re-encoding of their decodes (what the judge sees) and
  probe.verdicts                  the judge's verdicts on them
  meta                            JSON: the settings and code it was derived with, the machine, torch
Every grading process recomputes the lesson's answers and the probe on its own CPU from probe.* and compares
(autograder/reference_answers.py), so the dataset is never needed to grade.
"""
import hashlib
import io
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from reference import cpu_kernels, data, lesson, solutions
from reference.judge import NO_CATEGORY, Float64VAE, judge_codes

ROOT = Path(__file__).resolve().parent
CODE = [ROOT / name for name in ("derive.py", "judge.py", "solutions.py", "vae.py")]  # what computes the values
PROBE_PER_CATEGORY = max(lesson.EX3_N_SAMPLES, lesson.EX5_EXAMPLE_CENTER_N)  # every item the answers average
PROBE_PRIOR_CODES = 90  # plus the 10 category centres: codes whose re-encoding re-checks the judge's path
FLOAT64_PREFIXES = ("probe.reencoded",)  # values the grader computes in float64 (compared at the float64 atol)


def settings() -> dict:
    """Every lesson number the shipped values depend on, as JSON would hold it: a file derived with others is refused."""
    names = ["VAE_SHA256", "EX3_N_SAMPLES", "EX3_CATEGORIES", "EX4_GRID_SIZE", "EX4_GRID_RANGE", "EX4_DIMS",
             "EX5_EXAMPLE_CENTER_N", "EX5_JUDGE_ITEMS", "EX5_JUDGE_RECIPE", "EX5_JUDGE_TYPICAL"]
    return json.loads(json.dumps({name: getattr(lesson, name) for name in names}))


def code_digest() -> str:
    digest = hashlib.sha256()
    for path in CODE:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- the lesson's answers (recomputed when grading)

def first_items(dataset, n: int = PROBE_PER_CATEGORY) -> data.ImageSet:
    """The first n items of each category, in the dataset's order: all the lesson's answers read of the test set."""
    keep = torch.cat([torch.nonzero(dataset.labels == c).flatten()[:n] for c in range(10)]).sort().values
    return data.ImageSet(dataset.images[keep], dataset.labels[keep])


def probe_items(values: dict) -> data.ImageSet:
    """The shipped test items back as the ImageSet they came from (uint8 / 255 is exactly what data.load gives)."""
    images = torch.from_numpy(values["probe.images"]).unsqueeze(1).float().div_(255.0)
    return data.ImageSet(images, torch.from_numpy(values["probe.labels"]))


@torch.no_grad()
def lesson_answers(vae, items) -> dict:
    """Ex3's values, Ex4's grid and the diagnoses' ingredients (each category's 20-item mean mu and logvar, first
    item's mu, mean mu of its first k items for every k, 50-item centre), float32 as a student's notebook computes
    them, as float64 arrays."""
    values = {f"ex3.{k}": v for k, v in solutions.ex3_arithmetic(vae, items).items()}
    means, logvars, firsts, prefixes = [], [], [], []
    for category in range(10):
        mu, logvar = vae.encode(solutions.get_items_by_category(items, category, n=lesson.EX3_N_SAMPLES))
        means.append(mu.mean(0))
        logvars.append(logvar.mean(0))
        firsts.append(mu[0])
        every = vae.encode(solutions.get_items_by_category(items, category, n=PROBE_PER_CATEGORY))[0]
        prefixes.append(torch.stack([every[:k].mean(0) for k in range(1, PROBE_PER_CATEGORY + 1)]))
    values.update({"category_mean_mu": torch.stack(means), "category_mean_logvar": torch.stack(logvars),
                   "category_first_mu": torch.stack(firsts),
                   "category_prefix_mean_mu": torch.stack(prefixes)})  # [c, k-1]: mean mu of the first k items
    values["category_centre_mu"] = torch.cat([solutions.category_mean_mu(vae, items, c, lesson.EX5_EXAMPLE_CENTER_N)
                                              for c in range(10)])
    values["ex4.decoded_grid"] = solutions.ex4_grid(vae)
    values["ex4.grid_values"] = torch.linspace(*lesson.EX4_GRID_RANGE, lesson.EX4_GRID_SIZE)
    return {k: v.double().numpy() for k, v in values.items()}


def probe(grader: Float64VAE, judge: dict, codes: np.ndarray) -> dict:
    """What the judge's path makes of fixed codes on this CPU: float64 re-encodings of their decodes, verdicts."""
    reencoded = grader.encode_mu(grader.decode(codes))
    return {"probe.reencoded": reencoded, "probe.verdicts": judge_codes(judge, reencoded)}


# ---------------------------------------------------------------- the Ex5 judge (fitted here only)

def fit_judge(grader: Float64VAE, train_set) -> dict:
    """The Ex5 judge, fitted on training items as the VAE decodes them and re-encodes them in float64, exactly as
    grading sees a student's images (never on the test set students use): a small network on the first
    EX5_JUDGE_ITEMS[0] items of each category, each category's Gaussian gate on the same items, and what it says
    about the last EX5_JUDGE_ITEMS[1] items of each category and about samples from the prior (the bars' inputs)."""
    fit_n, check_n = lesson.EX5_JUDGE_ITEMS
    recipe = lesson.EX5_JUDGE_RECIPE
    labels = train_set.labels
    by_category = [torch.nonzero(labels == c).flatten() for c in range(10)]
    fit = torch.cat([idx[:fit_n] for idx in by_category])
    check = torch.cat([idx[-check_n:] for idx in by_category])
    z_fit = grader.reencode_images(train_set.images[fit].squeeze(1).double().numpy())
    z_check = grader.reencode_images(train_set.images[check].squeeze(1).double().numpy())
    y_fit, y_check = labels[fit], labels[check].numpy()

    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # never touches the caller's random stream
        torch.manual_seed(recipe["seed"])
        net = torch.nn.Sequential(torch.nn.Linear(32, recipe["hidden"]), torch.nn.ReLU(),
                                  torch.nn.Linear(recipe["hidden"], 10))
        optimizer = torch.optim.Adam(net.parameters(), lr=recipe["lr"])
        x = torch.from_numpy(z_fit).float()
        for _ in range(recipe["epochs"]):
            for idx in torch.randperm(len(x)).split(recipe["batch_size"]):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(x[idx]), y_fit[idx]).backward()
                optimizer.step()
    values = {"ex5.judge.w1": net[0].weight, "ex5.judge.b1": net[0].bias,
              "ex5.judge.w2": net[2].weight, "ex5.judge.b2": net[2].bias}
    values = {k: v.detach().double().numpy() for k, v in values.items()}
    means, precisions, limits = [], [], []
    for c in range(10):
        z = z_fit[(y_fit == c).numpy()]
        offset = z - z.mean(0)
        precision = np.linalg.inv(np.cov(z.T))
        means.append(z.mean(0))
        precisions.append(precision)
        limits.append(np.quantile(np.einsum("ni,ij,nj->n", offset, precision, offset), lesson.EX5_JUDGE_TYPICAL))
    values.update({"ex5.judge.gate_mean": np.stack(means), "ex5.judge.gate_precision": np.stack(precisions),
                   "ex5.judge.gate_limit": np.array(limits)})

    verdicts = judge_codes(values, z_check)
    confusion = np.array([[np.mean(verdicts[y_check == true] == named) for named in range(10)] for true in range(10)])
    prior = np.random.default_rng(recipe["seed"]).standard_normal((len(check), 32))
    prior_named = np.bincount(judge_codes(values, grader.encode_mu(grader.decode(prior))),
                              minlength=NO_CATEGORY + 1)[:10] / len(prior)
    recall = np.diag(confusion).copy()
    false_named = np.array([max(np.delete(confusion[:, c], c).max(), prior_named[c]) for c in range(10)])
    values.update({"ex5.judge.confusion": confusion, "ex5.judge.prior_named": prior_named,
                   "ex5.judge.recall": recall, "ex5.judge.false_named": false_named})
    return values


# ---------------------------------------------------------------- the whole file

def derive(vae, test_set, train_set) -> dict:
    """Every shipped value, from the VAE (float32, as shipped) and the two splits."""
    grader, threads = Float64VAE(vae), torch.get_num_threads()
    torch.set_num_threads(1)  # as grading computes (course_config.GRADING_THREADS)
    try:
        items = first_items(test_set)
        values = lesson_answers(vae, items)
        values.update(fit_judge(grader, train_set))
        prior = np.random.default_rng(1).standard_normal((PROBE_PRIOR_CODES, 32))
        codes = np.concatenate([values["category_centre_mu"], prior])
        values.update(probe(grader, values, codes))
    finally:
        torch.set_num_threads(threads)
    values.update({"probe.images": (items.images.squeeze(1) * 255).round().to(torch.uint8).numpy(),
                   "probe.labels": items.labels.numpy(), "probe.codes": codes})
    meta = {"made_by": "python -m reference.derive", "settings": settings(), "code_sha256": code_digest(),
            "torch": str(torch.__version__), "numpy": np.__version__,
            "machine": f"{platform.machine()}, torch kernels {torch.backends.cpu.get_cpu_capability()}",
            "cpu_kernels": {name: os.environ.get(name, "") for name in cpu_kernels.VARIABLES}}
    values["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return values


def write(values: dict, path: Path) -> None:
    """An .npz with fixed timestamps and order (the same values give the same bytes), written atomically."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(values):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(values[name]), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(entry, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(tmp, path)


def main(argv=None) -> int:
    import argparse

    from reference.checkpoints import load_model

    cpu_kernels.pin()  # the kernels grading computes with

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=lesson.REFERENCE_ANSWERS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        values = derive(load_model("vae"), data.load("test"), data.load("train"))
    except data.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write(values, args.out)
    print(f"Wrote {args.out} in {time.perf_counter() - started:.0f} s on {json.loads(str(values['meta']))['machine']}")
    print(f'Pin it in reference/lesson.py:  REFERENCE_SHA256 = "{data.sha256_of(args.out)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
