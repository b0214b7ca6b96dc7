"""Build the nbgrader source notebook from the lesson's text source, lesson/latent_space.md.

    python -m lesson.build        # rewrite source/latent_space/latent_space.ipynb (`make release` also releases it)

The text source is MyST Markdown (jupytext opens it as a notebook). The build fills in each cell's {{ ... }}
with Jinja: settings from course_config.py (`cfg`), the lesson's numbers from reference/lesson.py (`lesson`), code
shared with the kit copied verbatim from reference/ (`verbatim(...)`), and each exercise's grade cell
(`tests_for(cell_id)`). It completes the nbgrader metadata of every cell with a role, points from the config.
The notebook it writes is generated, don't edit it; a test rebuilds it and fails when the committed one differs.
The text source holds the solutions, so it stays out of source/latent_space/ (nbgrader releases every file there).
"""
import inspect
import sys
from pathlib import Path

import jinja2
import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course_config as cfg  # noqa: E402
from autograder import exercises  # noqa: E402
from autograder.compare import CONTRACT_FILE  # noqa: E402
from reference import lesson, solutions, vae  # noqa: E402

TEXT_SOURCE = ROOT / "lesson" / f"{cfg.ASSIGNMENT_ID}.md"
NOTEBOOK = ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
NBGRADER_FLAGS = ("grade", "locked", "solution")  # what the text source may set; the rest is completed here


def verbatim(*objects) -> str:
    """The source of functions or classes of the kit, as the notebook shows them (so they cannot drift)."""
    return "\n\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)


def tests_for(cell_id: str) -> str:
    """An exercise's grade cell: the hidden part hands the answers to the autograder (first, so it runs even when a
    visible check fails); the visible part runs the contract's format rules, the grader's own, in its words."""
    exercise = exercises.get(cell_id)  # a graded cell the kit does not fully know stops the build, named
    return (
        "### BEGIN HIDDEN TESTS\n"
        "# Hands the answers to the autograder, which checks them outside this kernel.\n"
        "import os as _os, runpy as _runpy\n"
        "if _os.environ.get('LATENT_LAB_EXPORTER'):\n"
        f"    _runpy.run_path(_os.environ['LATENT_LAB_EXPORTER'])['export_answers']({cell_id!r}, "
        f"{cfg.GRADED_ANSWERS[cell_id]!r}, globals())\n"
        "### END HIDDEN TESTS\n"
        f"# Checks the format the autograder reads, with its own rules and words ({CONTRACT_FILE}, beside this\n"
        "# notebook). Whether the values are right is judged by the autograder, against a reference.\n"
        f"from {CONTRACT_FILE.removesuffix('.py')} import check_format\n"
        f"print(check_format(globals(), {exercise.format_rules()!r},\n                   {exercise.FORMAT_SUMMARY!r}))"
    )


def number(x) -> str:
    """3.0 -> '3', 0.5 -> '0.5': numbers as a person writes them."""
    return str(int(x)) if float(x).is_integer() else str(x)


def points_for(grade_id: str) -> float:
    """A grade cell's points, from the config: autograded cells sum their checks, written answers have their own."""
    if grade_id.endswith("_tests") and grade_id.removesuffix("_tests") in cfg.CHECK_POINTS:
        return sum(cfg.CHECK_POINTS[grade_id.removesuffix("_tests")].values())
    if grade_id.endswith("_predict"):
        return cfg.PREDICT_POINTS
    if grade_id == "ex5_interpretation":
        return cfg.EX5_INTERPRETATION_POINTS
    raise SystemExit(f"{TEXT_SOURCE.name}: grade cell {grade_id!r} has no points in course_config.py (CHECK_POINTS "
                     "for an autograded cell's `<id>_tests`, PREDICT_POINTS for `exN_predict`)")


TEMPLATES = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
TEMPLATES.filters.update(
    num=number,
    signed=lambda x: ("+" if x > 0 else "") + number(x),
    points=lambda n: f"{number(n)} point{'' if n == 1 else 's'}",
)
CONTEXT = dict(cfg=cfg, lesson=lesson, vae=vae, solutions=solutions, verbatim=verbatim, tests_for=tests_for)


def render(text: str, where: str) -> str:
    try:
        return TEMPLATES.from_string(text).render(CONTEXT)
    except jinja2.TemplateError as err:
        raise SystemExit(f"{TEXT_SOURCE.name}, {where}: {type(err).__name__}: {err}") from None


def nbgrader_role(cell, index: int) -> dict:
    """The text source names a role (grade_id and its true flags); the build completes nbgrader's schema 3."""
    given = cell.metadata["nbgrader"]
    unknown = set(given) - {"grade_id", *NBGRADER_FLAGS}
    if unknown or "grade_id" not in given:
        raise SystemExit(f"{TEXT_SOURCE.name}, cell {index}: nbgrader metadata takes grade_id and "
                         f"{'/'.join(NBGRADER_FLAGS)} only (points come from course_config.py); got {sorted(given)}")
    role = {flag: bool(given.get(flag, False)) for flag in NBGRADER_FLAGS}
    role.update(grade_id=given["grade_id"], schema_version=3, task=False)
    if role["grade"]:
        role["points"] = points_for(given["grade_id"])
    return dict(sorted(role.items()))


def build() -> nbformat.NotebookNode:
    nb = jupytext.reads(TEXT_SOURCE.read_text(), fmt="md:myst")
    cells = []
    for index, cell in enumerate(nb.cells):
        metadata = {"nbgrader": nbgrader_role(cell, index)} if "nbgrader" in cell.metadata else {}
        grade_id = metadata.get("nbgrader", {}).get("grade_id")
        source = render(cell.source, f"cell {index}" + (f" ({grade_id})" if grade_id else "")).strip()
        new = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        cells.append(new(source, metadata=metadata))
        cells[-1].id = (grade_id or f"cell-{index:02d}").replace("_", "-")  # stable ids: a rebuild gives the same file
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "latent_lab": {"generated_by": "lesson/build.py from lesson/latent_space.md", "note": "generated, don't edit"},
    })


def graded_cells_known(nb) -> None:
    """Every autograded cell of course_config has its `<id>_tests` cell in the lesson, and the reverse."""
    tested = {c.metadata["nbgrader"]["grade_id"].removesuffix("_tests") for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    if tested != set(cfg.CHECK_POINTS):
        raise SystemExit(f"{TEXT_SOURCE.name} and course_config.CHECK_POINTS disagree: grade cells without points "
                         f"{sorted(tested - set(cfg.CHECK_POINTS))}, points without a `<id>_tests` grade cell "
                         f"{sorted(set(cfg.CHECK_POINTS) - tested)}")


def main() -> int:
    NOTEBOOK.parent.mkdir(parents=True, exist_ok=True)
    try:
        nb = build()
    except exercises.ExerciseIncomplete as err:
        raise SystemExit(f"{TEXT_SOURCE.name}: {err}") from None
    graded_cells_known(nb)
    nbformat.write(nb, NOTEBOOK)
    print(f"Wrote {NOTEBOOK.relative_to(ROOT)} from {TEXT_SOURCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
