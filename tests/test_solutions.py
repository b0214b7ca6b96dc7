"""Do the reference solutions compute what the lesson asks, checked by independent arithmetic?"""
import torch

from reference import lesson
from reference import solutions

DECODE_ATOL = 1e-5  # batched vs one-at-a-time decoding differs by ~1e-7 on CPU


def first_n_of(test_set, category, n):
    return test_set.images[(test_set.labels == category).nonzero().squeeze(1)[:n]]


def test_get_items_by_category_takes_the_first_n_in_order(test_set):
    items = solutions.get_items_by_category(test_set, 5, n=20)
    assert items.shape == (20, 1, 28, 28)
    torch.testing.assert_close(items, first_n_of(test_set, 5, 20), rtol=0, atol=0)


def test_ex3_matches_independent_arithmetic(vae, test_set):
    ex3 = solutions.ex3_arithmetic(vae, test_set)
    for value in ex3.values():
        assert value.shape == (1, 32)

    def mean_mu(category):
        with torch.no_grad():
            return vae.encode(first_n_of(test_set, category, 20))[0].mean(0, keepdim=True)

    expected = mean_mu(5) + (mean_mu(9) - mean_mu(7))
    torch.testing.assert_close(ex3["z_result"], expected)
    torch.testing.assert_close(ex3["boot_direction"], mean_mu(9) - mean_mu(7))


def test_ex4_grid_layout_matches_the_lesson():
    codes = solutions.ex4_grid_latents()
    assert codes.shape == (10, 10, 32)
    assert codes[0, 0, :2].tolist() == [-3.0, 3.0]    # top-left: dim0 = -3, dim1 = +3
    assert codes[0, 9, :2].tolist() == [3.0, 3.0]     # top-right
    assert codes[9, 0, :2].tolist() == [-3.0, -3.0]   # bottom-left
    assert torch.all(codes[..., 2:] == 0)
    torch.testing.assert_close(codes[4, :, 0], torch.linspace(-3, 3, 10))


def test_ex4_decoded_grid_equals_cell_by_cell_decoding(vae):
    grid = solutions.ex4_grid(vae)
    assert grid.shape == (10, 10, 28, 28) and grid.min() >= 0 and grid.max() <= 1
    z = torch.zeros(1, 32)
    z[0, 0], z[0, 1] = -3.0, 3.0 - 6.0 * 2 / 9  # row 2, column 0
    with torch.no_grad():
        torch.testing.assert_close(grid[2, 0], vae.decode(z)[0, 0], rtol=0, atol=DECODE_ATOL)
    # Dims 0 and 1 carry information, so the grid is not one grey blob: cells differ a lot.
    assert (grid[0, 0] - grid[9, 9]).abs().max() > 0.5


def test_ex5_example_meets_the_lessons_requirements(vae, test_set, classifier):
    target, experiment = solutions.ex5_example_experiment(vae, test_set)
    assert 0 <= target <= 9 and len(experiment) >= 2
    codes = torch.cat(list(experiment.values()))
    assert codes.shape[1] == 32 and len(codes) >= 15 and torch.isfinite(codes).all()
    with torch.no_grad():
        verdicts = classifier(vae.decode(codes)).argmax(1)
    assert (verdicts == target).float().mean() >= 0.8


def test_ex5_example_does_not_touch_the_global_rng(vae, test_set):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    solutions.ex5_example_experiment(vae, test_set)
    assert torch.rand(1) == expected


def test_classifier_clears_the_accuracy_bar(classifier, test_set):
    with torch.no_grad():
        accuracy = (classifier(test_set.images).argmax(1) == test_set.labels).float().mean().item()
    assert accuracy >= lesson.CLASSIFIER_MIN_TEST_ACCURACY
