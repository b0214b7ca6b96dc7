"""Grade again from the kept answers, after a change to the checks or settings; no notebook runs, no kernel starts.

    python -m autograder regrade ASSIGNMENT [--student ID] [--feedback]   # from the nbgrader course root
    python -m autograder regrade DIR                                      # a folder written by `grade --out DIR`

Each graded submission kept its answers and what the run said (autograder/kept.py). The checks run again on
them, as they are now; the feedback pictures are the ones drawn before (the answers did not change). It prints each
change (student, check, old -> new points). In a course, a student whose points changed gets the new feedback in
the test cells of the graded notebook in autograded/ (the student's outputs stay), and the scores go into the
gradebook through nbgrader's own SaveAutoGrades step, as a full autograde records them; `--feedback` regenerates
their feedback. For a folder, each submission's results.json and graded notebook are rewritten.
"""
import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import executor, kept
from autograder.printable import printable
from autograder.errors import MachineProblem

log = logging.getLogger(__name__)


@dataclass
class Change:
    student: str
    cell_id: str
    check: str
    old: float
    new: float

    def __str__(self):
        return f"{self.student}: {self.cell_id} {self.check} {self.old:g} -> {self.new:g}"


def regrade_kept(folder: Path, student: str, meta: dict):
    """(Graded without its notebook, [Change]) for one kept folder and its graded.json (kept.read)."""
    from autograder.grade import grade_answers

    with kept.answers_for_checks(folder, meta) as answers_dir:
        grades = grade_answers(answers_dir, pictures=kept.pictures(meta), stopped=meta["stopped"],
                               raised=meta["raised"])
    before, changes = kept.old_grades(meta), []
    for cell_id, grade in grades.items():
        old = before.get(cell_id, {})
        changes += [Change(student, cell_id, r.name, old[r.name].points if r.name in old else 0.0, r.points)
                    for r in grade.results if r.name not in old or old[r.name].points != r.points]
    graded = executor.Graded(None, grades, meta["problem"], meta["seconds"], meta["sandbox"])
    answers = {"files": {p.name: p.read_bytes() for p in Path(folder).glob("*.npz")}, "sizes": meta.get("sizes", {})}
    graded.kept = (answers, kept.record(graded, answers, meta["stopped"], meta["raised"]))
    return graded, changes


def regrade_one(folder: Path, student: str, meta: dict):
    """regrade_kept, or (None, []) with a warning when this student's kept files cannot be graded again (a class-wide
    step never stops on one student); a problem of the checks themselves (MachineProblem) still stops it."""
    try:
        return regrade_kept(folder, student, meta)
    except MachineProblem:
        raise
    except Exception as err:  # noqa: BLE001
        log.warning("%r: not regraded, its kept answers could not be read again (%s: %s)", student,
                    type(err).__name__, str(err)[:200])
        return None, []


def with_new_feedback(notebook_path: Path, graded) -> executor.Graded:
    """The graded notebook as it was (the student's outputs), its test cells' feedback and scores replaced."""
    nb = nbformat.read(notebook_path, as_version=4)
    executor.write_feedback(nb, graded.grades, graded.sandbox)
    graded.notebook = nb
    return graded


def regrade_course(assignment: str, student: str = None, feedback: bool = False, verbose: bool = False) -> list:
    """[Change] for every student of the course (run from its root) whose kept answers now grade differently."""
    from autograder.autograde import course_api

    api = course_api(verbose)
    if not verbose:  # nbgrader narrates each copy and conversion; the changes printed below are what matter
        api.log.setLevel(logging.ERROR)
    coursedir = api.coursedir
    root = Path(coursedir.format_path(coursedir.autograded_directory, "*", assignment)).parent.parent
    folders = kept.in_course(root, assignment, student)
    all_changes, unkept = [], []
    for graded_folder in folders:
        folder, name = graded_folder / kept.FOLDER, graded_folder.parent.name
        meta = kept.read(folder)
        if meta is None or kept.graded_notebook(graded_folder, course=True) is None:
            unkept.append(name)
            continue
        graded, changes = regrade_one(folder, name, meta)
        if graded is None:
            unkept.append(name)
            continue
        if not changes:  # same points: only the record learns it was checked against today's checks
            kept.write(folder.parent, graded)
            continue
        notebook = folder.parent / f"{assignment}.ipynb"
        try:
            graded = with_new_feedback(notebook, graded)
        except Exception as err:  # noqa: BLE001  not a notebook any more: the class goes on without it
            log.warning("%r: not regraded, its graded notebook is not readable (%s)", name, type(err).__name__)
            unkept.append(name)
            continue
        all_changes += changes
        save_in_gradebook(notebook, graded, {"notebook": assignment, "assignment": assignment, "student": name,
                                  "db_url": coursedir.db_url})
    if unkept:
        log.warning("%d student(s) graded without kept answers (by a kit older than regrade, or by another config)"
                    " are left as they are; `python -m autograder autograde %s --force --student ID` grades one "
                    "again: %s", len(unkept), assignment, ", ".join(unkept))
    stale = {p.parent.name for p in folders if feedback_is_stale(coursedir, p.parent.name, assignment)}
    if feedback and (stale or all_changes):
        regenerate_feedback(api, assignment, stale | {c.student for c in all_changes},
                            everyone={p.parent.name for p in root.glob(f"*/{assignment}")})
    elif stale:
        log.warning("the feedback of %d student(s) in %s/ shows scores from before: `regrade %s --feedback` "
                    "regenerates it (also later), or `nbgrader generate_feedback %s --force`: %s", len(stale),
                    coursedir.feedback_directory, assignment, assignment, ", ".join(sorted(stale)))
    return all_changes


def feedback_is_stale(coursedir, student: str, assignment: str) -> bool:
    """The student has feedback, older than the autograded notebook (regraded since)."""
    graded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment), f"{assignment}.ipynb")
    html = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment), f"{assignment}.html")
    return html.is_file() and graded.is_file() and html.stat().st_mtime < graded.stat().st_mtime


def regenerate_feedback(api, assignment: str, students: set, everyone: set) -> None:
    """nbgrader's generate_feedback for these students, in one run (a run per student compiles the templates each
    time: 0.33 s a student instead of 0.23)."""
    from nbgrader.utils import temp_attrs

    with temp_attrs(api.coursedir, student_id_exclude=",".join(sorted(everyone - students))):
        result = api.generate_feedback(assignment, force=True)
    if result["success"]:
        print(f"Feedback regenerated for {len(students)} student(s): {', '.join(sorted(students))}", file=sys.stderr)
    else:
        log.error("nbgrader's generate_feedback failed; the gradebook and autograded notebooks are up to date, run "
                  "`nbgrader generate_feedback %s --force` again:\n%s", assignment, result.get("log", ""))


def save_in_gradebook(notebook_path: Path, graded, nbgrader_resources: dict) -> None:
    """The new scores into the gradebook by nbgrader's own SaveAutoGrades (the last step of autograde, which reads
    each test cell's score as a full autograde would), then the graded notebook and its kept answers rewritten."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    where = nbgrader_resources
    with Gradebook(where["db_url"]) as gradebook:
        before = {g.name: (g.auto_score, g.needs_manual_grade) for g in gradebook.find_submission_notebook(
            where["notebook"], where["assignment"], where["student"]).grades}
    SaveAutoGrades().preprocess(graded.notebook, {"nbgrader": where})
    # SaveAutoGrades flags every hand-graded cell for grading again; the student's answers did not change, so only
    # a cell whose automatic score changed keeps nbgrader's flag (an override of it deserves a second look)
    with Gradebook(where["db_url"]) as gradebook:
        for grade in gradebook.find_submission_notebook(where["notebook"], where["assignment"], where["student"]).grades:
            if grade.name in before and grade.auto_score == before[grade.name][0]:
                grade.needs_manual_grade = before[grade.name][1]
            elif grade.needs_manual_grade and not before.get(grade.name, (None, True))[1]:
                log.warning("%s: %s had a grade by hand and its automatic score changed: flagged for a second "
                            "look in formgrader", where["student"], grade.name)
        gradebook.db.commit()
    mode = notebook_path.stat().st_mode
    notebook_path.chmod(0o600)  # nbgrader leaves autograded notebooks read-only
    nbformat.write(graded.notebook, notebook_path)
    notebook_path.chmod(mode)
    kept.write(notebook_path.parent, graded)


def regrade_folder(out_dir: Path) -> list:
    """[Change] for every submission graded into out_dir by `grade --out`, whose files are rewritten."""
    from autograder.grade_files import write_outputs

    all_changes = []
    for folder in sorted(Path(out_dir).rglob(kept.FOLDER)):
        key = str(folder.parent.relative_to(out_dir))
        notebook, meta = kept.graded_notebook(folder.parent, course=False), kept.read(folder)
        if meta is None or notebook is None or not folder.is_dir() or folder.is_symlink():
            log.warning("%r: left as it is, it holds no graded notebook and record the kit wrote", key)
            continue
        graded, changes = regrade_one(folder, key, meta)
        if graded is None:
            continue
        try:
            graded = with_new_feedback(notebook, graded)
        except Exception as err:  # noqa: BLE001  not a notebook any more: the class goes on without it
            log.warning("%r: left as it is, its graded notebook is not readable (%s)", key, type(err).__name__)
            continue
        all_changes += changes
        graded.name = notebook.name
        for old_picture in folder.parent.glob("*_[0-9]*.png"):
            old_picture.unlink()
        write_outputs(graded, out_dir, key + notebook.suffix)
    return all_changes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="the nbgrader assignment (run from the course root), or a folder written by "
                                       "`grade --out`")
    parser.add_argument("--student", help="regrade this student only (course)")
    parser.add_argument("--feedback", action="store_true", help="regenerate the feedback of students who changed, "
                        "and any feedback older than its student's grades (course)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show what nbgrader does for each student")


def run(args) -> int:
    started = time.perf_counter()
    target = Path(args.target)
    graded_folder = target.is_dir() and any(target.rglob(kept.FOLDER))  # else an assignment of this course
    if not graded_folder and not Path("nbgrader_config.py").is_file():
        print(f"error: {target} is neither a folder written by `grade --out` (with kept answers) nor, here, an "
              "assignment: run `regrade ASSIGNMENT` from the course root", file=sys.stderr)
        return 2
    try:
        if graded_folder:
            changes = regrade_folder(target)
        else:
            changes = regrade_course(args.target, args.student, args.feedback, args.verbose)
    except kept.NothingKept as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MachineProblem as err:  # the checks cannot run (a broken setting): nothing was recorded
        print(f"error: {err}", file=sys.stderr)
        return 3
    for change in changes:
        print(printable(change))
    students = len({c.student for c in changes})
    print(f"Regraded without running any notebook in {time.perf_counter() - started:.1f} s: {len(changes)} check(s) "
          f"changed for {students} student(s).", file=sys.stderr)
    return 0
