"""Ex5: TARGET_CATEGORY and experiment_latents ({technique: codes of shape (n, 32)}), decoded and judged here.

What the kit knows about this exercise: how to read the student's answer (shared by the checks, the
feedback and the class report), its title, format rules and feedback pictures. Its checks are
autograder/checks/test_ex5_experiment.py.
"""
import numpy as np
import course_config as cfg
from reference import lesson
from autograder import contract, drawing
from autograder.compare import CheckFailed, as_array, read_once

CELL = "ex5_experiment"


LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]
# What a passing on_target check says: the share the judge saw and the category's bar (the notebook promises it).
ON_TARGET = ("On target: {hits} of your {n} distinct decoded images show {target} to {judge}; {target}'s bar is "
             "{bar:.0%}, so {needed} were needed. The judge's most frequent names: {seen}.")


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


def or_none(read):
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


def real_items(student, reference) -> list:
    """For each judged code, the (split, index) of the real item it is the encoder's mu of, or None."""
    return read_once(student, "real", lambda: reference.real_items(all_codes(student)))


def distinct_decoded(student, reference) -> np.ndarray:
    return read_once(student, "distinct", lambda: distinct_images(decoded(student, reference),
                                                                 cfg.EX5_DUPLICATE_PIXEL_DISTANCE))


# ------------------------------------------------------------------------------------------------ what students see
# The checks the notebook's own format tests state: all a student reads when FEEDBACK_ON_SUBMIT is "format".
FORMAT_CHECKS = ("contract",)
TITLE = "Exercise 5: targeted generation"
FORMAT_SUMMARY = ("{techniques} techniques, {codes} codes, target {target}: the format the autograder reads; it judges "
                  "the decoded images.")


def format_rules() -> list:
    """The visible checks' rules (autograder/contract.py), with course_config's values when the notebook is built."""
    return [("target_category", "TARGET_CATEGORY", {}),
            ("experiment", "experiment_latents", {"latent_dim": LATENT_DIM, "min_techniques": cfg.EX5_MIN_TECHNIQUES,
                                                  "min_codes": cfg.EX5_MIN_CODES})]


def pictures(answers, reference) -> list:
    """A picture for each of the first ten techniques: its first 30 codes decoded, under the judge's labels."""
    try:
        target = target_category(answers, strict=False)
    except AssertionError:
        target = None
    result = []
    for technique, codes in list(techniques(answers, strict=False).items())[:10]:
        images = reference.decode(codes[:30])
        result.append((f"{technique}: your codes decoded by the reference VAE, with the judge's label "
                       f"(green = {lesson.CATEGORY_NAMES[target] if target is not None else 'target'}).",
                       drawing.labelled_mosaic(images, reference.judge(images), target)))
    return result


def notes(answers) -> list:
    """What the checks left out of judging, said once even when every check passed."""
    try:
        n = sum(len(codes) for codes in techniques(answers, strict=False).values())
    except Exception:  # noqa: BLE001  an unreadable experiment already has its messages
        return []
    if n > cfg.EX5_MAX_CODES:
        return [f"only the first {cfg.EX5_MAX_CODES} of your {n} codes were decoded and judged."]
    return []
