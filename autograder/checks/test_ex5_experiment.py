"""Ex5: TARGET_CATEGORY and experiment_latents ({technique: codes of shape (n, 32)}), decoded and judged here."""
import numpy as np

import course_config as cfg
from reference import lesson
from autograder import contract
from autograder.compare import CheckFailed, as_array, read_once
from autograder.diagnoses import CHECK_DIAGNOSES
from autograder.reference_answers import NO_CATEGORY, verdict_name

CELL = "ex5_experiment"
LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]


def _category_names() -> dict:
    """'sneaker', 'ankle boot', 't-shirt/top', 't-shirt', 'top', ... -> label: how students write category names."""
    names = {}
    for label, name in enumerate(lesson.CATEGORY_NAMES):
        for alias in (name, *name.split("/")):
            names[" ".join(alias.lower().replace("-", " ").replace("_", " ").split())] = label
    return names


def target_category(student, strict=True) -> int:
    return read_once(student, ("target", strict), lambda: _target_category(student, strict))


def _target_category(student, strict=True) -> int:
    """The target label (the contract's rule). strict=False also reads a label written as a string ('7') or a
    category name ('Sneaker', any case): the wrong type costs the contract point, not the judging of the images."""
    answer = student.get("TARGET_CATEGORY")
    try:
        return contract.target_category(answer)
    except CheckFailed:
        if strict or answer is None or answer.kind != "scalar" or not isinstance(answer.value, str):
            raise
    text = " ".join(answer.value.lower().replace("-", " ").replace("_", " ").split())
    label = int(text) if text.isdigit() else _category_names().get(text)
    if label is None or not 0 <= label <= 9:
        contract.target_category(answer)  # raises the contract's words
    return label


def techniques(student, strict=True) -> dict:
    return read_once(student, ("techniques", strict), lambda: _techniques(student, strict))


def _techniques(student, strict=True) -> dict:
    """{technique: (n, 32) array}. strict: the contract's rule, naming the first unusable technique; otherwise
    unusable techniques are left out, so one broken technique costs the contract point, not the whole experiment."""
    answer = student.get("experiment_latents")
    if strict:
        return contract.experiment(answer, LATENT_DIM)
    if answer is None or answer.kind != "dict":
        return contract.experiment(answer, LATENT_DIM)  # raises: missing, or not a dict
    result = {}
    for item in answer.items:
        try:
            result[item.name] = _codes(item)
        except CheckFailed:
            pass
    return result


def _codes(item) -> np.ndarray:
    """(n, 32) codes, also from codes with extra size-1 dims ((n, 1, 32)): the shape costs the contract point, not
    the judging of the images too."""
    try:
        return contract.technique_codes(item, LATENT_DIM)
    except CheckFailed:
        codes = as_array(item, item.name)
        sized = [d for d in codes.shape if d != 1]
        if codes.ndim > 2 and sized[-1:] == [LATENT_DIM] and len(sized) <= 2:
            return codes.reshape(-1, LATENT_DIM)  # only size-1 dims besides n and 32: the same codes
        raise


def all_codes(student) -> np.ndarray:
    return read_once(student, "codes", lambda: _all_codes(student))


def _all_codes(student) -> np.ndarray:
    """Every usable code, the first EX5_MAX_CODES of them; CheckFailed when there is none."""
    found = techniques(student, strict=False)
    if not found:
        techniques(student)  # raises the reason the first technique is unusable
        contract.experiment_size(found, cfg.EX5_MIN_TECHNIQUES, cfg.EX5_MIN_CODES)
    return np.concatenate(list(found.values()))[:cfg.EX5_MAX_CODES]


def test_contract(student, reference):
    try:
        target_category(student)
    except CheckFailed as err:  # say when the judging still understood it: only this point is lost
        lenient = _or_none(lambda: lesson.CATEGORY_NAMES[target_category(student, strict=False)])
        raise CheckFailed(f"{err} Your images were still judged, with the target read as {lenient}." if lenient
                          else str(err)) from None
    try:
        found = techniques(student)
    except CheckFailed as err:
        lenient = _or_none(lambda: techniques(student, strict=False))
        every_technique_read = lenient and len(lenient) == len(student.get("experiment_latents").items)
        raise CheckFailed(f"{err} Your images were still judged, with the extra size-1 dims left out."
                          if every_technique_read else str(err)) from None
    contract.experiment_size(found, cfg.EX5_MIN_TECHNIQUES, cfg.EX5_MIN_CODES)


def _or_none(read):
    try:
        return read()
    except CheckFailed:
        return None


def distinct_images(images: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy: an image is new if its mean |pixel difference| to every image kept so far is >= threshold."""
    kept = []
    for i, image in enumerate(images):
        if not kept or np.abs(images[kept] - image).mean(axis=(1, 2)).min() >= threshold:
            kept.append(i)
    return images[kept]


def decoded(student, reference) -> np.ndarray:
    """The judged codes decoded by the reference VAE, once per submission."""
    return read_once(student, "decoded", lambda: reference.decode(all_codes(student)))


def distinct_decoded(student, reference) -> np.ndarray:
    return read_once(student, "distinct", lambda: distinct_images(decoded(student, reference),
                                                                 cfg.EX5_DUPLICATE_PIXEL_DISTANCE))


def test_diversity(student, reference):
    images = decoded(student, reference)
    distinct = len(distinct_decoded(student, reference))
    needed = min(len(images), cfg.EX5_MIN_CODES)  # too few codes is the contract's fault, not diversity's
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
    if hits < needed:
        counts = np.bincount(verdicts, minlength=NO_CATEGORY + 1)
        seen = ", ".join(f"{verdict_name(c)} {counts[c]}" for c in np.argsort(-counts, kind="stable")[:3] if counts[c])
        raise CheckFailed(CHECK_DIAGNOSES["ex5_off_target"].format(
            judge=reference.judge_name(), target=lesson.CATEGORY_NAMES[target], hits=hits, n=len(images),
            needed=needed, bar=bar, seen=seen))
