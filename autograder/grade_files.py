"""`latent-lab grade`: grade without JupyterHub: the same export and checks as under nbgrader, with results.json for Gradescope.

    python -m autograder grade PATH [--json OUT] [--out DIR] [--no-sandbox] [-v | --quiet]

PATH is a notebook or a folder of notebooks (searched recursively). Each goes through the same preprocessor lists
as `nbgrader autograde` (autograder/pipeline.py), with a gradebook of its own in a temporary folder: nbgrader's
sanitize steps restore the locked and test cells from the source, then a fresh kernel runs in a sandbox and
nbgrader's SaveAutoGrades records the score the report shows. Exits 0 whenever grading ran, whatever the scores; 2 when PATH does not exist
or the sandbox cannot run here (the message says how to enable it, or to pass --no-sandbox); 3 when grading
stopped on a problem of the machine (a kernel that cannot start), with every result before it written.
"""
import base64
import json
import re
import sys
from pathlib import Path

import nbformat

import course_config as cfg
from reference import lesson
from autograder import cluster, executor, kept
from autograder.errors import MachineProblem
from autograder.printable import printable
from autograder.pipeline import Pipeline


def add_arguments(parser) -> None:
    parser.add_argument("path", type=Path)
    parser.add_argument("--json", type=Path, help="write {notebook: Gradescope-style results} here, for a file or a "
                                                  "folder alike (updated after each one)")
    parser.add_argument("--out", type=Path, help="folder for graded notebooks, results.json and feedback pictures")
    parser.add_argument("--no-sandbox", action="store_true",
                       help="run student code WITHOUT isolation (it can then read and change the course)")
    parser.add_argument("--workers", type=int, help="grade N submissions at once in local worker processes")
    cluster.add_scheduler_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    parser.add_argument("--quiet", action="store_true", help="no table per submission, only problems")


def grade_file(path: Path, out_dir: Path = None, root: Path = None, sandbox: str = None,
                   pipeline=None) -> executor.Graded:
    """Grade one submission file through the pipeline; write its outputs at once when out_dir is given."""
    if pipeline is None:
        with Pipeline(sandbox) as pipeline:
            return grade_file(path, out_dir, root, sandbox, pipeline)
    student = str(Path(path).relative_to(root)) if root is not None else Path(path).name
    graded = pipeline.grade_file(path, student, root)
    if out_dir is not None:
        write_outputs(graded, Path(out_dir))
    return graded


def results_json(submission: executor.Graded) -> dict:
    """Gradescope's results.json: one test per named check."""
    tests = []
    for cell_id, grade in submission.grades.items():
        for r in grade.results:
            tests.append({"name": f"{cell_id}: {r.name}", "score": r.points, "max_score": r.max_points,
                          "output": r.message or "passed", "visibility": "visible"})
    output = submission.problem or f"Graded in {submission.seconds.get('total', 0):.1f} s."
    output = " ".join([output, *(f"{cell_id}: {note}" for cell_id, grade in submission.grades.items()
                                 for note in grade.notes)])
    if submission.sandbox == "none":
        output = f"{executor.UNSANDBOXED_NOTE} {output}"
    return {"score": submission.score, "max_score": submission.max_score, "tests": tests, "output": output,
            "extra_data": {"reference_sha256": lesson.REFERENCE_SHA256,  # what every check compared against
                           "cpu_kernels": submission.cpu_kernels}}  # and the kernels it computed with


def write_outputs(submission: executor.Graded, out_dir: Path, key: str = None) -> None:
    """The graded notebook (feedback in the test cells), results.json, and each feedback picture as a PNG, in a
    folder named after the submission's path (key) inside the folder graded."""
    folder = Path(out_dir) / Path(key or submission.name).with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    if submission.notebook is not None:
        nbformat.write(submission.notebook, folder / submission.name)
    write_json(folder / "results.json", results_json(submission))
    kept.write(folder, submission)  # the answers, for `python -m autograder regrade` without a kernel
    for cell_id, grade in submission.grades.items():
        for i, png in enumerate(re.findall(r'data:image/png;base64,([^"]+)"', grade.html)):
            (folder / f"{cell_id}_{i}.png").write_bytes(base64.b64decode(png))


def write_json(path: Path, payload) -> None:
    """Atomically: a crash while writing never leaves half a file where a whole one was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)


def print_report(submission: executor.Graded, file=sys.stdout) -> None:
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in submission.seconds.items() if name != "total")
    print(f"\n{printable(submission.name)}: {submission.score:g} / {submission.max_score:g}  "
          f"({submission.seconds.get('total', 0):.1f} s{': ' + parts if parts else ''})", file=file)
    if submission.sandbox == "none":
        print(f"  {executor.UNSANDBOXED_NOTE}", file=file)
    if submission.problem:
        print(f"  {printable(submission.problem)}", file=file)
    for grade in submission.grades.values():
        print("  " + grade.text.replace("\n", "\n  "), file=file)


def graded_one_by_one(notebooks, keys, root, sandbox, args):
    """(key, Graded) for each notebook as it finishes: in this process, or on workers (--workers, --scheduler)."""
    from autograder import parallel

    submissions = (parallel.read(path, keys[path], root) for path in notebooks)  # each read when it is sent
    for submission, graded in parallel.grade_many(submissions, sandbox, args.workers, args.scheduler,
                                                  progress=len(notebooks) > 1, total=len(notebooks),
                                                  security=args.security):
        yield submission.student, graded


def run(args) -> int:
    if not args.path.exists() and not args.path.is_symlink():
        print(f"error: {args.path} does not exist", file=sys.stderr)
        return 2
    try:
        args.security = cluster.scheduler_security(args)
    except cluster.ClusterSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sandbox = "none" if args.no_sandbox else cfg.SANDBOX
    if sandbox != "none" and not args.scheduler:  # on a cluster, each worker checks its own sandbox
        from autograder.sandbox import SandboxUnavailable, check_available
        try:
            check_available()
        except SandboxUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    elif sandbox == "none":  # a cluster's workers sandbox unless told not to: each result says which it did
        print(f"warning: {executor.UNSANDBOXED_NOTE}", file=sys.stderr)
    single = not args.path.is_dir()
    notebooks = [args.path] if single else sorted(
        p for p in args.path.rglob("*.ipynb") if not any(part.startswith(".") for part in p.relative_to(args.path).parts))
    hidden = [] if single else [p for p in args.path.rglob(".*") if p.name != ".ipynb_checkpoints"
                                and not any(part.startswith(".") for part in p.relative_to(args.path).parts[:-1])]
    if hidden:  # as nbgrader's ignore globs: a student's hidden file is not a submission (its folder would clash)
        print(f"warning: {len(hidden)} hidden file(s) or folder(s) not graded: "
              + ", ".join(repr(printable(p.relative_to(args.path))) for p in hidden[:5]), file=sys.stderr)
    if not notebooks:
        print(f"error: no .ipynb files in {args.path}", file=sys.stderr)
        return 2
    root = None if single else args.path
    keys = {path: path.name if single else str(path.relative_to(args.path)) for path in notebooks}
    payload = {}
    try:
        for key, submission in graded_one_by_one(notebooks, keys, root, sandbox, args):
            if args.out:
                write_outputs(submission, args.out, key)
            if not args.quiet:
                print_report(submission)
                sys.stdout.flush()
            if args.json:  # written after every submission: a crash later loses nothing graded so far
                payload[key] = results_json(submission)
                write_json(args.json, payload)
    except MachineProblem as err:
        print(f"error: grading stopped: {str(err).rstrip('.')}. Submissions graded before it are written.", file=sys.stderr)
        return 3
    return 0
