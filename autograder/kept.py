"""Each graded submission's answers, kept beside its graded notebook, so it can be graded again without a kernel.

    latent_lab_answers/<cell>.npz   each graded cell's export, as it came out of the sandbox (a few KB to 600 KB)
    latent_lab_answers/graded.json  what the run said (why it stopped, which cells raised), what the checks gave
                                    (every check's points and message, notes, feedback pictures) and the digest of
                                    the checks and settings that gave it

nbgrader keeps the folder in autograded/<student>/<assignment>/ (GradeInSandbox hands it to nbgrader's writer), the
CLI in each submission's --out folder. `python -m autograder regrade` reads it back (autograder/regrade.py).
"""
import contextlib
import functools
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import course_config as cfg
from reference import lesson
from autograder.answers import MAX_EXPORT_BYTES
from autograder.results import CheckResult

FOLDER = "latent_lab_answers"
RECORD = "graded.json"
MAX_RECORD_BYTES = 20 * 2**20  # a record is ~10 KB plus its pictures (~200 KB); anything bigger is not one
KIT = Path(__file__).resolve().parents[1]
GRADING_SOURCES = ["course_config.py", "autograder/checks", "autograder/compare.py", "autograder/answers.py",
                   "autograder/contract.py", "autograder/grade.py", "autograder/diagnoses.py",
                   "autograder/feedback.py", "autograder/reference_answers.py", "reference/lesson.py", "reference/dataset_codes.py",
                   "reference/judge.py"]


@functools.cache  # once per process: every graded submission records it
def checks_digest() -> str:
    """sha256 of everything that turns kept answers into points and messages (checks, settings, reference)."""
    digest = hashlib.sha256(lesson.REFERENCE_SHA256.encode())  # the shipped reference answers, by their pin
    for name in GRADING_SOURCES:
        path = KIT / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(KIT).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def answer_files(answers_dir: Path) -> dict:
    """{name: bytes} of the exports worth keeping. An empty or oversized file is recorded by its size only: the
    checks judged it by that alone (a sparse file of that size reads back the same)."""
    kept, sizes = {}, {}
    for cell_id in cfg.CHECK_POINTS:
        path = Path(answers_dir) / f"{cell_id}.npz"
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        if 0 < size <= MAX_EXPORT_BYTES:
            kept[path.name] = path.read_bytes()
        else:
            sizes[path.name] = size
    return {"files": kept, "sizes": sizes}


def record(graded, answers: dict, stopped: str, raised: dict) -> dict:
    """graded.json's content for a Graded whose checks ran on `answers` (answer_files)."""
    return {"digest": checks_digest(), "reference_sha256": lesson.REFERENCE_SHA256,
            "cpu_kernels": graded.cpu_kernels, "stopped": stopped, "raised": raised, "problem": graded.problem,
            "seconds": graded.seconds, "sandbox": graded.sandbox, "sizes": answers["sizes"],
            "cells": {cell_id: {"results": [asdict(r) for r in grade.results], "notes": list(grade.notes),
                                "pictures": [list(p) for p in grade.pictures]}
                      for cell_id, grade in graded.grades.items()}}


def files(graded) -> dict:
    """{path relative to the graded notebook's folder: bytes} to write beside it; empty if nothing was run."""
    if graded.kept is None:
        return {}
    answers, meta = graded.kept
    out = {f"{FOLDER}/{name}": data for name, data in answers["files"].items()}
    out[f"{FOLDER}/{RECORD}"] = json.dumps(meta, indent=1).encode()
    return out


def write(folder: Path, graded) -> None:
    """Each file written beside and then moved over the old one, keeping its mode: nbgrader leaves autograded files
    read-only (0444), which stops the instructor (not root) from writing into them, never from replacing them."""
    for relative, data in files(graded).items():
        target = Path(folder) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o777 if target.is_file() and not target.is_symlink() else None
        fresh = target.with_name(f".{target.name}.new")
        fresh.unlink(missing_ok=True)
        fresh.write_bytes(data)
        if mode is not None:
            fresh.chmod(mode)
        fresh.replace(target)


def read(folder: Path):
    """graded.json of a kept folder, or None when it holds none the kit could have written (a link, not JSON, not
    the record's shape): class-wide steps then leave that student as graded and name them."""
    path = Path(folder) / RECORD
    if path.is_symlink() or not path.is_file():
        return None
    try:
        meta = json.loads(path.read_bytes()[:MAX_RECORD_BYTES])
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("cells"), dict) else None


def graded_notebook(graded_folder: Path, course: bool):
    """The graded notebook the kit wrote in a graded folder (the assignment's in a course; named after the folder in
    a `grade --out` folder), or None: never another .ipynb a student's submission put beside it."""
    path = Path(graded_folder) / f"{cfg.ASSIGNMENT_ID if course else Path(graded_folder).name}.ipynb"
    return path if path.is_file() and not path.is_symlink() else None


@contextlib.contextmanager
def answers_for_checks(folder: Path, meta: dict):
    """The kept folder, ready for the checks: an export recorded by its size only (empty or oversized) is there, for
    the checks' time only, as a sparse file of that size."""
    made = []
    for name, size in meta.get("sizes", {}).items():
        path = Path(folder) / name
        if name.endswith(".npz") and "/" not in name and not path.exists():
            with open(path, "wb") as f:
                f.truncate(size)
            made.append(path)
    try:
        yield Path(folder)
    finally:
        for path in made:
            path.unlink(missing_ok=True)


class NothingKept(LookupError):
    """No graded submission to read here; the message says what to do. Nothing was changed."""


def in_course(autograded: Path, assignment: str, student: str = None) -> list:
    """[autograded/<student>/<assignment>] of the course whose autograded/ folder is given (run from its root)."""
    if assignment != cfg.ASSIGNMENT_ID:
        raise NothingKept(f"this kit grades the assignment {cfg.ASSIGNMENT_ID!r}, not {assignment!r}")
    if (KIT / "course_config.py").resolve() == (Path.cwd() / "course_config.py").resolve():
        raise NothingKept("this is the kit's folder, not a course: run this from the course root (the folder "
                          "init-course made, holding gradebook.db), or give a folder written by `grade --out`")
    everyone = sorted(p for p in Path(autograded).glob(f"*/{assignment}") if p.is_dir())
    if not everyone:
        raise NothingKept(f"nothing of {assignment!r} is autograded yet: run `python -m autograder autograde "
                          f"{assignment}` first")
    chosen = [p for p in everyone if student in (None, p.parent.name)]
    if not chosen:
        names = [p.parent.name for p in everyone]
        raise NothingKept(f"no autograded submission of {assignment!r} by {student!r}; the autograded students are: "
                          + ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else ""))
    return chosen


def old_grades(meta: dict) -> dict:
    """{cell_id: {check: CheckResult}} as graded.json recorded them."""
    return {cell_id: {r["name"]: CheckResult(**r) for r in cell["results"]} for cell_id, cell in meta["cells"].items()}


def pictures(meta: dict) -> dict:
    return {cell_id: [tuple(p) for p in cell.get("pictures", [])] for cell_id, cell in meta["cells"].items()}

