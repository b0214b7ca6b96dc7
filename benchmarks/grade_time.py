"""Where grading time goes, per submission: kernel start, imports, data and model, the other cells, the checks.

    .venv/bin/python benchmarks/grade_time.py [--no-sandbox] [NOTEBOOK ...]   # default: passes_all 3 times

The first submission in a process also pays for the reference answers (loaded from the cache in .cache/ when
present) and the grader's own imports; later ones do not.
"""
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from student_notebook import seconds  # noqa: E402

from autograder.grade_files import grade_file  # noqa: E402
from tools import corpus  # noqa: E402

DEFAULT = Path(tempfile.mkdtemp()) / "passes_all.ipynb"  # the full-marks sample, written at start


def main() -> int:
    args = sys.argv[1:]
    sandbox = "none" if "--no-sandbox" in args else None
    paths = [Path(p) for p in args if p != "--no-sandbox"]
    if not paths:
        corpus.write(DEFAULT.parent, ["passes_all"])
        paths = [DEFAULT] * 3
    out = Path(tempfile.mkdtemp())
    print(f"sandbox: {sandbox or 'bwrap'}")
    print(f"{'submission':28s} {'total':>6s} {'kernel start':>13s} {'imports':>8s} {'data+model':>11s} "
          f"{'other cells':>12s} {'checks':>7s}")
    for path in paths:
        started = time.perf_counter()
        submission = grade_file(path, out, sandbox=sandbox)
        total = time.perf_counter() - started
        cells = {c.get("id"): seconds(c) for c in nbformat.read(out / path.stem / path.name, 4).cells
                 if c.cell_type == "code"}
        imports, data = cells.get("setup", 0.0), cells.get("load-model", 0.0)
        other = sum(cells.values()) - imports - data
        kernel_start = submission.seconds["execute"] - sum(cells.values())
        print(f"{path.name:28s} {total:6.1f} {kernel_start:13.1f} {imports:8.1f} {data:11.1f} {other:12.1f} "
              f"{submission.seconds['checks']:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
