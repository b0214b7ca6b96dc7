"""Do the shipped checkpoints verify, describe themselves, and refuse any change with a clear message?"""
import shutil

import pytest
import torch

from reference import lesson
from reference.checkpoints import CheckpointError, build_model, load_checkpoint, read_verified
from reference.data import sha256_of


@pytest.mark.parametrize("kind, path, pin", [
    ("vae", lesson.VAE_CHECKPOINT, lesson.VAE_SHA256),
    ("classifier", lesson.CLASSIFIER_CHECKPOINT, lesson.CLASSIFIER_SHA256),
])
def test_shipped_checkpoint_matches_pin_and_rebuilds_from_file_alone(kind, path, pin):
    assert sha256_of(path) == pin
    assert path.stat().st_size < 5 * 2**20, "checkpoints are committed; keep them small"
    ckpt = load_checkpoint(kind)
    for key in ("kind", "model_args", "recipe", "state_dict", "train_loss_per_epoch", "train_seconds", "torch_version"):
        assert key in ckpt, key
    model = build_model(ckpt)
    assert not model.training


def test_vae_checkpoint_records_the_lessons_recipe_and_kl():
    ckpt = load_checkpoint("vae")
    assert ckpt["recipe"] == lesson.VAE_RECIPE and "subset" not in ckpt["recipe"]
    assert len(ckpt["train_loss_per_epoch"]) == 15
    assert len(ckpt["kl_per_dim"]) == 32 and sorted(ckpt["latent_order"]) == list(range(32))


def _copy(tmp_path):
    target = tmp_path / "vae.pt"
    shutil.copy(lesson.VAE_CHECKPOINT, target)
    return target


def test_one_flipped_byte_is_refused_naming_file_and_expected_hash(tmp_path):
    target = _copy(tmp_path)
    payload = bytearray(target.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    target.write_bytes(bytes(payload))
    with pytest.raises(CheckpointError) as err:
        read_verified(target, lesson.VAE_SHA256, "VAE_SHA256")
    assert str(target) in str(err.value) and lesson.VAE_SHA256 in str(err.value) and "VAE_SHA256" in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    target = _copy(tmp_path)
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="failed verification"):
        read_verified(target, lesson.VAE_SHA256, "VAE_SHA256")


def test_missing_file_says_how_to_restore(tmp_path):
    with pytest.raises(CheckpointError, match="is missing. Restore"):
        read_verified(tmp_path / "nope.pt", lesson.VAE_SHA256)


class NotATensor:
    pass


def test_pickled_code_is_refused_even_with_a_matching_hash(tmp_path):
    """weights_only=True: a file whose pin was updated to match still cannot run arbitrary code."""
    target = tmp_path / "evil.pt"
    torch.save({"kind": "vae", "payload": NotATensor()}, target)
    with pytest.raises(CheckpointError, match="torch cannot read it"):
        read_verified(target, sha256_of(target))
