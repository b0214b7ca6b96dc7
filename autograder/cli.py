"""Grade without JupyterHub: the same export and checks as under nbgrader, with results.json for Gradescope.

    python -m autograder grade PATH [--json OUT] [--out DIR]

PATH is a notebook or a folder of notebooks (searched recursively). Each runs in a fresh kernel after its
protected cells (locked and test cells) are restored from the source notebook, as nbgrader's OverwriteCells
does. Exits 0 whenever grading ran, whatever the scores; 2 when PATH does not exist.
"""
import argparse
import base64
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import course_config as cfg

SOURCE_DIR = cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID
SOURCE_NOTEBOOK = SOURCE_DIR / f"{cfg.ASSIGNMENT_ID}.ipynb"


@dataclass
class Submission:
    path: Path
    grades: dict = field(default_factory=dict)   # {cell_id: CellGrade}
    problem: str = ""                            # why the notebook could not be run at all
    seconds: float = 0.0
    parts: dict = field(default_factory=dict)    # {"execute": s, "checks": s}

    @property
    def score(self) -> float:
        return sum(g.score for g in self.grades.values())

    @property
    def max_score(self) -> float:
        return sum(sum(points.values()) for points in cfg.CHECK_POINTS.values())


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def restore_protected_cells(nb, source_nb):
    """Locked and test cells come back from the source (text and metadata); a deleted test cell is put back
    after its solution cell, so a student cannot remove a grade by deleting the cell."""
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds

    nb, _ = DeduplicateIds().preprocess(nb, {})
    nb, _ = ClearOutput().preprocess(nb, {})
    protected = {_grade_id(c): c for c in source_nb.cells
                 if _grade_id(c) and (c.metadata.nbgrader.get("locked") or
                                      (c.metadata.nbgrader.get("grade") and not c.metadata.nbgrader.get("solution")))}
    present = set()
    for i, cell in enumerate(nb.cells):
        grade_id = _grade_id(cell)
        if grade_id in protected:
            original = protected[grade_id]
            nb.cells[i] = nbformat.from_dict({**original, "id": cell.get("id", original.get("id")),
                                              "outputs": [], "execution_count": None}
                                             if original.cell_type == "code" else dict(original))
            present.add(grade_id)
    for grade_id, original in protected.items():
        if grade_id in present or not grade_id.endswith("_tests"):
            continue
        solution_id = grade_id.removesuffix("_tests")
        index = next((i for i, c in enumerate(nb.cells) if _grade_id(c) == solution_id), len(nb.cells) - 1)
        nb.cells.insert(index + 1, nbformat.from_dict(dict(original)))
    return nb


def grade_notebook(path: Path, out_dir: Path = None) -> Submission:
    """Run one submission in a fresh kernel and grade it. Never raises for anything in the notebook."""
    from autograder.grade import not_run
    from autograder.nbgrader_steps import (
        GRADES_KEY, SECONDS_KEY, ExecuteToTheEnd, FreshAnswerFolder, GradeExportedAnswers,
    )

    started = time.perf_counter()
    submission = Submission(Path(path))
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001  not JSON, not a notebook, unreadable: still a grade
        submission.problem = f"not a readable notebook ({type(err).__name__}: {err})"
        submission.grades = not_run(f"The file could not be read as a notebook ({type(err).__name__}). "
                                    "Download it again from Jupyter (File > Download) and resubmit.")
        submission.seconds = time.perf_counter() - started
        return submission
    nb = restore_protected_cells(nb, nbformat.read(SOURCE_NOTEBOOK, as_version=4))
    workdir = Path(tempfile.mkdtemp(prefix="latent_lab_run_"))
    try:
        for item in SOURCE_DIR.iterdir():  # the files the notebook needs beside it (the checkpoint)
            if item.suffix != ".ipynb":
                shutil.copy(item, workdir / item.name)
        resources = {"metadata": {"path": str(workdir)}}
        for step in (FreshAnswerFolder(), ExecuteToTheEnd(timeout=cfg.CELL_TIMEOUT_SECONDS), GradeExportedAnswers()):
            nb, resources = step.preprocess(nb, resources)
        submission.grades, submission.parts = resources[GRADES_KEY], resources.get(SECONDS_KEY, {})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    submission.seconds = time.perf_counter() - started
    if out_dir is not None:
        write_outputs(submission, nb, Path(out_dir))
    return submission


def results_json(submission: Submission) -> dict:
    """Gradescope's results.json: one test per named check."""
    tests = []
    for cell_id, grade in submission.grades.items():
        for r in grade.results:
            tests.append({"name": f"{cell_id}: {r.name}", "score": r.points, "max_score": r.max_points,
                          "output": r.message or "passed", "visibility": "visible"})
    return {"score": submission.score, "max_score": submission.max_score, "tests": tests,
            "output": submission.problem or f"Graded in {submission.seconds:.1f} s."}


def write_outputs(submission: Submission, nb, out_dir: Path) -> None:
    """The graded notebook (feedback in the test cells), results.json, and each feedback picture as a PNG."""
    folder = out_dir / submission.path.stem
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / submission.path.name)
    (folder / "results.json").write_text(json.dumps(results_json(submission), indent=1))
    for cell_id, grade in submission.grades.items():
        for i, png in enumerate(re.findall(r'data:image/png;base64,([^"]+)"', grade.html)):
            (folder / f"{cell_id}_{i}.png").write_bytes(base64.b64decode(png))


def print_report(submission: Submission, file=sys.stdout) -> None:
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in submission.parts.items())
    print(f"\n{submission.path.name}: {submission.score:g} / {submission.max_score:g}  "
          f"({submission.seconds:.1f} s{': ' + parts if parts else ''})", file=file)
    if submission.problem:
        print(f"  {submission.problem}", file=file)
    for grade in submission.grades.values():
        print("  " + grade.text.replace("\n", "\n  "), file=file)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a notebook or a folder of notebooks")
    grade.add_argument("path", type=Path)
    grade.add_argument("--json", type=Path, help="write Gradescope-style results here")
    grade.add_argument("--out", type=Path, help="folder for graded notebooks, results.json and feedback pictures")
    args = parser.parse_args(argv)

    if not args.path.exists():
        print(f"error: {args.path} does not exist", file=sys.stderr)
        return 2
    notebooks = [args.path] if args.path.is_file() else sorted(
        p for p in args.path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        print(f"error: no .ipynb files in {args.path}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    submissions = []
    for path in tqdm(notebooks, desc="grading", unit="notebook", disable=len(notebooks) == 1, file=sys.stderr):
        submission = grade_notebook(path, args.out)
        submissions.append(submission)
        print_report(submission)
    if args.json:
        payload = (results_json(submissions[0]) if args.path.is_file() else
                   {str(s.path.relative_to(args.path)): results_json(s) for s in submissions})
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1))
    return 0
