"""The instructor's nbgrader workflow, end to end, in a course folder of its own.

    python -m tools.course demo_output/course     # what `make demo` runs

generate_assignment -> four students' submissions -> autograde -> generate_feedback -> export, with real
nbgrader commands run from the course folder, exactly as an instructor runs them on JupyterHub.
"""
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import course_config as cfg

KIT = cfg.COURSE_ROOT
DEMO_STUDENTS = {  # student id -> sample submission (named by what it should get)
    "ada_full_marks": "passes_all",
    "ben_one_mistake_each": "one_mistake_per_exercise",
    "cy_untouched_release": "untouched_release",
    "dee_kernel_dies": "kernel_dies_in_ex4",
}


def nbgrader(course: Path, *args, check=True) -> subprocess.CompletedProcess:
    """Run an nbgrader command from the course folder (nbgrader reads nbgrader_config.py from there)."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` from the same environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([str(Path(bin_dir) / "nbgrader"), *args], cwd=course, env=env,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_course(course: Path, submissions: dict) -> Path:
    """A fresh course folder made by init-course, a generated release, and the students' submitted notebooks."""
    from autograder.course_folder import init_course

    if course.exists():
        shutil.rmtree(course)
    init_course(course)
    nbgrader(course, "generate_assignment", cfg.ASSIGNMENT_ID, "--force")
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / cfg.ASSIGNMENT_ID
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / f"{cfg.ASSIGNMENT_ID}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    return course


def scores_by_part(course: Path) -> dict:
    """{student: {grade cell id: (score, max score)}} read back from the gradebook through nbgrader's API."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=cfg.COURSE_ID) as gradebook:
        table = {}
        for student in gradebook.students:
            try:
                notebook = gradebook.find_submission_notebook(cfg.ASSIGNMENT_ID, cfg.ASSIGNMENT_ID, student.id)
            except Exception:  # noqa: BLE001  never autograded: nothing to show
                continue
            table[student.id] = {g.name: (g.score, g.max_score) for g in notebook.grades}
    return table


def print_table(table: dict) -> None:
    parts = [f"{cell}_tests" for cell in cfg.CHECK_POINTS]
    header = f"{'student':24s}" + "".join(f"{p.removesuffix('_tests'):>16s}" for p in parts) + f"{'auto total':>12s}"
    print(header)
    print("-" * len(header))
    for student, grades in sorted(table.items()):
        cells = [grades.get(p, (0, 0)) for p in parts]
        total = sum(s or 0 for s, _ in cells)
        print(f"{student:24s}" + "".join(f"{(s or 0):>10g} / {m:<3g}" for s, m in cells) +
              f"{total:>8g} / {sum(m for _, m in cells):g}")
    manual = sum(m for p, (s, m) in next(iter(table.values()), {}).items() if p not in parts)
    print(f"(Plus {manual:g} points of PREDICT and interpretation answers, graded by hand in formgrader.)")


def run_workflow(course: Path, students: dict = None) -> dict:
    if not students:  # the demo's four students, built from the sample-submission spec
        from tools import corpus

        corpus.write(course.parent / "demo_submissions", list(DEMO_STUDENTS.values()))
        students = {s: course.parent / "demo_submissions" / f"{name}.ipynb" for s, name in DEMO_STUDENTS.items()}
    timings, logs = {}, {}
    started = time.perf_counter()
    make_course(course, students)
    timings["generate_assignment"] = time.perf_counter() - started
    for step, args in (("autograde", ["autograde", cfg.ASSIGNMENT_ID, "--force"]),
                       ("generate_feedback", ["generate_feedback", cfg.ASSIGNMENT_ID, "--force"]),
                       ("export", ["export", "--to", str(course / "grades.csv")])):
        started = time.perf_counter()
        logs[step] = nbgrader(course, *args).stderr
        timings[step] = time.perf_counter() - started
    return {"table": scores_by_part(course), "timings": timings, "logs": logs}


def main(argv=None) -> int:
    course = Path((argv or sys.argv[1:] or [str(cfg.DEMO_OUTPUT_DIR / "course")])[0]).resolve()
    print(f"Course folder: {course}")
    result = run_workflow(course)
    print()
    print_table(result["table"])
    print()
    for step, seconds in result["timings"].items():
        print(f"  nbgrader {step:20s} {seconds:6.1f} s")
    print(f"\nFeedback (HTML, one per student): {course}/feedback/<student>/{cfg.ASSIGNMENT_ID}/{cfg.ASSIGNMENT_ID}.html")
    print(f"Grades exported by nbgrader: {course}/grades.csv")
    with open(course / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    print(f"  ({len(rows)} rows: " + ", ".join(f"{r['student_id']} {float(r['raw_score']):g}" for r in rows) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
