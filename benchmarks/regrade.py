"""Regrade a class from its kept answers after a tolerance change: no kernel, wall time and CPU-seconds.

    .venv/bin/python benchmarks/regrade.py [N]    # N submissions (default 300), cycled from the 44 of tools/corpus.py

Grades the 44 sample submissions once with `grade --out` (about 2 minutes), copies their graded folders until there
are N, then times `regrade` of the folder with LATENT_TOLERANCE loosened (so some checks change) and again with
the settings restored (the same checks change back), and once more (nothing changes). Run it on a quiet machine.
"""
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
from tools import corpus  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(n: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="latent_lab_regrade_bench_"))
    corpus.write(work / "subs", list(corpus.SUBMISSIONS))
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(work / "subs"), "--out", str(work / "graded"),
                    "--quiet"], cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    graded = sorted(p for p in (work / "graded").iterdir() if (p / kept.FOLDER).is_dir())
    for i in range(n):
        shutil.copytree(graded[i % len(graded)], work / "class" / f"student{i:04d}")
    for label, tolerance in (("tolerance loosened", {"atol": 10.0, "rtol": 0.0}),
                             ("tolerance restored", cfg.LATENT_TOLERANCE), ("same settings again", cfg.LATENT_TOLERANCE)):
        cfg.LATENT_TOLERANCE = tolerance
        wall, used = time.perf_counter(), cpu()
        changes = regrade.regrade_folder(work / "class")
        wall, used = time.perf_counter() - wall, cpu() - used
        print(f"{label}: {n} submissions regraded in {wall:.1f} s wall, {used / n:.3f} CPU-s each; "
              f"{len(changes)} checks changed for {len({c.student for c in changes})} students")
    shutil.rmtree(work)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
