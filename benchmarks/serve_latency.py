"""Time from Submit to released feedback with the grading service (`latent-lab serve`), idle and under a burst.

    .venv/bin/python benchmarks/serve_latency.py [--workers N]     # as root (its students are Unix users)

Idle: 10 submissions, one at a time, each after the last one's feedback was released. Burst: 100 submissions from
20 students within about two seconds, one student submitting 30 times first; the figure is each student's newest
submission, from the moment it appeared in the exchange (its ctime) to its feedback's release. The service runs
with course_config's settings (FEEDBACK_ON_SUBMIT "full": generate_feedback's whole page). Run on a quiet machine.
"""
import argparse
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.users import ensure_user, remove_user  # noqa: E402
from tools import corpus, exchange_site  # noqa: E402
from tools.exchange_site import journal, released, submit  # noqa: E402

STUDENTS = [f"lltest-b{i:02d}" for i in range(20)]
SAMPLES = ["passes_all", "one_mistake_per_exercise", "ex4_upside_down"]


def wait_until(test, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            raise SystemExit(f"error: not done within {seconds} s")
        time.sleep(0.2)


def percentiles(values: list) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):5.1f} s   95th percentile {p95:5.1f} s   (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("error: run as root: the students are Unix users")
    for user in STUDENTS:
        ensure_user(user)
    site = exchange_site.make_site(Path(tempfile.mkdtemp(prefix="latent_lab_bench_", dir="/tmp")))
    corpus.write(site["samples"], SAMPLES)
    service = exchange_site.serve(site, "--workers", str(args.workers))
    try:
        log = site["base"] / "service.log"
        wait_until(lambda: log.exists() and "serving" in log.read_text(), 300)
        time.sleep(5)
        idle = []
        for i in range(10):  # idle: one at a time
            entry = submit(site, STUDENTS[i], SAMPLES[i % len(SAMPLES)]).name
            wait_until(lambda: entry in released(site), 300)
            idle += [e["latency"] for e in journal(site) if e["event"] == "released" and e["entry"] == entry]
        rng = random.Random(1)
        plan = [(STUDENTS[0], SAMPLES[i % 2]) for i in range(30)]
        rest = [(s, rng.choice(SAMPLES)) for s in STUDENTS[1:] for _ in range(3)]
        rest += [(rng.choice(STUDENTS[1:]), rng.choice(SAMPLES)) for _ in range(100 - 30 - len(rest))]
        rng.shuffle(rest)
        newest = {}
        started = time.monotonic()
        for student, sample in plan + rest:
            newest[student] = submit(site, student, sample).name
        submitted_in = time.monotonic() - started
        wait_until(lambda: set(newest.values()) <= released(site), 1800)
        events = journal(site)
        latency = {e["entry"]: e["latency"] for e in events if e["event"] == "released"}
        burst = [latency[entry] for entry in newest.values()]
        flooder = latency[newest[STUDENTS[0]]]
        gradings = len([e for e in events if e["event"] == "graded"]) - 10
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
        shutil.rmtree(site["base"], ignore_errors=True)
        for user in STUDENTS:
            remove_user(user)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.python_version()}; service with {args.workers} workers")
    print(f"Idle service, 10 submissions one at a time:  {percentiles(idle)}")
    print(f"Burst of 100 from 20 students in {submitted_in:.1f} s:  {percentiles(burst)}   "
          f"(each student's newest; {gradings} gradings; the student who submitted 30 times: {flooder:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
