"""Is Ex5's on-target judging fair for every category? Honest and dishonest experiments, through the real check.

    .venv/bin/python benchmarks/ex5_judge.py                 # held-out seed set (the README's table)
    .venv/bin/python benchmarks/ex5_judge.py --seed-set calibration
    .venv/bin/python benchmarks/ex5_judge.py --markdown      # the table as the README shows it
    .venv/bin/python benchmarks/ex5_judge.py --png /tmp/ex5  # also a contact sheet per category, to look at
    .venv/bin/python benchmarks/ex5_judge.py --json out.json # every experiment's verdict, share and the table

For every category the script builds, with fixed seeds, HONEST experiments (codes made from that category's test
items the way a student would: neighbourhood noise at several scales, noise shaped like the category's own
spread, samples from items' posteriors, lerp, slerp and paths between items, mixtures of items, sweeps of the
category's informative dims, attribute arithmetic within the category; two or three techniques, 15-60 codes) and
DISHONEST ones (another category's honest experiment with this target's name set on it, a mix mostly from another
category, prior samples, wild noise around the centre, a sweep that runs through and past another category).
Nothing here looks at a judge: the experiments are a function of the seed, the VAE and the test set only.

Each experiment goes through the grader's own on-target check (autograder/checks/test_ex5_experiment.py,
test_on_target, with the shipped reference answers), and the table gives per category its bar and the share of
honest and of dishonest experiments that pass. The judge's settings were chosen on the calibration seed set; the
held-out set (the default) was only run to report. The README's "Ex5 judging, per category" shows its table.
"""
import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference import lesson  # noqa: E402
from autograder.answers import Answer, CellAnswers  # noqa: E402
from autograder.checks import test_ex5_experiment as ex5  # noqa: E402
from autograder.compare import CheckFailed, PassedBecause  # noqa: E402

SEED_SETS = {"calibration": 1000, "held-out": 2000}  # base seeds: the judge was tuned on one, reported on the other
HONEST_PER_CATEGORY = 100
DISHONEST_PER_CATEGORY = 100


@dataclass
class Experiment:
    target: int        # TARGET_CATEGORY as the student sets it
    honest: bool
    recipe: str        # what was done, for reading failures
    latents: dict      # technique -> (n, 32) float32 codes


class Category:
    """One category's test items in latent space, as a student finds them with encode_to_mu."""

    def __init__(self, mu, logvar, images):
        self.mu, self.sd, self.images = mu, np.exp(0.5 * logvar), images
        # Items a student would pick as examples to interpolate between: not the category's outliers (a pullover
        # that decodes like a dress). The inner 75 % by distance to the centre, in units of the category's spread.
        distance = (((mu - mu.mean(0)) / mu.std(0)) ** 2).sum(1)
        self.typical = np.flatnonzero(distance <= np.quantile(distance, 0.75))

    def pick(self, rng, n):
        """n items: the first n (as get_items_by_category gives them) or n at random."""
        return np.arange(n) if rng.random() < 0.5 else rng.choice(len(self.mu), n, replace=False)

    def centre_and_items(self, rng):
        chosen = self.pick(rng, int(rng.choice([10, 20, 50, 100])))
        return self.mu[chosen].mean(0), chosen


# ---------------------------------------------------------------- honest techniques: (rng, category, n) -> codes

def neighbourhood(rng, cat, n):
    """The lesson's technique: isotropic noise around the centre, at a scale a student might pick."""
    centre, _ = cat.centre_and_items(rng)
    scale = rng.uniform(0.2, 0.6)
    return centre + scale * rng.standard_normal((n, 32)), f"noise {scale:.2f}"


def shaped_noise(rng, cat, n):
    """Noise shaped like the category's own spread (per-dim std of its items' mu)."""
    centre, chosen = cat.centre_and_items(rng)
    scale = rng.uniform(0.5, 1.0)
    return centre + scale * cat.mu[chosen].std(0) * rng.standard_normal((n, 32)), f"shaped noise {scale:.2f}"


def item_noise(rng, cat, n):
    """Small noise around single items."""
    items = cat.mu[cat.pick(rng, n)] if rng.random() < 0.5 else cat.mu[rng.choice(len(cat.mu), n)]
    scale = rng.uniform(0.1, 0.4)
    return items + scale * rng.standard_normal((n, 32)), f"item noise {scale:.2f}"


def posterior(rng, cat, n):
    """The VAE's own sampling: mu + sigma * eps for items of the category."""
    chosen = rng.choice(len(cat.mu), n, replace=False)
    return cat.mu[chosen] + cat.sd[chosen] * rng.standard_normal((n, 32)), "posterior samples"


def _ends(rng, cat, k):
    return cat.mu[rng.choice(cat.typical, k, replace=False)]


def lerp(rng, cat, n):
    a, b = _ends(rng, cat, 2)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) * a + t * b, "lerp"


def slerp(rng, cat, n):
    a, b = _ends(rng, cat, 2)
    omega = np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
    t = np.linspace(0, 1, n)[:, None]
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega), "slerp"


def path(rng, cat, n):
    """Lerp through 3 or 4 items in turn."""
    stops = _ends(rng, cat, int(rng.integers(3, 5)))
    t = np.linspace(0, len(stops) - 1, n)
    i = np.minimum(t.astype(int), len(stops) - 2)
    f = (t - i)[:, None]
    return (1 - f) * stops[i] + f * stops[i + 1], f"path through {len(stops)}"


def mixture(rng, cat, n):
    """Random convex combinations of a few items."""
    stops = _ends(rng, cat, int(rng.integers(3, 7)))
    return rng.dirichlet(np.ones(len(stops)), n) @ stops, f"mixtures of {len(stops)}"


def _sweep(rng, cat, n, max_dims, reach, relative):
    """k of the category's highest-variance dims swept one at a time, the others at the centre: set to values from
    -r to +r (the lesson's way), or moved around the centre by up to r of the category's own std."""
    centre, chosen = cat.centre_and_items(rng)
    spread = cat.mu[chosen].std(0)
    k = int(rng.integers(1, max_dims + 1))
    steps = max(2, n // k)
    r = rng.uniform(*reach)
    codes = np.repeat(centre[None], k * steps, 0)
    for j, dim in enumerate(np.argsort(-spread)[:k]):
        rows, values = slice(j * steps, (j + 1) * steps), np.linspace(-r, r, steps)
        codes[rows, dim] = codes[rows, dim] + values * spread[dim] if relative else values
    return codes, k, r


def sweep(rng, cat, n):
    """The lesson's sweep: each of the k highest-variance dims set to values from -r to +r, others at the centre."""
    codes, k, r = _sweep(rng, cat, n, max_dims=3, reach=(1.0, 2.0), relative=False)
    return codes, f"sweep {k} dims +-{r:.1f}"


def relative_sweep(rng, cat, n):
    """Sweep informative dims around the centre by up to r of the category's own std."""
    codes, k, r = _sweep(rng, cat, n, max_dims=4, reach=(1.0, 2.5), relative=True)
    return codes, f"centre +-{r:.1f} std on {k} dims"


def attribute(rng, cat, n):
    """Arithmetic within the category: centre + t * (mean of its bright items - mean of its dark ones), or wide
    minus narrow ones."""
    centre, chosen = cat.centre_and_items(rng)
    images = cat.images[chosen]
    name, score = (("brightness", images.mean((1, 2, 3))) if rng.random() < 0.5 else
                   ("width", (images.max(2) > 0.2).sum((1, 2))))
    ranked = chosen[np.argsort(score, kind="stable")]
    low, high = ranked[:len(ranked) // 2], ranked[len(ranked) // 2:]
    direction = cat.mu[high].mean(0) - cat.mu[low].mean(0)
    r = rng.uniform(0.5, 1.0)
    t = np.linspace(-r, r, n)[:, None]
    return centre + t * direction, f"{name} direction +-{r:.1f}"


def exaggerate(rng, cat, n):
    """centre + a * (item - centre): an item's style toned down or exaggerated."""
    centre, _ = cat.centre_and_items(rng)
    items = cat.mu[rng.choice(len(cat.mu), n)]
    a = rng.uniform(0.3, 1.3, (n, 1))
    return centre + a * (items - centre), "item style x0.3-1.3"


HONEST = [neighbourhood, shaped_noise, item_noise, posterior, lerp, slerp, path, mixture, sweep, relative_sweep,
          attribute, exaggerate]


def honest_experiment(rng, cats, target):
    total = int(rng.integers(15, 61))
    k = int(rng.choice([2, 2, 3]))
    techniques = rng.choice(len(HONEST), k, replace=False)
    cuts = np.sort(rng.choice(np.arange(5, total - 4), k - 1, replace=False)) if k > 1 else []
    sizes = np.diff([0, *cuts, total])
    latents, recipe = {}, []
    for technique, size in zip(techniques, sizes):
        codes, what = HONEST[technique](rng, cats[target], max(4, int(size)))
        latents[HONEST[technique].__name__] = codes.astype(np.float32)
        recipe.append(f"{what} ({len(codes)})")
    return Experiment(target, True, " + ".join(recipe), latents)


# ---------------------------------------------------------------- dishonest experiments

def dishonest_experiment(rng, cats, target, i):
    """i cycles through the kinds; other categories are taken in turn, so the nearest ones are always among them."""
    others = [c for c in range(10) if c != target]
    other = others[i % 9]
    kind = i % 5
    if kind in (0, 1):  # another category's honest experiment with this target's name set on it
        borrowed = honest_experiment(rng, cats, other)
        return Experiment(target, False, f"{lesson.CATEGORY_NAMES[other]}'s codes: {borrowed.recipe}", borrowed.latents)
    n = int(rng.integers(15, 61))
    if kind == 2:  # mostly another category: a quarter to a third of the codes honest
        mine = honest_experiment(rng, cats, target).latents
        theirs = honest_experiment(rng, cats, other).latents
        share = rng.uniform(0.2, 0.34)
        a = np.concatenate(list(mine.values()))
        b = np.concatenate(list(theirs.values()))
        n_a = max(1, int(round(share * (len(b) / (1 - share)))))
        return Experiment(target, False, f"{n_a} own + {len(b)} {lesson.CATEGORY_NAMES[other]}",
                          {"own": a[:n_a], "borrowed": b})
    centre = cats[target].mu[:50].mean(0)
    if kind == 3:  # prior samples, or wild noise around the centre
        if rng.random() < 0.5:
            return Experiment(target, False, f"prior samples ({n + n // 2})",
                              {"prior": rng.standard_normal((n, 32)).astype(np.float32),
                               "more prior": rng.standard_normal((n // 2, 32)).astype(np.float32)})
        scale = rng.uniform(1.5, 3.0)
        codes = (centre + scale * rng.standard_normal((n, 32))).astype(np.float32)
        return Experiment(target, False, f"noise {scale:.1f} ({n})", {"wild": codes[: n // 2], "wilder": codes[n // 2:]})
    # a sweep that starts in the category and runs through and past another category's centre
    far = rng.uniform(1.5, 2.5)
    end = cats[other].mu[:50].mean(0)
    t = np.linspace(0, far, n)[:, None]
    codes = (centre + t * (end - centre)).astype(np.float32)
    return Experiment(target, False, f"sweep to {lesson.CATEGORY_NAMES[other]} x{far:.1f} ({n})",
                      {"sweep": codes[: n // 2], "on": codes[n // 2:]})


def build(seed_set, reference, test_set, categories=range(10), honest=HONEST_PER_CATEGORY,
          dishonest=DISHONEST_PER_CATEGORY):
    """Every experiment of one seed set: a function of the seed, the VAE and the test set only. The test items are
    encoded in float64 (Reference.encode), so the experiments, and the README's table, are the same on every CPU."""
    mu, logvar = reference.encode(test_set.images.squeeze(1).double().numpy())
    labels = test_set.labels.numpy()
    cats = [Category(mu[labels == c], logvar[labels == c], test_set.images[labels == c].numpy()) for c in range(10)]
    base = SEED_SETS[seed_set]
    experiments = []
    for target in categories:
        for i in range(honest):
            experiments.append(honest_experiment(np.random.default_rng([base, target, 0, i]), cats, target))
        for i in range(dishonest):
            experiments.append(dishonest_experiment(np.random.default_rng([base, target, 1, i]), cats, target, i))
    return experiments


# ---------------------------------------------------------------- the grader's own check

def student(experiment):
    """The answers as the grader reads them back from a student's export (read once, as CellAnswers are)."""
    items = [Answer(name, "array", array=np.asarray(codes, dtype=np.float64))
             for name, codes in experiment.latents.items()]
    return CellAnswers({"TARGET_CATEGORY": Answer("TARGET_CATEGORY", "scalar", value=int(experiment.target)),
                        "experiment_latents": Answer("experiment_latents", "dict", items=items)})


def judged(experiment, reference) -> dict:
    """What the grader's own on-target check says: passed, its message, and the images it counted."""
    answers = student(experiment)
    try:
        ex5.test_on_target(answers, reference)
        passed, message = True, ""
    except PassedBecause as said:  # a pass that names the share and the bar
        passed, message = True, str(said)
    except CheckFailed as failed:
        passed, message = False, str(failed)
    images = ex5.distinct_decoded(answers, reference)
    hits = int((reference.judge(images) == experiment.target).sum())
    return dict(passed=passed, message=message, hits=hits, distinct=len(images),
                margin=hits / len(images) - reference.on_target_bar(experiment.target))


def run(experiments, reference):
    """{category: dict(honest=[passed...], dishonest=[...], wrong=[(experiment, message)...], judged=[...])}"""
    results = {}
    for experiment in experiments:
        row = results.setdefault(experiment.target, dict(honest=[], dishonest=[], wrong=[], judged=[]))
        verdict = judged(experiment, reference)
        row["honest" if experiment.honest else "dishonest"].append(verdict["passed"])
        row["judged"].append(verdict)
        if verdict["passed"] != experiment.honest:
            row["wrong"].append((experiment, verdict["message"]))
    return results


def as_json(experiments, results, reference) -> dict:
    """Every experiment's verdict, in build order, and the table: what the cross-CPU test compares."""
    verdicts = {c: iter(row["judged"]) for c, row in results.items()}
    rows = [dict(target=e.target, honest=e.honest, recipe=e.recipe, **next(verdicts[e.target])) for e in experiments]
    return {"experiments": rows, "table": table(results, reference, markdown=True),
            "reference_sha256": reference.sha256}


def table(results, reference, markdown):
    rows = [("Category", "Bar", "Honest pass", "Dishonest pass")]
    for c in sorted(results):
        h, d = results[c]["honest"], results[c]["dishonest"]
        rows.append((lesson.CATEGORY_NAMES[c], f"{reference.on_target_bar(c):.0%}", f"{np.mean(h):.0%} ({sum(h)}/{len(h)})",
                     f"{np.mean(d):.0%} ({sum(d)}/{len(d)})"))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows)


def sheet_name(target, kind):
    return f"{target}_{lesson.CATEGORY_NAMES[target].replace('/', '-')}_{kind}.png"


def contact_sheet(group, reference, path):
    """Each experiment's decoded images on one row (at most 30 shown), in the order given."""
    from PIL import Image

    rows = [reference.decode(np.concatenate(list(e.latents.values())).astype(np.float64))[:30] for e in group]
    canvas = np.ones((30 * len(rows), 30 * 30))
    for i, images in enumerate(rows):
        for j, image in enumerate(images):
            canvas[30 * i:30 * i + 28, 30 * j:30 * j + 28] = image
    Image.fromarray((canvas * 255).astype(np.uint8)).save(path)


def contact_sheets(experiments, reference, folder):
    """One PNG per category and kind (honest, dishonest)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = {}
    for e in experiments:
        groups.setdefault((e.target, e.honest), []).append(e)
    for (target, honest), group in groups.items():
        contact_sheet(group, reference, folder / sheet_name(target, "honest" if honest else "dishonest"))


def failure_sheets(results, reference, folder):
    """One PNG per category of the experiments the check got wrong (honest failed first, then dishonest passed), in
    the order --failures lists them: what a person looks at to tell whether a failed honest one is still the
    category."""
    for c in sorted(results):
        wrong = [experiment for experiment, _ in results[c]["wrong"]]
        if wrong:
            contact_sheet(wrong, reference, Path(folder) / sheet_name(c, "wrong"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed-set", choices=sorted(SEED_SETS), default="held-out")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown (for the README)")
    parser.add_argument("--png", metavar="DIR", help="also save contact sheets of the decoded experiments here, and of those the check got wrong")
    parser.add_argument("--failures", action="store_true", help="list every experiment the check got wrong")
    parser.add_argument("--json", metavar="FILE", help="also write every experiment's verdict and the table here")
    args = parser.parse_args()
    started = time.perf_counter()
    from autograder.reference_answers import get_reference
    from reference import data

    reference = get_reference()
    experiments = build(args.seed_set, reference, data.load("test"))
    if args.png:
        contact_sheets(experiments, reference, args.png)
    results = run(experiments, reference)
    if args.png:
        failure_sheets(results, reference, args.png)
    print(table(results, reference, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(experiments, results, reference), indent=1))
    if args.failures:
        for c in sorted(results):
            for experiment, message in results[c]["wrong"]:
                kind = "honest failed" if experiment.honest else "dishonest passed"
                print(f"{lesson.CATEGORY_NAMES[c]}: {kind}: {experiment.recipe}\n    {message}")
    n = len(experiments)
    print(f"\n{n} experiments ({args.seed_set} seed set), {time.perf_counter() - started:.0f} s "
          f"with {torch.get_num_threads()} torch threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
