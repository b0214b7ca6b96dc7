"""The shipped mu codes of every Fashion-MNIST item (reference/dataset_codes.py): verified, found, never guessed."""
import copy

import numpy as np
import pytest
import torch

from reference import dataset_codes, lesson, solutions
from reference.data import load


@pytest.fixture(scope="module")
def stored():
    return dataset_codes.read_verified()


def test_codes_students_compute_here_are_found_at_their_own_items(stored, vae, test_set):
    train = load("train")
    for split, images, at in (("test", test_set.images, [0, 1, 4999, 9999]), ("train", train.images, [0, 59999])):
        with torch.no_grad():
            mu = vae.encode(images[at])[0].numpy()
        assert dataset_codes.real_items(mu, stored) == [(split, i) for i in at]
        # a student's float64 or float16 model lands on the same items
        with torch.no_grad():
            mu64 = copy.deepcopy(vae).double().encode(images[at].double())[0].numpy()
        assert dataset_codes.real_items(mu64, stored) == [(split, i) for i in at]


def test_generated_codes_are_not_taken_for_real_items(stored, vae, test_set):
    target, experiment = solutions.ex5_example_experiment(vae, test_set)
    prior = torch.randn(200, lesson.VAE_RECIPE["latent_dim"], generator=torch.Generator().manual_seed(0))
    item = solutions.encode_to_mu(vae, solutions.get_items_by_category(test_set, target, n=2))
    step = item[:1] + 0.02 * (item[1:] - item[:1])  # one small step along an interpolation
    for codes in (*experiment.values(), prior, step):
        assert dataset_codes.real_items(codes.numpy(), stored) == [None] * len(codes)


def test_a_changed_or_missing_file_is_refused_with_the_fix(tmp_path):
    copy = tmp_path / "dataset_codes.npz"
    copy.write_bytes(lesson.DATASET_CODES.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match="failed verification.*make dataset-codes"):
        dataset_codes.read_verified(copy)
    with pytest.raises(ValueError, match="missing"):
        dataset_codes.read_verified(tmp_path / "gone.npz")


def test_the_file_matches_what_the_vae_computes_here(stored):
    """Remade here, every code lies within float16's rounding of the shipped one (bytes may differ by CPU)."""
    remade = dataset_codes.compute()
    for split in dataset_codes.SPLITS:
        assert np.abs(remade[split].astype(np.float32) - stored[split]).max() <= 4e-3
