"""What the checks and their diagnoses cost per submission, over the whole sample corpus: CPU-seconds, slowest first.

    .venv/bin/python benchmarks/check_cost.py [--repeat 3] [--pictures]

The corpus (tools/corpus.py) is graded once through the CLI (`grade --out`, about 2 minutes); then, in this warm
process, each submission's kept answers go through the checks again (autograder/grade.py, the path a grading
process takes after the kernel), timed with the process's CPU clock; the best of --repeat runs is kept, so a
passing hiccup of the machine is not charged to a submission. Without --pictures the feedback pictures are not
drawn (they are the same for every submission of a kind, and not a diagnosis). Prints the ten slowest and the
median; run it on a quiet machine.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograder import kept  # noqa: E402
from autograder.grade import grade_answers  # noqa: E402
from autograder.reference_answers import get_reference  # noqa: E402
from tools import corpus  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pictures", action="store_true", help="also draw the feedback pictures")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="latent_lab_check_cost_"))
    corpus.write(work / "submissions")
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(work / "submissions"), "--out", str(work / "out"),
                    "--quiet", "--workers", "2"], cwd=ROOT, check=True)
    get_reference()  # the process's one-off load and machine check: not any submission's
    costs = {}
    for folder in sorted((work / "out").iterdir()):
        answers = folder / kept.FOLDER
        meta = kept.read(answers)
        if meta is None:
            continue  # not run (not a notebook): no checks to time
        seconds = []
        for _ in range(args.repeat):
            with kept.answers_for_checks(answers, meta) as ready:
                started = time.process_time()
                grade_answers(ready, pictures=args.pictures, stopped=meta.get("stopped", ""),
                              raised=meta.get("raised", {}))
                seconds.append(time.process_time() - started)
        costs[folder.name] = min(seconds)
    ranked = sorted(costs.items(), key=lambda item: -item[1])
    print(f"checks{' and pictures' if args.pictures else ''} for {len(costs)} submissions, CPU-seconds "
          f"(best of {args.repeat}): median {statistics.median(costs.values()):.3f}, slowest:")
    for name, seconds in ranked[:10]:
        print(f"  {seconds:.3f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
