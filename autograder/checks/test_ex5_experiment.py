"""Ex5: TARGET_CATEGORY and experiment_latents ({technique: codes of shape (n, 32)}), decoded and judged here.

The checks only; reading the answer and what they share: autograder/exercises/ex5_experiment.py."""
import numpy as np
import course_config as cfg
from reference import lesson
from autograder import contract
from autograder.compare import CheckFailed, PassedBecause
from autograder.diagnoses import CHECK_DIAGNOSES
from autograder.reference_answers import NO_CATEGORY, verdict_name
from autograder.exercises.ex5_experiment import (
    ON_TARGET, or_none, decoded, distinct_decoded, distinct_images, real_items, target_category, techniques,
)


def test_contract(student, reference):
    try:
        target_category(student)
    except CheckFailed as err:  # say when the judging still understood it: only this point is lost
        lenient = or_none(lambda: lesson.CATEGORY_NAMES[target_category(student, strict=False)])
        raise CheckFailed(f"{err} Your images were still judged, with the target read as {lenient}." if lenient
                          else str(err)) from None
    try:
        found = techniques(student)
    except CheckFailed as err:
        lenient = or_none(lambda: techniques(student, strict=False))
        every_technique_read = lenient and len(lenient) == len(student.get("experiment_latents").items)
        raise CheckFailed(f"{err} Your images were still judged, with the extra size-1 dims left out."
                          if every_technique_read else str(err)) from None
    contract.experiment_size(found, cfg.EX5_MIN_TECHNIQUES, cfg.EX5_MIN_CODES)


def test_diversity(student, reference):
    """Enough distinct generated images. Codes that are real items' mu decode to reconstructions, not generated
    images (the lesson asks for generated variations): they do not count here, and only here."""
    images = decoded(student, reference)
    needed = min(len(images), cfg.EX5_MIN_CODES)  # too few codes is the contract's fault, not diversity's
    real = [item for item in real_items(student, reference) if item]
    generated = np.array([item is None for item in real_items(student, reference)], dtype=bool)
    distinct = len(distinct_images(images[generated], cfg.EX5_DUPLICATE_PIXEL_DISTANCE))
    if distinct < needed and real:
        named = ", ".join(f"{split} #{index}" for split, index in real[:5]) + (", ..." if len(real) > 5 else "")
        raise CheckFailed(CHECK_DIAGNOSES["ex5_real_items"].format(
            real=len(real), n=len(images), items=named, distinct=distinct, min=needed))
    if distinct < needed:
        raise CheckFailed(CHECK_DIAGNOSES["ex5_near_duplicates"].format(
            distinct=distinct, n=len(images), threshold=cfg.EX5_DUPLICATE_PIXEL_DISTANCE, min=needed))


def test_on_target(student, reference):
    """The share of the distinct images the judge names the target. Too few codes or too few distinct images are
    the contract's and the diversity check's to charge, once; here only what the images show counts. The judge is the VAE itself (Reference.judge); the bar is the target category's own
    (Reference.on_target_bar, course_config.EX5_ON_TARGET_SHARE)."""
    target = target_category(student, strict=False)
    images = distinct_decoded(student, reference)
    verdicts = reference.judge(images)
    hits = int((verdicts == target).sum())
    bar = reference.on_target_bar(target)
    needed = int(np.ceil(bar * len(images) - 1e-9))
    counts = np.bincount(verdicts, minlength=NO_CATEGORY + 1)
    seen = ", ".join(f"{verdict_name(c)} {counts[c]}" for c in np.argsort(-counts, kind="stable")[:3] if counts[c])
    said = dict(judge=reference.judge_name(), target=lesson.CATEGORY_NAMES[target], hits=hits, n=len(images),
                needed=needed, bar=bar, seen=seen)
    if hits < needed:
        raise CheckFailed(CHECK_DIAGNOSES["ex5_off_target"].format(**said))
    raise PassedBecause(ON_TARGET.format(**said))  # full points, with the share and the bar
