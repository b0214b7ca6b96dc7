"""Is the nbgrader assignment generated from one source of truth, leak-free, and graded end to end by nbgrader?"""
import csv
import inspect
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from traitlets.config import Config

import course_config as cfg
from reference import lesson
from tools import corpus, course, readme
from lesson import build as lesson_build
from reference import solutions, vae

SOURCE = cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
RELEASE = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def cells_by_grade_id(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


def comparable(nb):
    """What must not drift: each cell's type, text and nbgrader role (not ids, outputs or checksums)."""
    rows = []
    for cell in nb.cells:
        role = {k: v for k, v in cell.metadata.get("nbgrader", {}).items() if k not in ("checksum",)}
        rows.append((cell.cell_type, cell.source, role))
    return rows


def test_source_notebook_is_what_the_text_source_builds():
    assert comparable(lesson_build.build()) == comparable(nbformat.read(SOURCE, 4)), \
        "source notebook is stale: run `make release` after editing lesson/latent_space.md or course_config.py"


def test_a_setting_changed_in_the_config_reaches_the_notebook(monkeypatch):
    """Points, limits and the lesson's numbers are written once (config or reference/lesson.py), never typed again."""
    monkeypatch.setattr(cfg, "PREDICT_POINTS", 2)
    monkeypatch.setattr(cfg, "EX5_MIN_CODES", 24)
    ex4_points = {**cfg.CHECK_POINTS["ex4_grid"], "cells": cfg.CHECK_POINTS["ex4_grid"]["cells"] + 2}
    monkeypatch.setitem(cfg.CHECK_POINTS, "ex4_grid", ex4_points)
    monkeypatch.setattr(lesson, "EX4_GRID_RANGE", (-2.5, 2.5))
    nb = lesson_build.build()
    cells = cells_by_grade_id(nb)
    assert cells["ex4_grid_tests"].metadata.nbgrader["points"] == sum(ex4_points.values())
    assert cells["ex1_predict"].metadata.nbgrader["points"] == 2
    assert "**PREDICT (Exercise 1, 2 points).**" in cells["ex1_predict"].source
    assert "'min_codes': 24" in cells["ex5_experiment_tests"].source
    text = "\n".join(c.source for c in nb.cells)
    assert "at least 24 images" in text and "torch.randn(24, LATENT_DIM" in text
    assert "torch.linspace(-2.5, 2.5, grid_size)" in text and "(from -2.5 to +2.5)" in text


def test_the_build_names_the_cell_of_a_mistake_in_the_text_source(tmp_path, monkeypatch):
    text = lesson_build.TEXT_SOURCE.read_text()
    for broken, words in [(text.replace("{{ cfg.EX5_MIN_CODES }}", "{{ cfg.EX5_MIN_CODE }}", 1), "EX5_MIN_CODE"),
                          (text.replace("grade_id: ex4_grid_tests", "grade_id: ex4_extra", 1), "ex4_extra"),
                          (text.replace("grade_id: setup, locked: true", "grade_id: setup, points: 3", 1), "points")]:
        assert broken != text
        (tmp_path / "lesson.md").write_text(broken)
        monkeypatch.setattr(lesson_build, "TEXT_SOURCE", tmp_path / "lesson.md")
        with pytest.raises(SystemExit, match=words):
            lesson_build.build()


def test_the_text_source_with_its_solutions_never_reaches_the_release():
    assert not lesson_build.TEXT_SOURCE.is_relative_to(SOURCE.parent), "nbgrader releases every file there"
    text = lesson_build.TEXT_SOURCE.read_text()
    for path in RELEASE.parent.iterdir():
        assert path.suffix != ".md" and text[:2000] not in path.read_bytes().decode("utf-8", "replace")


def test_notebook_shows_the_kits_vae_and_helpers_verbatim():
    nb = cells_by_grade_id(nbformat.read(SOURCE, 4))
    assert inspect.getsource(vae.VAE).strip() in nb["vae_definition"].source
    assert inspect.getsource(vae.vae_loss).strip() in nb["vae_definition"].source
    assert inspect.getsource(solutions.get_items_by_category).strip() in nb["helpers"].source


def test_source_solutions_compute_exactly_what_the_reference_computes(tmp_path, monkeypatch, vae, test_set):
    """The solution cells, run in a kernel, export the very values reference/solutions.py returns."""
    from autograder.answers import load_cell_answers
    from autograder.executor import kernel_environment

    nb = nbformat.read(SOURCE, 4)
    for item in SOURCE.parent.iterdir():  # vae.pt and the contract the visible checks import, as students get them
        if item.suffix != ".ipynb":
            shutil.copy(item, tmp_path / item.name)
    (tmp_path / "answers").mkdir()
    for name, value in kernel_environment(tmp_path / "answers").items():
        monkeypatch.setenv(name, value)
    keep = {"setup", "vae_definition", "load_model", "helpers", *cfg.GRADED_ANSWERS,
            *(f"{cell_id}_tests" for cell_id in cfg.GRADED_ANSWERS)}
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in keep]
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    exported = {cell_id: load_cell_answers(tmp_path / "answers", cell_id) for cell_id in cfg.GRADED_ANSWERS}

    exact = dict(rtol=0, atol=1e-6)  # same code, same machine: only summation order may differ
    ex3 = solutions.ex3_arithmetic(vae, test_set)
    for name in ("boot_direction", "z_result"):
        torch.testing.assert_close(torch.from_numpy(exported["ex3_arithmetic"][name].array), ex3[name].double(), **exact)
    torch.testing.assert_close(torch.from_numpy(exported["ex4_grid"]["decoded_grid"].array),
                               solutions.ex4_grid(vae).double(), **exact)
    target, experiment = solutions.ex5_example_experiment(vae, test_set)
    assert exported["ex5_experiment"]["TARGET_CATEGORY"].value == target
    items = {item.name: item.array for item in exported["ex5_experiment"]["experiment_latents"].items}
    assert list(items) == list(experiment)
    for technique, codes in experiment.items():
        torch.testing.assert_close(torch.from_numpy(items[technique]), codes.double(), **exact)


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """A release generated now, by real `nbgrader generate_assignment` in a course folder of its own."""
    folder = tmp_path_factory.mktemp("course") / "course"
    course.make_course(folder, {})
    return folder / "release" / cfg.ASSIGNMENT_ID


def test_committed_release_matches_a_fresh_nbgrader_release(fresh_release):
    assert comparable(nbformat.read(fresh_release / RELEASE.name, 4)) == comparable(nbformat.read(RELEASE, 4)), \
        "release is stale: run `nbgrader generate_assignment latent_space --force` from the course root"
    assert (fresh_release / "vae.pt").read_bytes() == (RELEASE.parent / "vae.pt").read_bytes()
    assert sorted(p.name for p in RELEASE.parent.iterdir()) == sorted(p.name for p in fresh_release.iterdir())


def test_release_holds_no_solution_and_no_hidden_test_source():
    text = RELEASE.read_text()
    source = nbformat.read(SOURCE, 4)
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "export_answers", "LATENT_LAB_EXPORTER", "Example answer"):
        assert marker not in text, marker
    for cell in source.cells:
        for region in SOLUTION_REGION.findall(cell.source):
            for line in region.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith("#"):
                    assert line not in text, f"solution line leaked into the release: {line!r}"
    release = cells_by_grade_id(nbformat.read(RELEASE, 4))
    for cell_id in cfg.GRADED_ANSWERS:
        assert "raise NotImplementedError()" in release[cell_id].source


def test_students_are_told_the_grading_time_limits():
    text = " ".join(c.source for c in nbformat.read(RELEASE, 4).cells if c.cell_type == "markdown")
    assert f"at most {cfg.CELL_TIMEOUT_SECONDS} seconds" in text
    assert f"{cfg.SUBMISSION_TIMEOUT_SECONDS // 60} minutes" in text


def test_grade_cells_carry_the_configured_points():
    cells = cells_by_grade_id(nbformat.read(SOURCE, 4))
    for cell_id, checks in cfg.CHECK_POINTS.items():
        assert cells[f"{cell_id}_tests"].metadata.nbgrader["points"] == sum(checks.values())
    predicts = [c for gid, c in cells.items() if gid and gid.endswith("_predict")]
    assert len(predicts) == 5 and all(c.cell_type == "markdown" for c in predicts)
    assert cells["ex5_interpretation"].metadata.nbgrader["points"] == cfg.EX5_INTERPRETATION_POINTS


def test_grading_never_trains_even_if_asked(tmp_path, monkeypatch):
    """Under NBGRADER_EXECUTION the setup and load cells take seconds even with TRAIN_FROM_SCRATCH = True."""
    nb = nbformat.read(SOURCE, 4)
    cells = cells_by_grade_id(nb)
    flag = nbformat.v4.new_code_cell("TRAIN_FROM_SCRATCH = True")
    nb.cells = [cells["setup"], flag, cells["vae_definition"], cells["load_model"]]
    shutil.copy(lesson.VAE_CHECKPOINT, tmp_path / "vae.pt")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("LATENT_LAB_DATA", str(cfg.DATA_DIR))
    NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    output = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "Loaded the pretrained VAE" in output and "Training VAE" not in output


def test_corrupt_checkpoint_beside_the_notebook_stops_with_a_clear_message(tmp_path, monkeypatch):
    nb = nbformat.read(SOURCE, 4)
    cells = cells_by_grade_id(nb)
    nb.cells = [cells["setup"], cells["vae_definition"], cells["load_model"]]
    payload = bytearray(lesson.VAE_CHECKPOINT.read_bytes())
    payload[5000] ^= 1
    (tmp_path / "vae.pt").write_bytes(bytes(payload))
    monkeypatch.setenv("LATENT_LAB_DATA", str(cfg.DATA_DIR))
    client = NotebookClient(nb, timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    error = next(o for o in nb.cells[-1].outputs if o.output_type == "error")
    assert "vae.pt is damaged or not the file shipped with the assignment" in error.evalue


def test_missing_shared_data_stops_with_one_clear_message_and_nothing_lands_in_the_assignment(tmp_path, monkeypatch):
    """On the hub LATENT_LAB_DATA names a read-only shared copy: if it is missing the notebook says what to do and
    never downloads into the assignment folder (whose every file is submitted)."""
    nb = nbformat.read(RELEASE, 4)
    cells = cells_by_grade_id(nb)
    nb.cells = [cells["setup"], cells["vae_definition"], cells["load_model"]]
    shutil.copy(lesson.VAE_CHECKPOINT, tmp_path / "vae.pt")
    monkeypatch.setenv("LATENT_LAB_DATA", str(tmp_path / "no_such_shared_copy"))
    client = NotebookClient(nb, timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    error = next(o for o in nb.cells[-1].outputs if o.output_type == "error")
    assert error.ename == "DataMissing"
    assert "no_such_shared_copy" in error.evalue and "tell your instructor" in error.evalue
    assert error.traceback == [f"DataMissing: {error.evalue}"]  # one line, no traceback, no torchvision hint
    assert "download=True" not in error.evalue
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.pt"]  # nothing downloaded or made beside it


# ---------------------------------------------------------------- the real nbgrader pipeline

PIPELINE_STUDENTS = {**course.DEMO_STUDENTS, "eve_stderr_warning": "variant_warning_on_stderr",
                     "fay_tensor_subclass": "cheat_tensor_subclass"}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nbgrader") / "course"
    corpus.write(folder.parent / "submissions", list(PIPELINE_STUDENTS.values()))
    students = {student: folder.parent / "submissions" / f"{name}.ipynb" for student, name in PIPELINE_STUDENTS.items()}
    return folder, course.run_workflow(folder, students)


def auto(table, student):
    return {cell: table[student][f"{cell}_tests"][0] for cell in cfg.CHECK_POINTS}


def test_nbgrader_autograde_records_each_parts_score(workflow):
    _, result = workflow
    table = result["table"]
    for student, name in PIPELINE_STUDENTS.items():  # the same points the CLI gives (tests/test_corpus.py)
        assert auto(table, student) == corpus.expected(name)["points"], student


def test_feedback_names_each_mistake_and_hides_the_hidden_tests(workflow):
    folder, _ = workflow
    feedback = {s: (folder / "feedback" / s / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.html").read_text()
                for s in PIPELINE_STUDENTS}
    for html in feedback.values():
        assert "export_answers" not in html and "BEGIN HIDDEN TESTS" not in html
        # no bare score (`Out[ ]: 4`) under a check table: the table's heading states it
        assert not re.search(r"latent-lab-feedback(?:(?!<div class=.cell ).)*output_execute_result", html, re.S)
    assert "points the wrong way" in feedback["ben_one_mistake_each"]
    assert "The grid is upside down" in feedback["ben_one_mistake_each"]
    assert "1 technique(s); the experiment needs at least 2" in feedback["ben_one_mistake_each"]
    assert "data:image/png;base64" in feedback["ben_one_mistake_each"]  # the pictures travel with the feedback
    untouched = feedback["cy_untouched_release"]
    for message in ("`boot_direction` is not defined", "`decoded_grid` is empty", "`experiment_latents` is not defined"):
        assert message in untouched
    assert "kernel died" in feedback["dee_kernel_dies"]


def test_nbgraders_logs_carry_no_false_alarm(workflow):
    """What an instructor reads in formgrader's dialogs: no warning that only restates what the release did (the
    hidden tests it removed), no config warning of nbgrader's own making, no debug lines."""
    _, result = workflow
    logs = "\n".join(result["logs"].values())
    for noise in ("Attribute 'checksum'", "display_data_priority", "[DEBUG]"):
        assert noise not in logs, [line for line in logs.splitlines() if noise in line][:3]
    assert "Autograding" in result["logs"]["autograde"]  # the log was read: the absences above mean something


def test_export_writes_every_student_to_csv(workflow):
    folder, _ = workflow
    with open(folder / "grades.csv") as f:
        rows = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(f)}
    assert rows["ada_full_marks"] == corpus.TOTAL and rows["cy_untouched_release"] == 0
    assert rows["dee_kernel_dies"] == sum(corpus.expected("kernel_dies_in_ex4")["points"].values())


def test_the_docs_state_the_configured_points_tolerances_and_limits(monkeypatch):
    texts = {path.name: path.read_text() for path in readme.DOCS}
    for name, text in texts.items():
        assert readme.with_blocks_filled(text) == text, f"{name} is stale: run `make release`"
    assert set().union(*map(readme.blocks_in, texts.values())) == set(readme.BLOCKS)
    monkeypatch.setitem(cfg.CHECK_POINTS, "ex4_grid", {**cfg.CHECK_POINTS["ex4_grid"], "orientation": 2.5})
    monkeypatch.setattr(cfg, "LATENT_TOLERANCE", dict(atol=0.03, rtol=0.01))
    monkeypatch.setattr(cfg, "CELL_TIMEOUT_SECONDS", 90)
    monkeypatch.setitem(cfg.SANDBOX_LIMITS, "memory_mb", 2048)
    changed = "".join(map(readme.with_blocks_filled, texts.values()))
    assert "| time | 90 s per cell (`CELL_TIMEOUT_SECONDS`)" in changed and "| 2 GB of heap" in changed
    ex4_total = sum(cfg.CHECK_POINTS["ex4_grid"].values())
    row = next(line for line in changed.splitlines() if line.startswith("| `ex4_grid_tests` |"))
    assert row.startswith(f"| `ex4_grid_tests` | {ex4_total:g} | autograded: ") and "orientation 2.5" in row
    assert "`LATENT_TOLERANCE` = 0.03 + 0.01 x" in changed


def test_math_is_only_in_the_lessons_own_text():
    """A student's answer cell (a PREDICT prompt included) is shown as typed: LaTeX there would stay raw offline."""
    from autograder.math_offline import MATH

    for cell in nbformat.read(SOURCE, 4).cells:
        roles = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and (roles.get("grade") or roles.get("solution")):
            assert not MATH.search(cell.source), (roles["grade_id"], MATH.search(cell.source).group(0))


def fetched_from_other_hosts(page: str) -> list:
    """What an HTML page's scripts, styles, images and frames load from another host."""
    return re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?((?:https?:)?//[^\"' >]+)", page)


@pytest.mark.parametrize("template", ["feedback", "formgrade"])
def test_nbgraders_pages_load_nothing_from_a_cdn(template):
    """generate_feedback's page and formgrader's view of a submission, rendered with the kit's settings: nbconvert's
    MathJax from cdnjs is replaced (a hub without internet cannot reach it, and it would tell a third party of every
    page); the lesson's formulas are MathML."""
    from nbconvert.exporters import HTMLExporter

    from autograder import pipeline

    nbgraders_own = pipeline.SETTINGS.HTMLExporter.extra_template_basedirs[1:]
    bootstrap = Path(nbgraders_own[0]).parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    resources = {"nbgrader": {"notebook": cfg.ASSIGNMENT_ID, "score": 12, "max_score": 12, "late_penalty": 0}, "index": 0, "total": 1, "base_url": "",
                 "student": "ada", "first_name": "Ada", "last_name": "L"}  # what nbgrader passes each template

    lesson_text = nbformat.read(SOURCE, 4)
    for cell in lesson_text.cells:  # the lesson's text is what matters here, not the scores nbgrader adds to cells
        cell.metadata.pop("nbgrader", None)

    def page_for(settings):
        settings.HTMLExporter.update(template_name=template, extra_template_paths=[str(bootstrap)])
        return HTMLExporter(config=settings).from_notebook_node(lesson_text, resources=resources)[0]

    page = page_for(Config(pipeline.SETTINGS))
    unconfigured_page = page_for(Config({"HTMLExporter": {"extra_template_basedirs": nbgraders_own}}))
    assert any("mathjax" in url for url in fetched_from_other_hosts(unconfigured_page))  # what the kit replaces
    assert fetched_from_other_hosts(page) == []


def test_feedback_renders_math_and_hints_in_a_browser_with_no_network(workflow):
    """The feedback page as a student opens it on an offline hub (Chromium, every host unreachable): the lesson's
    formulas are drawn as MathML (no MathJax from a CDN needed), hints are collapsible sections, no raw `$...$`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder, _ = workflow
    page = folder / "feedback" / "ada_full_marks" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.html"
    # nothing is fetched from another host (nbconvert's MathJax from a CDN was): scripts, styles, images, fonts
    assert fetched_from_other_hosts(page.read_text()) == []
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"):  # no network at all
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(page.as_uri())
        text = browser.find_element("css selector", "body").text
        formulas = browser.find_elements("css selector", "math")
        assert len(formulas) >= 5 and all(f.size["width"] > 0 for f in formulas[:5])  # drawn, not hidden
        assert not re.search(r"\$[^$\s][^$\n]*\$", text), re.search(r"\$[^$\s][^$\n]*\$", text).group(0)
        assert "<details>" not in text and "<summary>" not in text
        hints = browser.find_elements("css selector", "details > summary")
        assert hints and all(h.text == "Hint" for h in hints)
        formula = next(f for f in formulas if f.get_attribute("display") == "block")
        browser.execute_script("arguments[0].scrollIntoView();", formula)
        cfg.DEMO_OUTPUT_DIR.mkdir(exist_ok=True)
        browser.save_screenshot(str(cfg.DEMO_OUTPUT_DIR / "feedback_math_offline.png"))
    finally:
        browser.quit()
