"""Is the shipped VAE the lesson's VAE, with its latent dims ordered by information (KL)?"""
import torch

from reference.checkpoints import load_checkpoint
from reference.train import vae_test_metrics
from reference.vae import VAE, permute_latents
from tests.files import lesson_vae

LOSS_RTOL = 1e-5  # a permutation only changes float32 summation order


def test_lessons_own_class_loads_the_shipped_state_dict_and_agrees(test_set, vae):
    lesson_model = lesson_vae.VAE()
    lesson_model.load_state_dict(load_checkpoint("vae")["state_dict"], strict=True)
    lesson_model.eval()
    x = test_set.images[:64]
    with torch.no_grad():
        torch.testing.assert_close(lesson_model.encode(x), vae.encode(x), rtol=0, atol=0)


def test_a_lesson_state_dict_loads_into_the_kit():
    torch.manual_seed(0)
    lesson_model = lesson_vae.VAE()
    kit_model = VAE()
    kit_model.load_state_dict(lesson_model.state_dict(), strict=True)
    z = torch.randn(4, 32)
    with torch.no_grad():
        torch.testing.assert_close(kit_model.decode(z), lesson_model.decode(z), rtol=0, atol=0)


def test_dims_are_ordered_by_kl_with_dims_0_and_1_on_top(test_set, vae):
    kl = torch.tensor(vae_test_metrics(vae, test_set.images)["kl_per_dim"])
    assert torch.all(kl[:-1] >= kl[1:]), kl
    assert kl[0] > 1.0 and kl[1] > 1.0, "dims 0 and 1 must carry real information for the Ex4 grid"
    assert kl[-1] < 0.1 * kl[1]


def test_permuting_latents_leaves_the_test_loss_unchanged(test_set, vae):
    before = vae_test_metrics(vae, test_set.images)
    shuffled = VAE()
    shuffled.load_state_dict(vae.state_dict())
    order = torch.randperm(32, generator=torch.Generator().manual_seed(1))
    permute_latents(shuffled, order)
    after = vae_test_metrics(shuffled, test_set.images)
    torch.testing.assert_close(after["test_loss_per_image"], before["test_loss_per_image"], rtol=LOSS_RTOL, atol=0)
    torch.testing.assert_close(torch.tensor(after["kl_per_dim"]), torch.tensor(before["kl_per_dim"])[order],
                               rtol=1e-4, atol=1e-6)
    # And the permutation is real: decoding the same code now gives another image.
    z = torch.zeros(1, 32)
    z[0, 0] = 3.0
    with torch.no_grad():
        assert (shuffled.decode(z) - vae.decode(z)).abs().max() > 0.05
