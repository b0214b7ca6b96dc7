"""LaTeX in Markdown cells as MathML, so the feedback page and formgrader show math with no network.

nbconvert's HTML pages load MathJax from a CDN, which a hub without internet cannot reach: students read raw
`$t=0.5$`. Browsers render MathML themselves (Chromium since 109, Firefox, Safari), so each `$...$` and `$$...$$`
outside code in the lesson's text is written as MathML once, when the notebook is graded.
"""
import functools
import re

import nbformat
from latex2mathml.converter import convert

CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)  # code blocks and spans keep their dollars
MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$"                      # $$display$$
                  r"|(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)", re.S)  # $inline$, not "$5 and $6"


def _as_mathml(match: re.Match) -> str:
    display, inline = match.groups()
    latex = display if display is not None else inline
    try:
        return convert(latex.strip(), display="block" if display is not None else "inline")
    except Exception:  # noqa: BLE001  LaTeX the converter does not know stays as written
        return match.group(0)


def latex_as_mathml(markdown: str) -> str:
    """The Markdown with each formula outside code as MathML."""
    parts, last = [], 0
    for code in CODE.finditer(markdown):
        parts += [MATH.sub(_as_mathml, markdown[last:code.start()]), code.group(0)]
        last = code.end()
    return "".join(parts + [MATH.sub(_as_mathml, markdown[last:])])


def lesson_text_as_mathml(nb, sanitize) -> object:
    """nb run through `sanitize`, then each Markdown cell that is exactly the lesson's own text (the source
    notebook's) with its formulas as MathML. The converter writes what a formula says as tags, so it only ever
    reads the course's LaTeX: a cell a student changed, and every answer, keeps its text (sanitized), which is also
    what nbgrader compares with the release and what the person grading reads."""
    lesson = lesson_markdown()
    originals = {i: cell.source for i, cell in enumerate(nb.cells)
                 if cell.cell_type == "markdown" and "$" in cell.source and cell.source in lesson}
    nb = sanitize(nb)
    for i, source in originals.items():
        nb.cells[i].source = latex_as_mathml(source)
    return nb


@functools.cache
def lesson_markdown() -> frozenset:
    """The source notebook's Markdown cells, as released."""
    from autograder.submission import SOURCE_NOTEBOOK

    return frozenset(cell.source for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells
                     if cell.cell_type == "markdown")
