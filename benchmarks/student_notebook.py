"""How long a student waits: the release notebook, solutions filled in, run top to bottom as a student runs it
(not under grading: the full 10,000-point t-SNE and every plot). Target: at most 45 s on 2 CPU cores.

    .venv/bin/python benchmarks/student_notebook.py [NOTEBOOK]

Prints each cell's wall time and the total, kernel start included.
"""
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course_config as cfg  # noqa: E402

DEFAULT = Path(tempfile.mkdtemp()) / "passes_all.ipynb"  # the full-marks sample, written at start


def seconds(cell):
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def main() -> int:
    from tools import corpus

    notebook = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if notebook == DEFAULT:
        corpus.write(DEFAULT.parent, ["passes_all"])
    nb = nbformat.read(notebook, 4)
    workdir = Path(tempfile.mkdtemp())
    for item in (cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID).iterdir():  # vae.pt and the contract
        if item.suffix != ".ipynb":
            shutil.copy(item, workdir / item.name)
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ["LATENT_LAB_DATA"] = str(cfg.DATA_DIR)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(workdir)}}).execute()
    total = time.perf_counter() - started
    for cell in nb.cells:
        if cell.cell_type == "code" and seconds(cell) >= 0.05:
            print(f"{cell.get('id', '?'):24s} {seconds(cell):6.1f} s")
    print(f"{'total (kernel start included)':24s} {total:6.1f} s   on {os.cpu_count()} cores")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
