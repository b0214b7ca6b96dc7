"""Does the executor name the real cause when a graded cell raises, and never take points from a right value?"""
import nbformat

import course_config as cfg
from tools import corpus


FULL = corpus.expected("passes_all")["points"]


def with_ex4_source(prefix="", suffix=""):
    nb = corpus.notebook("passes_all")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex4_grid")
    cell.source = prefix + cell.source + suffix
    return nb


def messages(graded, cell_id):
    return [r.message for r in graded.grades[cell_id].results if not r.passed]


def test_a_cell_that_raises_is_named_once_with_its_error_and_never_told_to_fill_in_the_todo(pipeline):
    graded = pipeline.grade(with_ex4_source(prefix="raise RuntimeError('Found no NVIDIA driver')\n"), "raises")
    failed = messages(graded, "ex4_grid")
    assert len(failed) == len(cfg.CHECK_POINTS["ex4_grid"])
    assert "`ex4_grid` cell raised RuntimeError: Found no NVIDIA driver (line 1)" in failed[0]
    assert all(m.startswith("Same cause: the `ex4_grid` cell raised RuntimeError") for m in failed[1:])
    assert not any("Fill in the TODO" in m for m in failed)
    assert graded.grades["ex3_arithmetic"].score == FULL["ex3_arithmetic"]
    assert graded.grades["ex5_experiment"].score == FULL["ex5_experiment"]


def test_an_error_after_the_answer_is_complete_costs_nothing(pipeline):
    graded = pipeline.grade(with_ex4_source(suffix="\nraise RuntimeError('a plot failed afterwards')\n"), "after")
    assert graded.grades["ex4_grid"].score == FULL["ex4_grid"] and messages(graded, "ex4_grid") == []


def test_an_untouched_todo_stub_keeps_the_fill_in_the_todo_message(pipeline):
    graded = pipeline.grade(corpus.notebook("untouched_release"), "untouched")
    assert "`boot_direction` is not defined" in messages(graded, "ex3_arithmetic")[0]
    assert not any("raised NotImplementedError" in m for cell in cfg.CHECK_POINTS for m in messages(graded, cell))


def test_drawing_cells_are_skipped_unless_a_later_cell_reads_what_they_define():
    from autograder.executor import RELEASE_NOTEBOOK, cells_to_skip

    nb = nbformat.read(RELEASE_NOTEBOOK, 4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert {ids[i] for i in cells_to_skip(nb)} == set(cfg.SKIP_WHEN_GRADING)
    ex5 = ids.index("ex5_experiment")
    nb.cells[ex5].source = "%matplotlib inline\nTARGET_CATEGORY = int(all_labels[0])  # from the t-SNE cell"
    assert ids.index("ex1_tsne") not in cells_to_skip(nb)
    nb.cells[ex5].source = "all_labels = [9]\nall_labels += [1]\nr = 3\nfor r in range(r): pass\nTARGET_CATEGORY = 9"
    assert {ids[i] for i in cells_to_skip(nb)} == set(cfg.SKIP_WHEN_GRADING)
    nb.cells[ex5].source = "x = " + "(" * 5000 + ")" * 5000  # too deep to parse: may read anything, nothing skipped
    assert {ids[i] for i in cells_to_skip(nb)} == {"ex5_show"}
