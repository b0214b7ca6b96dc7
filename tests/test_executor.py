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
    from autograder.executor import cells_to_skip
    from autograder.submission import RELEASE_NOTEBOOK

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


def test_what_the_grader_makes_of_a_cell_before_running_it_is_linear_and_never_skips_a_cell_still_needed(monkeypatch):
    """A cell of 500 `x = !ls` lines (a 99 KB cell took IPython's transformers 509 s of grader CPU, outside every
    time limit) is not analysed by IPython at all: plain Python is parsed, anything else (magics, shell escapes,
    help) may read anything, so the drawing cells before it are run, never skipped."""
    import IPython.core.inputtransformer2 as transformers

    from autograder.executor import cells_to_skip
    from autograder.submission import RELEASE_NOTEBOOK

    def refuse(*args, **kwargs):
        raise AssertionError("IPython's transformers ran in the grader")

    monkeypatch.setattr(transformers.TransformerManager, "transform_cell", refuse)
    nb = nbformat.read(RELEASE_NOTEBOOK, 4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells[ids.index("ex5_experiment")].source = "\n".join(f"x{i} = !ls {'a ' * 90}" for i in range(500))
    assert {ids[i] for i in cells_to_skip(nb)} == {"ex5_show"}
    nb.cells[ids.index("ex5_experiment")].source = "!echo {all_labels}"  # a shell escape reads Python names too
    assert ids.index("ex1_tsne") not in cells_to_skip(nb)


XSS_VECTORS = [  # classic ones: Markdown's own links, entity-encoded schemes, handlers, SVG, other tags with URLs
    "[click](javascript:alert(1))", "[click](JaVaScRiPt:alert(1))", "[click](jav&#x61;script:alert(1))",
    "[click]( javascript:alert(1))", "[x][r]\n\n[r]: javascript:alert(1)", "<javascript:alert(1)>",
    "![img](javascript:alert(1))", "![img](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[d](data:text/html,<script>alert(1)</script>)", "<a href='javascript:alert(1)'>a</a>",
    "<a href='jav&#x09;ascript:alert(1)'>a</a>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>", "<iframe src=javascript:alert(1)>",
    "<math><a xlink:href=javascript:alert(1)>x</a></math>", "<form action=javascript:alert(1)><button>x</button></form>",
    "<object data=javascript:alert(1)>", "<a href='vbscript:msgbox(1)'>v</a>", "[v](vbscript:msgbox(1))",
    "<details open ontoggle=alert(1)>", "<div style='background:url(javascript:alert(1))'>s</div>",
    "<base href='javascript:alert(1)//'>", "[e](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;x)",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">e</a>",
]


def live_elements(page: str) -> list:
    """(tag, attribute, value) of every element a browser would act on: script-like tags, event handlers, URLs."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "iframe", "object", "embed", "svg", "form", "base", "math"):
                found.append((tag, "", dict(attrs).get("src") or ""))
            for name, value in attrs:
                if name.startswith("on") or name in ("href", "src", "action", "data", "xlink:href", "formaction"):
                    found.append((tag, name, value or ""))

    Collect().feed(page)
    return found


def test_a_students_html_and_markdown_keep_no_live_script_or_unsafe_link():
    """Markdown cells, HTML and Markdown outputs, as the feedback page renders them (nbconvert): none of the classic
    vectors leaves a handler, a script-like tag or a link that is not http(s), mailto, relative or a picture."""
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from autograder.executor import SanitizeStudentHTML, safe_url

    def render(cells):
        nb, _ = SanitizeStudentHTML().preprocess(new_notebook(cells=cells), {})
        return live_elements(HTMLExporter(template_name="classic").from_notebook_node(nb)[0])

    baseline = render([])  # the template's own scripts and links
    outputs = [new_output("display_data", data={key: v}) for v in XSS_VECTORS for key in ("text/html", "text/markdown")]
    found = render([new_markdown_cell(v) for v in XSS_VECTORS] + [new_code_cell("x", outputs=outputs)])
    extra = [element for element in found if element not in baseline]
    assert [e for e in extra if e[1].startswith("on") or not e[1] or not safe_url(e[2])] == []
    assert ("a", "href", "https://example.org") in render([new_markdown_cell("[ok](https://example.org)")])


def test_the_lessons_formulas_become_mathml_and_a_students_text_stays_text():
    """Math renders with no network (MathML, no MathJax CDN) where the text is the lesson's own; a cell a student
    changed is only sanitized, so LaTeX is never a way to write tags; hints stay collapsible, without handlers."""
    from nbformat.v4 import new_markdown_cell, new_notebook

    from autograder.executor import SanitizeStudentHTML
    from autograder.math_offline import latex_as_mathml, lesson_markdown, lesson_text_as_mathml

    assert latex_as_mathml("At $t=0.5$ and $$z_t = (1-t) z_A$$").count("<math") == 2
    assert latex_as_mathml("code `$x$`, prices $5 and $6, escaped \\$y\\$") == "code `$x$`, prices $5 and $6, escaped \\$y\\$"
    lesson = sorted(text for text in lesson_markdown() if "$t=0.5$" in text)[0]
    hint = next(text for text in lesson_markdown() if "<details>" in text)
    changed = lesson + " $\\text{<script>alert(1)</script>}$ <details open ontoggle=alert(1)><summary>x</summary></details>"
    nb = lesson_text_as_mathml(new_notebook(cells=[new_markdown_cell(lesson), new_markdown_cell(hint),
                                                   new_markdown_cell(changed)]),
                               lambda nb: SanitizeStudentHTML().preprocess(nb, {})[0])
    converted, kept_hint, student = (cell.source for cell in nb.cells)
    assert "<math" in converted and "$t=0.5$" not in converted
    assert "<details>" in kept_hint and "<summary>Hint</summary>" in kept_hint
    assert "<math" not in student and "<script>" not in student and "$t=0.5$" in student
    assert "ontoggle" not in student and "<details>" in student
