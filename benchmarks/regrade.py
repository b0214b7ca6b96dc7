"""Regrade a class from its kept answers after a settings change: no kernel, wall time and CPU-seconds.

    .venv/bin/python benchmarks/regrade.py [N]            # a folder graded by `grade --out` (default N = 300)
    .venv/bin/python benchmarks/regrade.py [N] --course   # an nbgrader course, through `python -m autograder regrade`

The 44 sample submissions of tools/corpus.py are graded once (about 2 minutes), then copied until there are N
graded students (in a course: their autograded folders and their gradebook rows). Then, timed: a regrade with
LATENT_TOLERANCE loosened and the Ex3 point split changed (so checks change for most students), one with the
settings as shipped (the same checks change back; in a course with --feedback, so nbgrader's generate_feedback runs
for each of them), and one more (nothing changes). In a course each regrade is the CLI in a fresh process, imports
included, the instructor's edit applied in that process. Run it on a quiet machine.
"""
import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course_config as cfg  # noqa: E402
from autograder import kept, regrade  # noqa: E402
from tools import corpus, course  # noqa: E402

LOOSER = {"atol": 10.0, "rtol": 0.0}
SPLIT = {"shapes": 0.5, "boot_direction": 2.0, "z_result": 1.5}
SHIPPED = cfg.LATENT_TOLERANCE, cfg.CHECK_POINTS["ex3_arithmetic"]
SETTINGS = (("settings edited", True, []), ("settings restored, --feedback", False, ["--feedback"]),
            ("same settings again", False, []))


def apply(edited: bool) -> None:
    """The instructor's edit to course_config (or its undoing), in this process."""
    cfg.LATENT_TOLERANCE, cfg.CHECK_POINTS["ex3_arithmetic"] = (LOOSER, SPLIT) if edited else SHIPPED


def cpu(who=resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def folder(work: Path, n: int) -> None:
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(work / "subs"), "--out", str(work / "graded"),
                    "--quiet"], cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    graded = sorted(p for p in (work / "graded").iterdir() if (p / kept.FOLDER).is_dir())
    for i in range(n):
        shutil.copytree(graded[i % len(graded)], work / "class" / f"student{i:04d}")
    for label, edited, _ in SETTINGS:
        apply(edited)
        wall, used = time.perf_counter(), cpu()
        changes = regrade.regrade_folder(work / "class")
        wall, used = time.perf_counter() - wall, cpu() - used
        print(f"{label.removesuffix(', --feedback')}: {n} submissions regraded in {wall:.1f} s wall, "
              f"{used / n:.3f} CPU-s each; {len(changes)} checks changed for {len({c.student for c in changes})}")


def in_course(work: Path, n: int) -> None:
    from nbgrader.api import Gradebook

    names = sorted(p.stem for p in (work / "subs").glob("*.ipynb"))
    root = course.make_course(work / "course", {name: work / "subs" / f"{name}.ipynb" for name in names})
    subprocess.run([sys.executable, "-m", "autograder", "autograde", cfg.ASSIGNMENT_ID, "--workers", "2"], cwd=root,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True, stderr=subprocess.DEVNULL)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=cfg.COURSE_ID) as gradebook:
        for i in range(n - len(names)):  # a copy of a graded student: folders and gradebook rows
            source, student = names[i % len(names)], f"copy{i:04d}_{names[i % len(names)]}"
            for kind in ("submitted", "autograded"):
                shutil.copytree(root / kind / source / cfg.ASSIGNMENT_ID, root / kind / student / cfg.ASSIGNMENT_ID)
            gradebook.update_or_create_student(student)
            gradebook.add_submission(cfg.ASSIGNMENT_ID, student)
            pairs = zip(gradebook.find_submission(cfg.ASSIGNMENT_ID, source).notebooks,
                        gradebook.find_submission(cfg.ASSIGNMENT_ID, student).notebooks)
            for old, new in pairs:
                for old_grade, new_grade in zip(old.grades, new.grades):
                    new_grade.auto_score = old_grade.auto_score
                for old_comment, new_comment in zip(old.comments, new.comments):
                    new_comment.auto_comment = old_comment.auto_comment
            gradebook.db.commit()
    for label, edited, options in SETTINGS:
        program = (f"import sys; from benchmarks import regrade; regrade.apply({edited}); from autograder import cli; "
                   "sys.exit(cli.main(sys.argv[1:]))")
        wall, used = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-c", program, "regrade", cfg.ASSIGNMENT_ID, *options], cwd=root,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              check=True)
        wall, used = time.perf_counter() - wall, cpu(resource.RUSAGE_CHILDREN) - used
        print(f"{label}: {n} students, `regrade` in {wall:.1f} s wall ({used / n:.3f} CPU-s each); "
              f"{done.stderr.strip().splitlines()[-1]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=300)
    parser.add_argument("--course", action="store_true", help="an nbgrader course, through the CLI")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="latent_lab_regrade_bench_"))
    corpus.write(work / "subs", list(corpus.SUBMISSIONS))
    (in_course if args.course else folder)(work, args.n)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
