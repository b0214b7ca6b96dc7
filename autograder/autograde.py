"""`nbgrader autograde`, on many workers, resumable: the course ends up exactly as nbgrader's own run leaves it.

    cd COURSE_ROOT && python -m autograder autograde ASSIGNMENT [--workers N | --scheduler ADDRESS]
                                                               [--student ID] [--force]

Workers (or this process) grade each submission through the pipeline; as each one finishes, this process runs
nbgrader's own Autograde for that student (the course's nbgrader_config.py: reader, sanitize steps, autograded/
files, timestamps, late penalties, SaveAutoGrades), with the worker's result in place of running the notebook
again (UseWorkerResult). So the course's gradebook has one writer, and generate_feedback, export and formgrader
(its per-student autograde button included) work after it as after `nbgrader autograde`.

Resumable: a student counts as graded when the autograded notebook is readable, the gradebook holds a score for
each autograded cell and nothing was submitted since (nbgrader's own rule); a rerun grades only the others (--force
grades everyone again). Killed at any moment, the
gradebook stays consistent (SQLite transactions) and at most the students in flight are graded again.
"""
import argparse
import glob
import logging
import os
import sys
import warnings
from pathlib import Path

import nbformat
from sqlalchemy.exc import SAWarning

from autograder import cluster

log = logging.getLogger(__name__)


def course_config():
    """The course's nbgrader configuration, as `nbgrader autograde` loads it from the current folder, with the
    worker's result taking the place of the sandboxed run."""
    from traitlets.config.loader import PyFileConfigLoader

    from autograder import pipeline
    from autograder.nbgrader_steps import GradeInSandbox, UseWorkerResult

    if not Path("nbgrader_config.py").is_file():
        raise SystemExit("error: run this from the course root, where nbgrader_config.py is (as for nbgrader)")
    config = PyFileConfigLoader("nbgrader_config.py", path=os.getcwd()).load_config()
    config.Autograde.autograde_preprocessors = [UseWorkerResult if step is GradeInSandbox else step
                                                for step in pipeline.AUTOGRADE]
    return config


def course_api(verbose: bool = False):
    """nbgrader's API on the course (run from its root), with course_config(). It logs at INFO by default (a screen
    per student, and the exchange's listing): the kit's commands show its warnings and errors unless --verbose. Its
    constructor lists the exchange and logs CRITICAL where the course has none; grading never uses the exchange, so
    that one message is not shown."""
    from nbgrader.apps import NbGraderAPI

    def not_about_the_exchange(record):
        return not record.getMessage().startswith("Unwritable directory")

    traitlets_log = logging.getLogger("traitlets")  # the API sets its level itself, so a filter it is
    traitlets_log.addFilter(not_about_the_exchange)
    try:
        return NbGraderAPI(config=course_config(), log_level=logging.INFO if verbose else logging.WARNING)
    finally:
        traitlets_log.removeFilter(not_about_the_exchange)


def graded_already(api, assignment: str, student: str) -> bool:
    """The autograded notebook reads back and the gradebook holds an automatic score for each autograded cell."""
    from nbgrader.api import MissingEntry

    coursedir = api.coursedir
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    submitted = coursedir.get_existing_timestamp(coursedir.format_path(coursedir.submitted_directory, student,
                                                                       assignment))
    graded = coursedir.get_existing_timestamp(str(folder))
    if submitted is not None and graded is not None and submitted > graded:
        return False  # resubmitted since: graded again, as nbgrader does
    try:
        for path in folder.glob("*.ipynb"):
            nbformat.read(path, as_version=4)
        if not any(folder.glob("*.ipynb")):
            return False
        with api.gradebook as gradebook:
            submission = gradebook.find_submission(assignment, student)
            return all(grade.auto_score is not None for notebook in submission.notebooks
                       for grade in notebook.grades if grade.cell.cell_type == "code")
    except (MissingEntry, OSError, ValueError):
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder autograde", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser):
    parser.add_argument("assignment")
    parser.add_argument("--student", help="grade this student only")
    parser.add_argument("--force", action="store_true", help="grade again students already graded")
    parser.add_argument("--workers", type=int, help="grade N submissions at once in local worker processes")
    cluster.add_scheduler_arguments(parser)
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code WITHOUT isolation (it can then read and change the course)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")


def run(args) -> int:
    import course_config as cfg
    from autograder import parallel
    from autograder.nbgrader_steps import UseWorkerResult
    from autograder.errors import MachineProblem

    try:
        security = cluster.scheduler_security(args)
    except cluster.ClusterSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    api = course_api(args.verbose)
    coursedir = api.coursedir
    submitted = sorted(Path(p).parent.name for p in glob.glob(
        coursedir.format_path(coursedir.submitted_directory, "*", args.assignment)) if os.path.isdir(p))
    students = [s for s in submitted if args.student in (None, s)]
    if not students:
        print(f"error: no submissions of {args.assignment!r}" + (f" by {args.student!r}" if args.student else "")
              + f" under {coursedir.root}/{coursedir.submitted_directory}", file=sys.stderr)
        return 2
    todo = students if args.force else [s for s in students if not graded_already(api, args.assignment, s)]
    if len(todo) < len(students):
        print(f"{len(students) - len(todo)} of {len(students)} students already graded: skipped (--force grades "
              "them again)", file=sys.stderr)
    notebooks = {s: Path(coursedir.format_path(coursedir.submitted_directory, s, args.assignment),
                         f"{args.assignment}.ipynb") for s in todo}
    present = {s: path for s, path in notebooks.items() if os.path.lexists(path)}
    submissions = (parallel.read(path, s, path.parent) for s, path in present.items())  # each read when it is sent
    failed = []
    for student in (s for s, path in notebooks.items() if not os.path.lexists(path)):  # nbgrader zeroes it itself
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            failed += [] if api.autograde(args.assignment, student, force=True, create=True)["success"] else [student]
    sandbox = "none" if args.no_sandbox else cfg.SANDBOX
    try:
        for submission, graded in parallel.grade_many(submissions, sandbox, args.workers, args.scheduler,
                                                      total=len(present), security=security):
            UseWorkerResult.results[submission.student] = graded
            with warnings.catch_warnings():  # nbgrader's own ORM use on a new student's submission: harmless
                warnings.simplefilter("ignore", SAWarning)
                result = api.autograde(args.assignment, submission.student, force=True, create=True)
            if not result["success"]:
                failed.append(submission.student)
                log.error("nbgrader could not record %s:\n%s", submission.student, result.get("log", ""))
    except MachineProblem as err:
        print(f"error: grading stopped: {str(err).rstrip('.')}. Students graded before it are recorded; rerun to "
              "grade the rest.", file=sys.stderr)
        return 3
    print(f"Graded {len(todo) - len(failed)} students" + (f"; nbgrader failed for {', '.join(failed)}" if failed
                                                          else ""), file=sys.stderr)
    return 1 if failed else 0
