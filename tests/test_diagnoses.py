"""Does each classic mistake fail exactly its checks and get named by its catalogue entry?

Answers go through the real export (autograder/contract.py) and loader, then straight into the check functions,
so these run in seconds; the corpus tests do the same through whole notebooks and kernels.
"""
import pytest
import torch

import course_config as cfg
from autograder.answers import load_cell_answers
from autograder.checks import test_ex3_arithmetic as ex3, test_ex4_grid as ex4, test_ex5_experiment as ex5
from autograder.compare import CheckFailed, PassedBecause
from autograder.diagnoses import CATALOGUE, CHECK_DIAGNOSES
from autograder.contract import export_answers
from autograder.reference_answers import get_reference
from reference import solutions

CHECKS = {"ex3_arithmetic": ex3, "ex4_grid": ex4, "ex5_experiment": ex5}


@pytest.fixture(scope="module")
def ref():
    return get_reference()


@pytest.fixture(scope="module")
def correct(vae, test_set):
    ex3_values = solutions.ex3_arithmetic(vae, test_set)
    target, experiment = solutions.ex5_example_experiment(vae, test_set)
    return {"boot_direction": ex3_values["boot_direction"], "z_result": ex3_values["z_result"],
            "z_sneaker_avg": ex3_values["z_sneaker_avg"], "z_sandal_avg": ex3_values["z_sandal_avg"],
            "decoded_grid": solutions.ex4_grid(vae), "z": torch.tensor([[3.0, -3.0] + [0.0] * 30]),
            "TARGET_CATEGORY": target, "experiment_latents": experiment,
            "real_items": solutions.encode_to_mu(vae, solutions.get_items_by_category(test_set, target, n=20))}


class PassedWith(str):
    """A passing check's message: full points, with the reason said (compare.PassedBecause)."""


def grade(tmp_path, ref, cell_id, values):
    """{check: message or ''} for one cell, answers round-tripped through the real export; a pass that says why is
    a PassedWith."""
    export_answers(cell_id, list(values), values, str(tmp_path))
    student = load_cell_answers(tmp_path, cell_id)
    outcome = {}
    for name in __import__("course_config").CHECK_POINTS[cell_id]:
        try:
            getattr(CHECKS[cell_id], f"test_{name}")(student, ref)
            outcome[name] = ""
        except PassedBecause as passed:
            outcome[name] = PassedWith(passed)
        except CheckFailed as failed:
            outcome[name] = str(failed)
    return outcome


def failed(outcome):
    return {name for name, message in outcome.items() if message and not isinstance(message, PassedWith)}


def test_correct_answers_pass_every_check(tmp_path, ref, correct):
    assert failed(grade(tmp_path, ref, "ex3_arithmetic", {k: correct[k] for k in ("boot_direction", "z_result")})) == set()
    assert failed(grade(tmp_path, ref, "ex4_grid", {k: correct[k] for k in ("decoded_grid", "z")})) == set()
    assert failed(grade(tmp_path, ref, "ex5_experiment",
                        {k: correct[k] for k in ("TARGET_CATEGORY", "experiment_latents")})) == set()


def ex3_case(correct, vae, test_set, mistake):
    c = dict(correct)
    mean = lambda cat, n=20, part=0: vae.encode(solutions.get_items_by_category(test_set, cat, n))[part].mean(0, keepdim=True)  # noqa: E731
    with torch.no_grad():
        if mistake == "ex3_direction_reversed":
            c["boot_direction"] = -correct["boot_direction"]
        elif mistake == "ex3_single_items":
            c["boot_direction"] = mean(9, 1) - mean(7, 1)
        elif mistake == "ex3_logvar_instead_of_mu":
            c["boot_direction"] = mean(9, part=1) - mean(7, part=1)
        elif mistake == "ex3_wrong_categories":
            c["boot_direction"] = mean(9) - mean(5)
        elif mistake == "ex3_sampled_z":
            torch.manual_seed(0)
            sample = lambda cat: vae.reparameterize(*vae.encode(solutions.get_items_by_category(test_set, cat, 20))).mean(0, keepdim=True)  # noqa: E731
            c["boot_direction"] = sample(9) - sample(7)
        elif mistake == "ex3_wrong_base":
            c["z_result"] = correct["z_sneaker_avg"] + correct["boot_direction"]
        elif mistake == "ex3_direction_subtracted":
            c["z_result"] = correct["z_sandal_avg"] - correct["boot_direction"]
        elif mistake == "ex3_single_sandal":
            c["z_result"] = mean(5, 1) + correct["boot_direction"]
        elif mistake == "ex3_logvar_result":
            c["z_result"] = mean(5, part=1) + mean(9, part=1) - mean(7, part=1)
        elif mistake == "ex3_direction_twice":
            c["z_result"] = correct["z_sandal_avg"] + 2 * correct["boot_direction"]
        elif mistake == "ex3_direction_only":
            c["z_result"] = correct["boot_direction"]
    if EX3[mistake][0] == {"boot_direction"}:  # the student then adds their own direction to the sandal
        c["z_result"] = correct["z_sandal_avg"] + c["boot_direction"]
    return {k: c[k] for k in ("boot_direction", "z_result")}


EX3 = {  # mistake -> (checks it must fail, words its message must contain)
    "ex3_direction_reversed": ({"boot_direction"}, "points the wrong way"),
    "ex3_single_items": ({"boot_direction"}, "single images"),
    "ex3_logvar_instead_of_mu": ({"boot_direction"}, "computed from logvar"),
    "ex3_wrong_categories": ({"boot_direction"}, "Ankle boot (9) minus Sandal (5)"),
    "ex3_sampled_z": ({"boot_direction"}, "sampled z"),
    "ex3_wrong_base": ({"z_result"}, "average Sneaker (7)"),
    "ex3_direction_subtracted": ({"z_result"}, "subtracts boot_direction"),
    "ex3_single_sandal": ({"z_result"}, "single sandal"),
    "ex3_logvar_result": ({"z_result"}, "from logvar"),
    "ex3_direction_only": ({"z_result"}, "just boot_direction"),
    "ex3_direction_twice": ({"z_result"}, "adds boot_direction twice"),
}


@pytest.mark.parametrize("mistake", sorted(EX3))
def test_ex3_mistake_costs_its_step_and_is_named(tmp_path, ref, correct, vae, test_set, mistake):
    checks, words = EX3[mistake]
    outcome = grade(tmp_path, ref, "ex3_arithmetic", ex3_case(correct, vae, test_set, mistake))
    assert failed(outcome) == checks
    assert words in " ".join(outcome.values())


def own_inputs_case(correct, vae, test_set, case):
    """Ex3 answers with the three averages exported too, as the skeleton's cell holds them."""
    def mean(cat, first=0, n=20):
        return vae.encode(solutions.get_items_by_category(test_set, cat, first + n)[first:])[0].mean(0, keepdim=True)

    with torch.no_grad():
        averages = {"z_sneaker_avg": mean(7), "z_ankle_boot_avg": mean(9), "z_sandal_avg": mean(5)}
        if case == "other_items_everywhere":
            averages = {"z_sneaker_avg": mean(7, 20), "z_ankle_boot_avg": mean(9, 20), "z_sandal_avg": mean(5, 20)}
        elif case == "other_sandal_items":
            averages["z_sandal_avg"] = mean(5, n=5)
        elif case == "sandal_from_the_wrong_label":
            averages["z_sandal_avg"] = mean(7)
        elif case == "forty_items_everywhere":  # n_samples = 40
            averages = {"z_sneaker_avg": mean(7, n=40), "z_ankle_boot_avg": mean(9, n=40), "z_sandal_avg": mean(5, n=40)}
        elif case == "sampled_everywhere":  # the right 20 items, through the encoder's sampling instead of mu
            torch.manual_seed(0)
            averages = {name: vae.reparameterize(*vae.encode(solutions.get_items_by_category(test_set, cat, 20)))
                        .mean(0, keepdim=True) for name, cat in (("z_sneaker_avg", 7), ("z_ankle_boot_avg", 9),
                                                                 ("z_sandal_avg", 5))}
        if case == "averages_all_zeros":  # nothing encoded: the arithmetic on zeros earns nothing
            averages = {name: torch.zeros(1, 32) for name in averages}
    direction = averages["z_ankle_boot_avg"] - averages["z_sneaker_avg"]
    result = averages["z_sandal_avg"] + direction
    if case == "right_value_other_route":  # direction the other way round, subtracted to compensate
        direction = -direction
        result = averages["z_sandal_avg"] - direction
    return {"boot_direction": direction, "z_result": result, **averages}


OWN_INPUTS = {  # a value equal to the reference never loses points; one deviation costs its own step once
    "right_value_other_route": ({"boot_direction"}, "points the wrong way"),
    "other_items_everywhere": ({"boot_direction"}, "you averaged other items than the first 20"),
    "other_sandal_items": ({"z_result"}, "`z_sandal_avg` is the mean mu of the first 5 Sandal items"),
    "sandal_from_the_wrong_label": ({"z_result"}, "`z_sandal_avg` is the average of Sneaker (7) items"),
    "all_right": (set(), ""),
    "sampled_everywhere": ({"boot_direction"}, "built from sampled z"),
    "forty_items_everywhere": ({"boot_direction"}, "is the mean mu of the first 40 Sneaker items of the test set"),
    "averages_all_zeros": ({"boot_direction", "z_result"}, "`z_ankle_boot_avg` is all zeros"),
}


@pytest.mark.parametrize("mistake", ["ex3_direction_reversed", "ex3_wrong_categories", "ex3_single_items"])
def test_a_result_right_for_the_students_own_direction_says_why_it_passed(tmp_path, ref, correct, vae, test_set,
                                                                          mistake):
    outcome = grade(tmp_path, ref, "ex3_arithmetic", ex3_case(correct, vae, test_set, mistake))
    assert failed(outcome) == {"boot_direction"}
    assert isinstance(outcome["z_result"], PassedWith)
    assert "your `z_sandal_avg` + your `boot_direction`" in outcome["z_result"]
    assert "costs once" in outcome["z_result"]


def test_averages_over_the_wrong_axis_cost_the_shapes_point_and_their_step_once(tmp_path, ref, vae, test_set):
    """`.mean(dim=1)` gives one number per image, (20,): the shapes point and boot_direction (the step built on the
    averages) are lost, each naming the axis; z_result, the right arithmetic on the student's own values, passes."""
    with torch.no_grad():
        averages = {name: vae.encode(solutions.get_items_by_category(test_set, label, 20))[0].mean(dim=1)
                    for name, label in (("z_sneaker_avg", 7), ("z_ankle_boot_avg", 9), ("z_sandal_avg", 5))}
    direction = averages["z_ankle_boot_avg"] - averages["z_sneaker_avg"]
    outcome = grade(tmp_path, ref, "ex3_arithmetic", {**averages, "boot_direction": direction,
                                                      "z_result": averages["z_sandal_avg"] + direction})
    assert failed(outcome) == {"shapes", "boot_direction"}
    assert ".mean(dim=1)" in outcome["shapes"] and ".mean(dim=1)" in outcome["boot_direction"]
    assert isinstance(outcome["z_result"], PassedWith) and "charged above, once" in outcome["z_result"]
    wrong = grade(tmp_path, ref, "ex3_arithmetic", {**averages, "boot_direction": direction,
                                                    "z_result": averages["z_sandal_avg"] - direction})
    assert failed(wrong) == {"shapes", "boot_direction", "z_result"}  # a wrong step on own values still costs


def test_a_right_result_passes_without_a_word(tmp_path, ref, correct):
    assert grade(tmp_path, ref, "ex3_arithmetic", {k: correct[k] for k in ("boot_direction", "z_result")}) == \
        {"shapes": "", "boot_direction": "", "z_result": ""}


@pytest.mark.parametrize("case", sorted(OWN_INPUTS))
def test_ex3_each_step_is_judged_on_the_students_own_inputs(tmp_path, ref, correct, vae, test_set, case):
    checks, words = OWN_INPUTS[case]
    outcome = grade(tmp_path, ref, "ex3_arithmetic", own_inputs_case(correct, vae, test_set, case))
    assert failed(outcome) == checks
    assert words in " ".join(outcome.values())


def ex4_case(correct, vae, mistake):
    grid, z = correct["decoded_grid"].clone(), correct["z"].clone()
    with torch.no_grad():
        if mistake == "ex4_upside_down":
            grid = grid.flip(0)
        elif mistake == "ex4_dims_swapped":
            codes = solutions.ex4_grid_latents()[..., [1, 0, *range(2, 32)]]
            grid = vae.decode(codes.reshape(-1, 32)).reshape(10, 10, 28, 28)
            z = torch.tensor([[-3.0, 3.0] + [0.0] * 30])
        elif mistake == "ex4_other_arrangement":
            grid = grid.flip(1)
        elif mistake == "ex4_other_dims_not_zero":
            codes = solutions.ex4_grid_latents()
            codes[..., 2:] = 1.0
            grid = vae.decode(codes.reshape(-1, 32)).reshape(10, 10, 28, 28)
            z[0, 2:] = 1.0
        elif mistake == "ex4_other_pair_of_dims":  # z[0, 1] = d1_val, z[0, 2] = d2_val: the grid over dims 1, 2
            codes = solutions.ex4_grid_latents()[..., [31, 0, 1, *range(2, 31)]]
            grid = vae.decode(codes.reshape(-1, 32)).reshape(10, 10, 28, 28)
            z = torch.tensor([[0.0, 3.0, -3.0] + [0.0] * 29])
        elif mistake == "ex4_other_pair_upside_down":
            codes = solutions.ex4_grid_latents()[..., [31, 0, 1, *range(2, 31)]]
            grid = vae.decode(codes.reshape(-1, 32)).reshape(10, 10, 28, 28).flip(0)
            z = torch.tensor([[0.0, 3.0, -3.0] + [0.0] * 29])
        elif mistake == "ex4_decoder_fc_outputs":
            grid = vae.decoder_fc(solutions.ex4_grid_latents().reshape(-1, 32)).reshape(10, 10, 3136)
        elif mistake == "ex4_double_sigmoid":
            grid = torch.sigmoid(grid)
        elif mistake == "ex4_double_sigmoid_upside_down":
            grid = torch.sigmoid(grid).flip(0)
        elif mistake == "ex4_wrong_range":
            grid = solutions.ex4_grid(vae, grid_range=(-2.0, 2.0))
            z = torch.tensor([[2.0, -2.0] + [0.0] * 30])
        elif mistake == "ex4_pixels_0_255":
            grid = grid * 255
        elif mistake == "ex4_logits":  # the decoder's output before its final sigmoid
            grid = torch.logit(grid.double().clamp(1e-12, 1 - 1e-12))
        elif mistake == "ex4_wrong_image_shape":
            grid = grid.reshape(10, 10, 784)
        elif mistake == "ex4_wrong_grid_size":
            grid = grid[:5]
    return {"decoded_grid": grid, "z": z}


EX4 = {
    "ex4_upside_down": ({"orientation"}, "upside down"),
    "ex4_dims_swapped": ({"orientation"}, "Dims 0 and 1 are swapped"),
    "ex4_other_arrangement": ({"orientation"}, "left and right are swapped"),
    # one mistake costs once: the orientation is judged on the student's own grid (their range, their other dims)
    "ex4_other_dims_not_zero": ({"cells"}, "other 30 dims must be 0"),
    "ex4_wrong_range": ({"cells"}, "does not span -3 to +3"),
    "ex4_other_pair_of_dims": ({"cells"}, "The grid varies latent dims 1 (columns) and 2 (rows)"),
    "ex4_other_pair_upside_down": ({"cells", "orientation"}, "grid over dims 1 and 2 from -3 to +3: it is upside down"),
    # a pixel-scale mistake costs the pixel point only: the images and their orientation are still judged
    "ex4_double_sigmoid": ({"pixel_scale"}, "through another increasing map"),
    "ex4_decoder_fc_outputs": ({"shape", "pixel_scale", "cells", "orientation"}, "decoder's first layer, decoder_fc"),
    "ex4_double_sigmoid_upside_down": ({"pixel_scale", "orientation"}, "upside down"),
    "ex4_pixels_0_255": ({"pixel_scale"}, "0-255 scale"),
    "ex4_logits": ({"pixel_scale"}, "before the decoder's final sigmoid (logits)"),
    "ex4_wrong_image_shape": ({"shape"}, "only this format point is lost"),
    "ex4_wrong_grid_size": ({"shape", "pixel_scale", "cells", "orientation"}, "10 rows by 10 columns"),
}


@pytest.mark.parametrize("mistake", sorted(EX4))
def test_ex4_mistake_costs_its_checks_and_is_named(tmp_path, ref, correct, vae, mistake):
    checks, words = EX4[mistake]
    outcome = grade(tmp_path, ref, "ex4_grid", ex4_case(correct, vae, mistake))
    if mistake == "ex4_wrong_grid_size":  # nothing can be judged on a grid of the wrong size
        assert failed(outcome) >= {"shape", "cells", "orientation"}
    else:
        assert failed(outcome) == checks
    assert words in " ".join(outcome.values())


def ex5_case(correct, mistake):
    target, experiment = correct["TARGET_CATEGORY"], dict(correct["experiment_latents"])
    first = next(iter(experiment))
    if mistake == "ex5_too_few_codes":
        experiment = {k: v[:5] for k, v in experiment.items()}
    elif mistake == "ex5_too_few_codes_and_techniques":  # both named, one point
        experiment = {first: experiment[first][:10]}
    elif mistake == "ex5_too_few_techniques":
        experiment = {first: experiment[first]}
    elif mistake == "ex5_wrong_latent_shape":
        experiment[first] = experiment[first][:, :16]
    elif mistake == "ex5_non_finite":
        experiment[first] = experiment[first].clone()
        experiment[first][0, 0] = float("inf")
    elif mistake == "ex5_bad_target":
        target = 12
    elif mistake == "ex5_near_duplicates":
        experiment = {k: v[:1].repeat(len(v), 1) for k, v in experiment.items()}
    elif mistake == "ex5_off_target":
        target = 1
    elif mistake == "ex5_real_items":  # the encoder's codes of 20 real items, as two "techniques"
        experiment = {"first ten": correct["real_items"][:10], "next ten": correct["real_items"][10:]}
    return {"TARGET_CATEGORY": target, "experiment_latents": experiment}


EX5 = {
    "ex5_too_few_codes": ({"contract"}, "holds 10 codes"),
    "ex5_too_few_techniques": ({"contract"}, "1 technique(s)"),
    "ex5_too_few_codes_and_techniques": ({"contract"}, "has 1 technique(s); the experiment needs at least 2, and holds 10 codes"),
    "ex5_wrong_latent_shape": ({"contract"}, "must have shape (n, 32)"),
    "ex5_non_finite": ({"contract"}, "NaN or infinite"),
    "ex5_bad_target": ({"contract", "on_target"}, "int from 0 to 9"),
    "ex5_near_duplicates": ({"diversity"}, "Too many near-duplicates"),  # one mistake, charged once
    "ex5_real_items": ({"diversity"}, "20 of your 20 codes are the encoder's codes (mu) of real Fashion-MNIST items "
                                      "(test #9, test #12, "),  # reconstructions, still judged on target
    "ex5_off_target": ({"on_target"}, "Judged by the VAE itself (each image encoded again and named by a small "
                                      "network trained on this VAE's decodes): 0 of your 35 distinct decoded images "
                                      "are Trouser; 18 are needed (Trouser's bar: 50%"),
}


@pytest.mark.parametrize("mistake", sorted(EX5))
def test_ex5_mistake_costs_its_check_and_is_named(tmp_path, ref, correct, mistake):
    checks, words = EX5[mistake]
    outcome = grade(tmp_path, ref, "ex5_experiment", ex5_case(correct, mistake))
    assert failed(outcome) == checks
    assert words in " ".join(outcome.values())


def test_a_few_real_items_among_generated_codes_cost_nothing(tmp_path, ref, correct):
    """Interpolation endpoints and a look at the items themselves are part of an honest experiment: only too few
    generated images cost the diversity point."""
    experiment = dict(correct["experiment_latents"], endpoints=correct["real_items"][:4])
    outcome = grade(tmp_path, ref, "ex5_experiment", {"TARGET_CATEGORY": correct["TARGET_CATEGORY"],
                                                     "experiment_latents": experiment})
    assert failed(outcome) == set()


def test_every_catalogue_entry_has_a_test_here():
    tested = set(EX3) | set(EX4) | set(EX5)
    assert {d.name for d in CATALOGUE} <= tested
    assert set(CHECK_DIAGNOSES) <= tested


def test_dataset_images_earn_no_format_points_and_an_8_bit_decoded_grid_keeps_them(tmp_path, ref, correct, test_set):
    """100 stored pictures are not a decoded grid (the hold-out's "grid of training images"); the right grid saved
    as 8-bit pixels is, and costs only its scale."""
    pictures = torch.stack([test_set[i][0].reshape(28, 28) for i in range(100)]).reshape(10, 10, 28, 28)
    outcome = grade(tmp_path, ref, "ex4_grid", {"decoded_grid": pictures})
    assert failed(outcome) == {"shape", "pixel_scale", "cells", "orientation"}
    assert "holds stored pictures, not decoder outputs" in outcome["shape"]
    eight_bit = (correct["decoded_grid"] * 255).round().to(torch.uint8)
    assert failed(grade(tmp_path, ref, "ex4_grid", {"decoded_grid": eight_bit, "z": correct["z"]})) == {"pixel_scale"}


def test_random_pixels_of_the_right_shape_earn_no_format_points(tmp_path, ref):
    noise = torch.rand(10, 10, 28, 28, generator=torch.Generator().manual_seed(0))
    outcome = grade(tmp_path, ref, "ex4_grid", {"decoded_grid": noise})
    assert failed(outcome) == {"shape", "pixel_scale", "cells", "orientation"}
    assert "not hold images made by the VAE's decoder" in outcome["shape"]


def test_a_label_written_as_a_string_costs_the_contract_point_only(tmp_path, ref, correct):
    outcome = grade(tmp_path, ref, "ex5_experiment", {"TARGET_CATEGORY": str(correct["TARGET_CATEGORY"]),
                                                       "experiment_latents": correct["experiment_latents"]})
    assert failed(outcome) == {"contract"} and "int from 0 to 9" in outcome["contract"]


@pytest.mark.parametrize("category", range(10))
def test_the_lessons_example_experiment_passes_for_every_category(tmp_path, ref, vae, test_set, category):
    """Including Sandal and Shirt, whose decodes the judge classifier could not recognise, and Bag, whose example it
    recognised 69 % of against a bar of 60 %: the VAE judges its own decodes now, with a bar per category."""
    _, experiment = solutions.ex5_example_experiment(vae, test_set, category=category)
    outcome = grade(tmp_path, ref, "ex5_experiment", {"TARGET_CATEGORY": category, "experiment_latents": experiment})
    assert failed(outcome) == set(), outcome


@pytest.mark.parametrize("category", [5, 7])
def test_wild_codes_around_a_category_centre_are_off_target(tmp_path, ref, category):
    """Noise 3x the prior's scale leaves the category: its fragments are "like no category", not Sandal."""
    centre = torch.from_numpy(ref["category_centre_mu"][category]).float()
    wild = centre + 3.0 * torch.randn(20, 32, generator=torch.Generator().manual_seed(1))
    outcome = grade(tmp_path, ref, "ex5_experiment", {"TARGET_CATEGORY": category,
                                                       "experiment_latents": {"a": wild[:10], "b": wild[10:]}})
    assert failed(outcome) == {"on_target"}


def test_codes_left_out_of_judging_are_named(tmp_path):
    from autograder.feedback import notes_for

    codes = torch.randn(2, 300, 32, generator=torch.Generator().manual_seed(0))
    values = {"TARGET_CATEGORY": 7, "experiment_latents": {"a": codes[0], "b": codes[1]}}
    export_answers("ex5_experiment", list(values), values, str(tmp_path))
    notes = notes_for("ex5_experiment", load_cell_answers(tmp_path, "ex5_experiment"))
    assert notes == ["only the first 500 of your 600 codes were decoded and judged."]
    values["experiment_latents"] = {"a": codes[0, :100], "b": codes[1, :100]}
    export_answers("ex5_experiment", list(values), values, str(tmp_path))
    assert notes_for("ex5_experiment", load_cell_answers(tmp_path, "ex5_experiment")) == []


def test_a_cause_is_told_once_per_exercise(tmp_path):
    from autograder.grade import grade_answers

    values = {"decoded_grid": torch.zeros(10, 10, 32), "z": torch.zeros(1, 32)}  # codes kept, never decoded
    export_answers("ex4_grid", list(values), values, str(tmp_path))
    messages = [r.message for r in grade_answers(tmp_path, pictures=False)["ex4_grid"].results]
    assert "holds latent codes (32 numbers per cell" in messages[0] and "model.decode(z)" in messages[0]
    assert messages[1:] == ["Same cause as `shape` above."] * 3


def test_each_cells_answers_are_read_once_for_every_check(tmp_path, ref, correct, monkeypatch):
    from autograder.grade import grade_answers

    values = {k: correct[k] for k in ("TARGET_CATEGORY", "experiment_latents")}
    export_answers("ex5_experiment", list(values), values, str(tmp_path))
    calls = []
    decode = type(ref).decode
    monkeypatch.setattr(type(ref), "decode", lambda self, codes: calls.append(len(codes)) or decode(self, codes))
    grades = grade_answers(tmp_path, pictures=False)
    assert grades["ex5_experiment"].score == sum(cfg.CHECK_POINTS["ex5_experiment"].values())
    assert calls == [len(torch.cat(list(values["experiment_latents"].values())))]  # three checks, one decode


def test_a_rounding_sized_difference_is_not_called_sampling(ref):
    """At a tolerance of 0 a float32 rounding fails the check; the diagnosis must not blame sampled z for it."""
    import numpy as np

    from autograder.diagnoses import looks_sampled
    from reference import lesson

    expected = ref["ex3.boot_direction"]
    logvar = ref["category_mean_logvar"][lesson.EX3_CATEGORIES["sandal"]]
    sigma = np.sqrt(np.exp(logvar) * 2.0 / 20)  # what averaging 20 sampled z's twice leaves
    sampled = expected + np.random.default_rng(0).normal(size=expected.shape) * sigma.reshape(-1)
    assert looks_sampled(sampled, expected, logvar, 20)
    assert not looks_sampled(expected + 6e-8, expected, logvar, 20)
