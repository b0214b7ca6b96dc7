"""The sample submissions, as a spec: the release filled in the way students fill it, one per outcome.

    python -m tools.corpus FOLDER        # write every notebook and expected_scores.json into FOLDER, to look at

Each submission is the committed release with its solution cells replaced by student code: the source's solution
with a few edits (a classic mistake, a correct variant, a cheat). Beside each: the checks it must fail (points
follow from course_config.CHECK_POINTS, so changing points changes no spec) and the words its feedback must hold.
The test suite writes them at test time (tests/test_corpus.py); nothing generated is committed.
"""
import copy
import functools
import json
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

import course_config as cfg

SOURCE = cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
RELEASE = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", re.M)

ALL = "all"  # every check of the cell fails
TOTAL = sum(sum(checks.values()) for checks in cfg.CHECK_POINTS.values())  # the autograded points


def student_code(source_nb, cell_id):
    """What a correct student types: the source's solution cell without nbgrader's markers."""
    cell = next(c for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
    return SOLUTION_MARKER.sub("", cell.source)


def replace(cell_id, old, new):
    def edit(codes, nb):
        assert old in codes[cell_id], f"{old!r} not in {cell_id}"
        codes[cell_id] = codes[cell_id].replace(old, new)
    return edit


def append(cell_id, text):
    def edit(codes, nb):
        codes[cell_id] += "\n" + text
    return edit


def prepend(cell_id, text):
    def edit(codes, nb):
        codes[cell_id] = text + "\n" + codes[cell_id]
    return edit


def move_to_new_cell(cell_id, line):
    """The student computes one line in a cell of their own, right after the solution cell."""
    def edit(codes, nb):
        codes[cell_id] = codes[cell_id].replace(line, "")
        index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
        nb.cells.insert(index + 1, new_code_cell(line))
    return edit


UNTOUCHED = "untouched"


def every_cell_from(cell_id=None) -> dict:
    """ALL for each autograded cell from cell_id on (every one by default), in course_config's order: a run that
    stopped there leaves the rest ungraded, whatever exercises the course has."""
    cells = list(cfg.CHECK_POINTS)
    return {cell: ALL for cell in cells[cells.index(cell_id) if cell_id else 0:]}
# name -> (edits, {cell: checks it must fail, or ALL}, words the feedback must hold or None)
SUBMISSIONS = {
    "passes_all": ([], {}, None),
    "untouched_release": (UNTOUCHED, every_cell_from(), None),
    "kernel_dies_in_ex4": ([prepend("ex4_grid", "import os\nos._exit(1)  # the kernel dies here")],
                           every_cell_from("ex4_grid"), "kernel died"),
    # Ex3 mistakes: each costs the step it is in; z_result is judged on the student's own direction.
    "ex3_direction_reversed": ([replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                                        "boot_direction = z_sneaker_avg - z_ankle_boot_avg")],
                               {"ex3_arithmetic": {"boot_direction"}}, "points the wrong way"),
    "ex3_averages_over_dim1": ([replace("ex3_arithmetic", f"encode_to_mu({name}_imgs).mean(dim=0, keepdim=True)",
                                        f"encode_to_mu({name}_imgs).mean(dim=1)")
                                for name in ("sneaker", "ankle_boot", "sandal")],
                               {"ex3_arithmetic": {"shapes", "boot_direction"}}, ".mean(dim=1)"),
    "ex3_wrong_base": ([replace("ex3_arithmetic", "z_result = z_sandal_avg + boot_direction",
                                "z_result = z_sneaker_avg + boot_direction")],
                       {"ex3_arithmetic": {"z_result"}}, "adds the direction to the average Sneaker"),
    "ex3_logvar_instead_of_mu": ([replace(
        "ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
        "boot_direction = (model.encode(ankle_boot_imgs)[1].mean(dim=0, keepdim=True)\n"
        "                  - model.encode(sneaker_imgs)[1].mean(dim=0, keepdim=True))")],
        {"ex3_arithmetic": {"boot_direction"}}, "computed from logvar"),
    "ex3_sampled_z": ([replace(
        "ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
        "boot_direction = (model.reparameterize(*model.encode(ankle_boot_imgs)).mean(dim=0, keepdim=True)\n"
        "                  - model.reparameterize(*model.encode(sneaker_imgs)).mean(dim=0, keepdim=True))")],
        {"ex3_arithmetic": {"boot_direction"}}, "sampled z"),
    "ex3_single_items": ([replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                                  "boot_direction = encode_to_mu(ankle_boot_imgs[:1]) - encode_to_mu(sneaker_imgs[:1])")],
                         {"ex3_arithmetic": {"boot_direction"}}, "single images"),
    "ex3_wrong_categories": ([replace("ex3_arithmetic", "get_items_by_category(test_dataset, 9, n=n_samples)",
                                      "get_items_by_category(test_dataset, 8, n=n_samples)")],
                             {"ex3_arithmetic": {"boot_direction"}}, "`z_ankle_boot_avg` is the average of Bag (8) items"),
    # A right value never loses points; one deviation costs its own step once, judged on the student's own inputs.
    "ex3_right_value_other_route": ([replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                                             "boot_direction = z_sneaker_avg - z_ankle_boot_avg"),
                                     replace("ex3_arithmetic", "z_result = z_sandal_avg + boot_direction",
                                             "z_result = z_sandal_avg - boot_direction")],
                                    {"ex3_arithmetic": {"boot_direction"}}, "points the wrong way"),
    "ex3_other_items": ([replace("ex3_arithmetic", "n_samples = 20", "n_samples = 40")],
                        {"ex3_arithmetic": {"boot_direction"}}, "is the mean mu of the first 40"),
    "ex3_other_sandal_items": ([replace("ex3_arithmetic", "get_items_by_category(test_dataset, 5, n=n_samples)",
                                        "get_items_by_category(test_dataset, 5, n=5)")],
                               {"ex3_arithmetic": {"z_result"}}, "is the mean mu of the first 5 Sandal items"),
    # Ex4 mistakes
    "ex4_upside_down": ([replace("ex4_grid", "for d2_val in reversed(grid_range):", "for d2_val in grid_range:")],
                        {"ex4_grid": {"orientation"}}, "upside down"),
    "ex4_dims_swapped": ([replace("ex4_grid", "z[0, 0] = d1_val\nz[0, 1] = d2_val".replace("\n", "\n            "),
                                  "z[0, 0] = d2_val\nz[0, 1] = d1_val".replace("\n", "\n            "))],
                         {"ex4_grid": {"orientation"}}, "Dims 0 and 1 are swapped"),
    "ex4_wrong_range": ([replace("ex4_grid", "grid_range = torch.linspace(-3, 3, grid_size)",
                                 "grid_range = torch.linspace(-2, 2, grid_size)")],
                        {"ex4_grid": {"cells"}}, "does not span -3 to +3"),  # orientation judged on its own range
    "ex4_other_dims_not_zero": ([replace("ex4_grid", "z = torch.zeros(1, LATENT_DIM).to(device)",
                                         "z = torch.ones(1, LATENT_DIM).to(device)")],
                                {"ex4_grid": {"cells"}}, "other 30 dims must be 0"),
    "ex4_pixels_0_255": ([replace("ex4_grid", "row_images.append(img.squeeze().cpu().numpy())",
                                  "row_images.append(img.squeeze().cpu().numpy() * 255)")],
                         {"ex4_grid": {"pixel_scale"}}, "0-255 scale"),
    "ex4_wrong_image_shape": ([replace("ex4_grid", "row_images.append(img.squeeze().cpu().numpy())",
                                       "row_images.append(img.view(-1).cpu().numpy())")],
                              {"ex4_grid": {"shape"}}, "only this format point is lost"),
    # Right content in another container loses only the format point; another size is judged on what it shows.
    "ex4_mosaic_280": ([append("ex4_grid", "decoded_grid = np.block(decoded_grid)  # one (280, 280) picture")],
                       {"ex4_grid": {"shape"}}, "only this format point is lost"),
    "ex4_grid_11x11": ([replace("ex4_grid", "grid_size = 10  # 10x10 grid", "grid_size = 11")],
                       {"ex4_grid": {"cells", "shape"}}, "shows 11x11 images"),
    "ex4_codes_not_decoded": ([replace("ex4_grid", "row_images.append(img.squeeze().cpu().numpy())",
                                       "row_images.append(z.squeeze().cpu().numpy())  # forgot to decode")],
                              {"ex4_grid": ALL}, "holds latent codes"),
    # Ex5 mistakes
    "ex5_too_few_codes": ([replace("ex5_experiment", "torch.randn(15, LATENT_DIM", "torch.randn(5, LATENT_DIM"),
                           replace("ex5_experiment", "top_dims = z_items.var(dim=0).argsort(descending=True)[:3]",
                                   "top_dims = z_items.var(dim=0).argsort(descending=True)[:1]")],
                          {"ex5_experiment": {"contract"}}, "holds 12 codes"),
    "ex5_one_technique": ([replace("ex5_experiment", "experiment_latents = {'neighbourhood sampling': neighbourhood, "
                                   "'dimension sweep': torch.cat(sweep)}",
                                   "experiment_latents = {'neighbourhood sampling': neighbourhood}")],
                          {"ex5_experiment": {"contract"}}, "1 technique(s)"),
    # Copies of one good image: diversity fails, once; on_target judges the one distinct image, a sneaker.
    "ex5_near_duplicates": ([replace("ex5_experiment", "neighbourhood = z_center + 0.5 * noise",
                                     "neighbourhood = z_center + 0.0001 * noise"),
                             replace("ex5_experiment", "'dimension sweep': torch.cat(sweep)",
                                     "'copies': z_center.repeat(10, 1)")],
                            {"ex5_experiment": {"diversity"}}, "Too many near-duplicates"),
    # Reconstructions, not generated images: the encoder's codes of 30 real sneakers, split into two "techniques".
    "ex5_real_items": ([replace("ex5_experiment", "experiment_latents = {'neighbourhood sampling': neighbourhood, "
                                "'dimension sweep': torch.cat(sweep)}",
                                "experiment_latents = {'first items': z_items[:15], 'next items': z_items[15:30]}")],
                       {"ex5_experiment": {"diversity"}}, "codes (mu) of real Fashion-MNIST items"),
    "ex5_off_target": ([replace("ex5_experiment", "TARGET_CATEGORY = 7  # Sneaker", "TARGET_CATEGORY = 1  # Trouser"),
                        replace("ex5_experiment", "get_items_by_category(test_dataset, TARGET_CATEGORY, n=50)",
                                "get_items_by_category(test_dataset, 7, n=50)")],
                       {"ex5_experiment": {"on_target"}}, "decoded images are Trouser"),
    "ex5_wrong_latent_shape": ([replace("ex5_experiment", "'dimension sweep': torch.cat(sweep)",
                                        "'dimension sweep': torch.cat(sweep)[:, :16]")],
                               {"ex5_experiment": {"contract"}}, "must have shape (n, 32)"),
    "ex5_non_finite": ([replace("ex5_experiment", "neighbourhood = z_center + 0.5 * noise",
                                "neighbourhood = z_center + 0.5 * noise\nneighbourhood[3, 5] = float('nan')")],
                       {"ex5_experiment": {"contract"}}, "NaN or infinite"),
    "one_mistake_per_exercise": ([
        replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                "boot_direction = z_sneaker_avg - z_ankle_boot_avg"),
        replace("ex4_grid", "for d2_val in reversed(grid_range):", "for d2_val in grid_range:"),
        replace("ex5_experiment", "experiment_latents = {'neighbourhood sampling': neighbourhood, "
                "'dimension sweep': torch.cat(sweep)}", "experiment_latents = {'neighbourhood sampling': neighbourhood}")],
        {"ex3_arithmetic": {"boot_direction"}, "ex4_grid": {"orientation"}, "ex5_experiment": {"contract"}}, "upside down"),
    "ex5_target_as_string": ([replace("ex5_experiment", "TARGET_CATEGORY = 7  # Sneaker", "TARGET_CATEGORY = '7'"),
                              replace("ex5_experiment", "get_items_by_category(test_dataset, TARGET_CATEGORY, n=50)",
                                      "get_items_by_category(test_dataset, 7, n=50)")],
                             {"ex5_experiment": {"contract"}}, "with the target read as Sneaker"),
    "ex5_target_as_name": ([replace("ex5_experiment", "TARGET_CATEGORY = 7  # Sneaker", "TARGET_CATEGORY = 'sneaker'"),
                            replace("ex5_experiment", "get_items_by_category(test_dataset, TARGET_CATEGORY, n=50)",
                                    "get_items_by_category(test_dataset, 7, n=50)")],
                           {"ex5_experiment": {"contract"}}, "with the target read as Sneaker"),
    "ex5_codes_with_extra_dim": ([replace("ex5_experiment", "'dimension sweep': torch.cat(sweep)",
                                          "'dimension sweep': torch.cat(sweep)[:, None, :]")],
                                 {"ex5_experiment": {"contract"}}, "extra size-1 dims left out"),
    # Correct work written differently: full marks.
    "variant_shape_32": ([replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                                  "boot_direction = (z_ankle_boot_avg - z_sneaker_avg).squeeze(0)"),
                          replace("ex3_arithmetic", "z_result = z_sandal_avg + boot_direction",
                                  "z_result = z_sandal_avg[0] + boot_direction")], {}, None),
    "variant_float64": ([append("ex3_arithmetic", "boot_direction, z_result = boot_direction.double(), z_result.double()"),
                         append("ex4_grid", "decoded_grid = [[cell.astype('float64') for cell in row] for row in decoded_grid]"),
                         append("ex5_experiment", "experiment_latents = {k: v.double() for k, v in experiment_latents.items()}")],
                        {}, None),
    "variant_bfloat16": ([append("ex3_arithmetic", "boot_direction, z_result = boot_direction.bfloat16(), z_result.bfloat16()"),
                          append("ex5_experiment", "experiment_latents = {k: v.bfloat16() for k, v in experiment_latents.items()}")],
                         {}, None),
    "variant_requires_grad": ([append("ex3_arithmetic", "boot_direction = boot_direction.clone().requires_grad_()\n"
                                                        "z_result = z_sandal_avg + boot_direction"),
                               append("ex5_experiment", "experiment_latents = {k: v.clone().requires_grad_() "
                                                        "for k, v in experiment_latents.items()}")], {}, None),
    "variant_numpy_answers": ([append("ex3_arithmetic", "boot_direction, z_result = boot_direction.numpy(), z_result.numpy()"),
                               append("ex5_experiment", "experiment_latents = {k: v.numpy() for k, v in experiment_latents.items()}")],
                              {}, None),
    "variant_warning_on_stderr": ([append("ex3_arithmetic", "import sys, warnings\nwarnings.warn('a harmless warning')\n"
                                                            "print('debug output', file=sys.stderr)"),
                                   append("ex4_grid", "import sys\nprint('grid done', file=sys.stderr)")], {}, None),
    # Reuses a variable of a locked drawing cell (t-SNE), which grading then runs instead of skipping.
    "variant_reuses_tsne_labels": ([prepend("ex5_experiment", "assert 7 in set(all_labels.tolist())  # the t-SNE cell's labels")],
                                   {}, None),
    "variant_split_cells": ([move_to_new_cell("ex3_arithmetic", "z_result = z_sandal_avg + boot_direction"),
                             move_to_new_cell("ex5_experiment", "experiment_latents = {'neighbourhood sampling': "
                                                                "neighbourhood, 'dimension sweep': torch.cat(sweep)}")],
                            {}, None),
    # Attempts to game the checks: none of them runs where the checks run.
    "cheat_patch_allclose_and_asserts": ([
        prepend("ex3_arithmetic", "import numpy, torch as _t\nnumpy.allclose = lambda *a, **k: True\n"
                                  "_t.allclose = lambda *a, **k: True\nimport builtins\n"),
        replace("ex3_arithmetic", "boot_direction = z_ankle_boot_avg - z_sneaker_avg",
                "boot_direction = torch.zeros(1, 32)"),
        replace("ex3_arithmetic", "z_result = z_sandal_avg + boot_direction", "z_result = torch.zeros(1, 32)")],
        {"ex3_arithmetic": {"boot_direction", "z_result"}}, "does not match the reference"),
    "cheat_random_grid": ([append("ex4_grid", "decoded_grid = np.random.rand(10, 10, 28, 28)  # right shape, no decoding")],
                          {"ex4_grid": ALL}, "not hold images made by the VAE's decoder"),
    "cheat_blank_grid": ([append("ex4_grid", "decoded_grid = np.zeros((10, 10, 28, 28))  # right shape, blank")],
                         {"ex4_grid": ALL}, "not hold images made by the VAE's decoder"),
    "cheat_tensor_subclass": ([append("ex3_arithmetic",
        "class AlwaysEqual(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
        "boot_direction = torch.zeros(1, 32).as_subclass(AlwaysEqual)\n"
        "z_result = torch.zeros(1, 32).as_subclass(AlwaysEqual)")],
        {"ex3_arithmetic": ALL}, "subclass"),
    "cheat_rewrites_hidden_tests": ([prepend("ex3_arithmetic",
        "# An input transformer that rewrites every later cell, hidden tests included\n"
        "get_ipython().input_transformers_post.append(\n"
        "    lambda lines: [l.replace('export_answers', 'print') for l in lines])")],
        every_cell_from(), "Nothing was graded"),
}


def fill_written_answers(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution"):
            cell.source = cell.source.replace("YOUR ANSWER HERE", "I expect smooth, clustered structure.")


def build(name, edits, source_nb, release_nb):
    nb = copy.deepcopy(release_nb)
    if edits == UNTOUCHED:
        return nb
    fill_written_answers(nb)
    codes = {cell_id: student_code(source_nb, cell_id) for cell_id in cfg.GRADED_ANSWERS}
    for edit in edits:
        edit(codes, nb)
    for cell in nb.cells:
        cell_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell_id in codes:
            cell.source = codes[cell_id]
    return nb


def expected(name) -> dict:
    """{"failed": {cell: [checks]}, "points": {cell: points}, "diagnosis": words or None} for one submission."""
    _, fails, diagnosis = SUBMISSIONS[name]
    failed = {cell: sorted(checks if fails.get(cell) == ALL else fails.get(cell, ()))
              for cell, checks in cfg.CHECK_POINTS.items()}
    points = {cell: sum(p for check, p in cfg.CHECK_POINTS[cell].items() if check not in failed[cell])
              for cell in cfg.CHECK_POINTS}
    return {"failed": failed, "points": points, "diagnosis": diagnosis}


@functools.lru_cache(maxsize=1)
def _source_and_release():
    return nbformat.read(SOURCE, 4), nbformat.read(RELEASE, 4)


def notebook(name):
    """One sample submission, built from the committed source and release."""
    return build(name, SUBMISSIONS[name][0], *_source_and_release())


def write(folder: Path, names=None) -> dict:
    """Write the named submissions (all by default) as <name>.ipynb into folder; {name: expected(name)}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or SUBMISSIONS:
        nbformat.write(notebook(name), folder / f"{name}.ipynb")
    return {name: expected(name) for name in names or SUBMISSIONS}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    scores = write(folder)
    (folder / "expected_scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    print(f"Wrote {len(scores)} submissions and expected_scores.json to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
