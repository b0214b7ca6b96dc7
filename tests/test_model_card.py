"""Do the model card's figures (docs/models.md) match what the shipped checkpoints measure now?"""
import re

import pytest

import course_config as cfg
from reference import lesson
from reference.model_card import README_BEGIN, README_END
from reference.train import classifier_accuracy, vae_test_metrics

CARD = cfg.COURSE_ROOT / "docs" / "models.md"


def card_value(label):
    text = CARD.read_text()
    card = text[text.index(README_BEGIN):text.index(README_END)]
    match = re.search(rf"^\| {re.escape(label)} \| ([^|]+) \|$", card, re.M)
    assert match, f"README model card has no row {label!r}"
    return match.group(1).strip()


def test_readme_test_loss_matches_measurement(vae, test_set):
    measured = vae_test_metrics(vae, test_set.images)["test_loss_per_image"]
    assert float(card_value("VAE test loss per image (BCE-sum + KL, decoding mu)")) == pytest.approx(measured, abs=0.01)


def test_readme_classifier_accuracy_matches_measurement(classifier, test_set):
    measured = classifier_accuracy(classifier, test_set.images, test_set.labels)
    assert float(card_value("Classifier test accuracy").rstrip("%")) / 100 == pytest.approx(measured, abs=1e-4)


def test_readme_pins_match_course_config():
    assert card_value("VAE sha256") == f"`{lesson.VAE_SHA256}`"
    assert card_value("Classifier sha256") == f"`{lesson.CLASSIFIER_SHA256}`"


def test_readme_shows_the_committed_pictures():
    text = CARD.read_text()
    for name in ("ex3_arithmetic.png", "ex4_grid.png"):
        assert (cfg.FIGURE_DIR / name).stat().st_size > 10_000
        assert f"reference/figures/{name}" in text


def test_ci_calls_the_readmes_test_command():
    assert "make test" in (cfg.COURSE_ROOT / ".ci" / "run").read_text()
    readme = (cfg.COURSE_ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
