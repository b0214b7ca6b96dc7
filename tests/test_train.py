"""Does the training command learn, write a loadable checkpoint, and resume exactly after an interruption?
Smoke runs only: a few hundred images, never to convergence."""
import pytest
import torch

from reference import train
from reference.checkpoints import build_model

SUBSET = 512  # images; enough for the loss to fall in 3 epochs, fast on 2 cores


class Interrupted(Exception):
    pass


def _interrupt_after_epoch(n):
    def log(line):
        if f"epoch {n:2d}/" in line:
            raise Interrupted
    return log


def test_vae_smoke_run_learns_and_round_trips(tmp_path, test_set):
    out = tmp_path / "vae.pt"
    ckpt = train.train("vae", out, epochs=3, subset=SUBSET, device="cpu", log=lambda _: None)
    losses = ckpt["train_loss_per_epoch"]
    assert losses[-1] < losses[0] * 0.95, losses
    assert not (tmp_path / "vae.pt.resume.pt").exists()
    loaded = torch.load(out, weights_only=True)
    model = build_model(loaded)
    assert loaded["recipe"]["subset"] == SUBSET and loaded["recipe"]["epochs"] == 3
    # The reordering really happened and the stored metrics describe the stored weights.
    kl = torch.tensor(loaded["kl_per_dim"])
    assert torch.all(kl[:-1] >= kl[1:])
    again = train.vae_test_metrics(model, test_set.images)
    assert again["test_loss_per_image"] == pytest.approx(loaded["test_loss_per_image"], rel=1e-5)
    assert loaded["test_loss_per_image"] == pytest.approx(loaded["test_loss_per_image_before_reorder"], rel=1e-5)


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    straight = train.train("vae", tmp_path / "a.pt", epochs=2, subset=256, device="cpu", log=lambda _: None)
    out = tmp_path / "b.pt"
    with pytest.raises(Interrupted):
        train.train("vae", out, epochs=2, subset=256, device="cpu", log=_interrupt_after_epoch(1))
    assert (tmp_path / "b.pt.resume.pt").exists() and not out.exists()
    lines = []
    resumed = train.train("vae", out, epochs=2, subset=256, device="cpu", log=lines.append)
    assert any("Resuming vae from epoch 1" in line for line in lines)
    assert resumed["train_loss_per_epoch"] == straight["train_loss_per_epoch"]
    for name, tensor in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], tensor, rtol=0, atol=0)


def test_classifier_smoke_run_beats_chance(tmp_path):
    ckpt = train.train("classifier", tmp_path / "clf.pt", epochs=1, subset=2048, device="cpu", log=lambda _: None)
    assert ckpt["test_accuracy"] > 0.5  # chance is 0.1
    assert build_model(torch.load(tmp_path / "clf.pt", weights_only=True)).num_classes == 10
