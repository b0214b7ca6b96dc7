"""A class graded five ways, in one run on the same submissions: wall time, CPU-seconds per submission, scores.

    .venv/bin/python benchmarks/class_scale.py [N] [WAY ...]   # N submissions (default 24) cycled from
                                                               # tools/corpus.py; WAY: 1-5 below (default all)

1. plain `nbgrader autograde` on a course folder (the kit's pipeline, one after another)
2. the kit's CLI, serial:       python -m autograder grade DIR
3. the kit's CLI, 2 workers:    python -m autograder grade DIR --workers 2
4. Dask, 2 workers:             a `dask scheduler` and two `dask worker` processes on 127.0.0.1, then --scheduler
5. the nbgrader path, 2 workers: python -m autograder autograde ASSIGNMENT --workers 2 on a fresh course folder
CPU-seconds are the whole machine's busy time during each way (/proc/stat): run it on a quiet machine. For the
CLI ways, the time to the first result (the start: imports, boxes, workers) and the rate after it (grading alone).
Every way must give every submission the same score; the script says so and exits 1 otherwise.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course_config as cfg  # noqa: E402
from tools import corpus, course  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{BIN}:{os.environ['PATH']}"}


def machine_cpu() -> float:
    """CPU-seconds the whole machine has been busy (all cores, /proc/stat): kernels in sandboxes are reaped by
    the sandbox's own init, so their time never reaches this process's rusage. Run the benchmark on a quiet
    machine."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


ARRIVALS = []  # when each graded submission of the CLI way running now was written (seconds since it started)


def timed(run):
    ARRIVALS.clear()
    wall, cpu = time.perf_counter(), machine_cpu()
    scores = run()
    return time.perf_counter() - wall, machine_cpu() - cpu, scores


def cli(folder: Path, *options) -> dict:
    """Grade with the CLI, writing each result into an --out folder as it comes: ARRIVALS gets their times."""
    label = re.sub(r"\W+", "_", "_".join(o.strip("-") for o in options)) or "serial"
    out, graded = folder.parent / f"{folder.name}_{label}.json", folder.parent / f"graded_{label}"
    started = time.perf_counter()
    run = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(folder), "--quiet", "--json", str(out),
                            "--out", str(graded), *options], cwd=ROOT, env=ENV, stderr=subprocess.DEVNULL)
    seen = set()
    while run.poll() is None:  # bounded by the grading run itself
        for path in graded.glob("*/results.json"):
            if path not in seen:
                seen.add(path)
                ARRIVALS.append(time.perf_counter() - started)
        time.sleep(0.05)
    if run.returncode:
        raise subprocess.CalledProcessError(run.returncode, run.args)
    return {Path(key).stem: result["score"] for key, result in json.loads(out.read_text()).items()}


def dask(folder: Path) -> dict:
    """A TLS cluster as the README sets one up (tests/dask_cluster.py): a scheduler and two workers on 127.0.0.1."""
    from tests.dask_cluster import dask_cluster

    with dask_cluster(folder.parent / "dask") as running:
        return cli(folder, *running.options)


def nbgrader_course(work: Path, names: dict, kit_autograde: bool) -> dict:
    root = course.make_course(work / ("kit_course" if kit_autograde else "nbgrader_course"), names)
    if kit_autograde:
        subprocess.run([sys.executable, "-m", "autograder", "autograde", cfg.ASSIGNMENT_ID, "--workers", "2"],
                       cwd=root, env=ENV, check=True, stderr=subprocess.DEVNULL)
    else:
        course.nbgrader(root, "autograde", cfg.ASSIGNMENT_ID)
    return {student: sum(score or 0 for cell, (score, _) in grades.items() if cell.endswith("_tests"))
            for student, grades in course.scores_by_part(root).items()}


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    chosen = [int(way) for way in sys.argv[2:]] or [1, 2, 3, 4, 5]
    work = Path(tempfile.mkdtemp(prefix="latent_lab_bench_"))
    cases = [name for name in corpus.SUBMISSIONS if name != "kernel_dies_in_ex4"]  # one run, not a 2-min stop
    folder = work / "class"
    folder.mkdir()
    names = {}
    for i in range(n):
        case = cases[i % len(cases)]
        corpus.write(work / "corpus", [case])
        shutil.copy(work / "corpus" / f"{case}.ipynb", folder / f"s{i:03d}_{case}.ipynb")
        names[f"s{i:03d}_{case}"] = folder / f"s{i:03d}_{case}.ipynb"
    ways = {
        "nbgrader autograde (serial)": lambda: nbgrader_course(work, names, kit_autograde=False),
        "kit CLI, serial": lambda: cli(folder),
        "kit CLI, --workers 2": lambda: cli(folder, "--workers", "2"),
        "kit CLI, Dask scheduler + 2 workers": lambda: dask(folder),
        "kit autograde (nbgrader path), --workers 2": lambda: nbgrader_course(work, names, kit_autograde=True),
    }
    ways = {way: run for i, (way, run) in enumerate(ways.items(), 1) if i in chosen}
    print(f"{n} submissions, {os.cpu_count()} CPU cores, sandbox {cfg.SANDBOX}, warm box {cfg.SANDBOX_WARM}")
    print(f"{'way':45s} {'wall s':>8s} {'per sub s':>10s} {'CPU s/sub':>10s} {'subs/min':>9s} "
          f"{'1st result s':>13s} {'subs/min after':>15s}")
    results = {}
    for way, run in ways.items():
        wall, cpu, scores = timed(run)
        results[way] = scores
        steady = ""  # the rate once the first result is in: grading, without the start
        if len(ARRIVALS) > 1:
            steady = f"{ARRIVALS[0]:13.1f} {60 * (len(ARRIVALS) - 1) / (ARRIVALS[-1] - ARRIVALS[0]):15.1f}"
        print(f"{way:45s} {wall:8.1f} {wall / n:10.2f} {cpu / n:10.2f} {60 * n / wall:9.1f} {steady}", flush=True)
    reference = next(iter(results.values()))
    same = all(scores == reference for scores in results.values())
    print(f"scores identical across the {len(ways)} ways: {'yes' if same else 'NO'}")
    if not same:
        for way, scores in results.items():
            diff = {k: (v, reference.get(k)) for k, v in scores.items() if reference.get(k) != v}
            if diff:
                print(f"  {way}: {diff}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
