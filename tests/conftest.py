"""Shared fixtures: the real test set and the shipped, verified models, loaded once per session."""
import pytest

from reference import data
from reference.checkpoints import load_model


@pytest.fixture(scope="session")
def test_set():
    return data.load("test")


@pytest.fixture(scope="session")
def vae():
    return load_model("vae")


@pytest.fixture(scope="session")
def classifier():
    return load_model("classifier")


@pytest.fixture(scope="session")
def pipeline():
    """The grading pipeline the CLI runs (nbgrader's preprocessor lists, a gradebook of its own)."""
    from autograder.pipeline import Pipeline

    with Pipeline() as grading:
        yield grading
