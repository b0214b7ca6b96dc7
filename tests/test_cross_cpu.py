"""Does every machine give the same grade? The sample corpus, borderline Ex5 experiments and the Ex5 benchmark graded
in processes that compute differently from the kit's pinned AVX2 kernels (reference/cpu_kernels.py): an AVX-512
machine's own kernels, torch's plain `default` kernels, oneDNN off, two threads instead of one, and a Dask cluster
whose two workers differ. Every check of every submission scores the same, and the README's Ex5 table is what each
gives. A worker that computes the reference otherwise never takes work.

The grading kernel in the sandbox gets the grader's kernel variables; oneDNN off reaches the grader's processes only
(no environment variable turns it off in the kernel).
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from reference import cpu_kernels, lesson
from tests.dask_cluster import dask_cluster
from tools import corpus

pytestmark = pytest.mark.slow  # five gradings of ~50 notebooks, a Dask cluster, five benchmark runs: ~6 min
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import ex5_judge as benchmark  # noqa: E402

BORDERLINE = 8  # Ex5 experiments whose on-target share sits nearest their bar, graded as notebooks
# Each way of computing: variables added to the environment, and Python run first in every grader process
# (sitecustomize: the CLI, the workers' fork server and workers).
NUDGE_THE_GRADERS_MODEL = """
import reference.judge as judge
_build = judge.Float64VAE.__init__
def _nudged(self, vae):  # as a BLAS that computes otherwise in the last digits would
    _build(self, vae)
    import torch
    with torch.no_grad():
        self.model.decoder_fc.bias.add_(1e-6)
judge.Float64VAE.__init__ = _nudged
"""
UNPINNED_AVX512 = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "ALL", "MKL_CBWR": "AUTO"}
MACHINES = {
    "pinned": ({}, ""),  # course_config.CPU_KERNELS: AVX2 kernels, as an AVX2 machine computes natively
    "unpinned AVX-512": (UNPINNED_AVX512, ""),  # what an AVX-512 machine computes with CPU_KERNELS = "native"
    "default kernels": ({"ATEN_CPU_CAPABILITY": "default"}, ""),  # torch's plain C++ kernels: no AVX at all
    "oneDNN off": ({}, "import torch\ntorch.backends.mkldnn.enabled = False\n"),
    "two threads": ({}, "import course_config\ncourse_config.GRADING_THREADS = 2\n"),
}


def environment(folder: Path, name: str, extra: dict, first: str) -> dict:
    """The environment of a grader started as `name`: its variables, and `first` in a sitecustomize that also
    records each process it ran in (so the test knows it reached the workers)."""
    site = folder / f"site-{name.replace(' ', '-')}"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(first + textwrap.dedent(f"""
        import os
        with open({str(site / 'ran_in')!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
        """))
    env = {k: v for k, v in os.environ.items() if k not in cpu_kernels.VARIABLES}  # each grader pins its own
    return {**env, **extra, "PYTHONPATH": f"{site}:{ROOT}"}


def processes_reached(folder: Path, name: str) -> int:
    ran_in = folder / f"site-{name.replace(' ', '-')}" / "ran_in"
    return len(set(ran_in.read_text().split())) if ran_in.exists() else 0


def grade(folder: Path, submissions: Path, env: dict, *options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--quiet", "--json",
                           str(folder / "results.json"), *options], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)


def scores(results_file: Path) -> dict:
    """{notebook: {check: points}}: what must not depend on the machine."""
    return {name: {test["name"]: test["score"] for test in result["tests"]}
            for name, result in json.loads(results_file.read_text()).items()}


def run_benchmark(folder: Path, env: dict) -> dict:
    out = folder / "ex5_judge.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ex5_judge.py"), "--json", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text())


def borderline_notebook(experiment) -> nbformat.NotebookNode:
    """passes_all with its Ex5 cell replaced by the experiment's codes, pasted as numbers."""
    nb = corpus.notebook("passes_all")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex5_experiment")
    techniques = ",\n".join(f"    {name!r}: np.array({codes.astype(np.float32).tolist()!r}, dtype=np.float32)"
                            for name, codes in experiment.latents.items())
    cell.source = (f"# {experiment.recipe}\nimport numpy as np\nTARGET_CATEGORY = {experiment.target}\n"
                   f"experiment_latents = {{\n{techniques}\n}}\n")
    return nb


@pytest.fixture(scope="module")
def pinned_benchmark(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pinned_benchmark")
    return run_benchmark(folder, environment(folder, "pinned", {}, ""))


@pytest.fixture(scope="module")
def submissions(tmp_path_factory, pinned_benchmark, ref_and_test_set):
    """The whole sample corpus, plus the held-out Ex5 experiments nearest their bar as notebooks."""
    folder = tmp_path_factory.mktemp("cross_cpu_submissions")
    corpus.write(folder)
    reference, test_set = ref_and_test_set
    experiments = benchmark.build("held-out", reference, test_set)
    nearest = sorted(range(len(experiments)), key=lambda i: abs(pinned_benchmark["experiments"][i]["margin"]))
    for i in nearest[:BORDERLINE]:
        nbformat.write(borderline_notebook(experiments[i]), folder / f"ex5_borderline_{i}.ipynb")
    return folder, {f"ex5_borderline_{i}.ipynb": pinned_benchmark["experiments"][i] for i in nearest[:BORDERLINE]}


@pytest.fixture(scope="module")
def ref_and_test_set(test_set):
    from autograder.reference_answers import get_reference

    return get_reference(), test_set


@pytest.fixture(scope="module")
def pinned_scores(tmp_path_factory, submissions):
    folder = tmp_path_factory.mktemp("pinned")
    run = grade(folder, submissions[0], environment(folder, "pinned", {}, ""), "--workers", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return scores(folder / "results.json")


def test_borderline_experiments_sit_at_their_bar_and_grade_as_the_benchmark_judged_them(submissions, pinned_scores):
    folder, borderline = submissions
    for name, judged in borderline.items():
        assert abs(judged["margin"]) < 0.05, "not borderline: the share is far from the bar"
        on_target = pinned_scores[name]["ex5_experiment: on_target"]
        assert (on_target > 0) == judged["passed"], name
    assert {judged["passed"] for judged in borderline.values()} == {True, False}  # both sides of a bar
    assert sum(abs(judged["margin"]) <= 0.01 for judged in borderline.values()) >= 2


@pytest.mark.parametrize("machine", [m for m in MACHINES if m != "pinned"])
def test_every_check_scores_the_same_whatever_the_cpu_computes_with(machine, tmp_path, submissions, pinned_scores):
    extra, first = MACHINES[machine]
    run = grade(tmp_path, submissions[0], environment(tmp_path, machine, extra, first), "--workers", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    assert processes_reached(tmp_path, machine) >= 3  # the CLI, the fork server and its workers
    assert len(pinned_scores) == len(corpus.SUBMISSIONS) + BORDERLINE
    assert scores(tmp_path / "results.json") == pinned_scores


@pytest.mark.parametrize("machine", list(MACHINES))
def test_the_ex5_benchmark_judges_alike_and_gives_the_readme_table(machine, tmp_path, pinned_benchmark):
    extra, first = MACHINES[machine]
    result = pinned_benchmark if machine == "pinned" else run_benchmark(
        tmp_path, environment(tmp_path, machine, extra, first))
    verdicts = [(e["passed"], e["hits"], e["distinct"]) for e in result["experiments"]]
    assert verdicts == [(e["passed"], e["hits"], e["distinct"]) for e in pinned_benchmark["experiments"]]
    assert result["table"] in (ROOT / "docs" / "grading.md").read_text()


def test_a_dask_cluster_of_two_kernel_sets_grades_as_the_pinned_run(tmp_path, submissions, pinned_scores):
    with dask_cluster(tmp_path, [{"ATEN_CPU_CAPABILITY": "default"}, UNPINNED_AVX512]) as running:
        run = grade(tmp_path, submissions[0], environment(tmp_path, "dask", {}, ""), *running.options)
    assert run.returncode == 0, run.stderr[-3000:]
    assert scores(tmp_path / "results.json") == pinned_scores


def test_a_local_worker_that_computes_the_reference_otherwise_takes_no_work(tmp_path):
    submissions = tmp_path / "class"
    corpus.write(submissions, ["passes_all", "ex4_upside_down"])
    run = grade(tmp_path, submissions, environment(tmp_path, "nudged", {}, NUDGE_THE_GRADERS_MODEL), "--workers", "2")
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-2000:]
    assert "computes the reference answers differently" in run.stderr and "probe.reencoded" in run.stderr
    assert not (tmp_path / "results.json").exists() or json.loads((tmp_path / "results.json").read_text()) == {}


def test_a_dask_worker_that_computes_the_reference_otherwise_stops_the_batch_before_grading(tmp_path):
    submissions = tmp_path / "class"
    corpus.write(submissions, ["passes_all", "ex4_upside_down"])
    nudged = environment(tmp_path, "nudged", {}, NUDGE_THE_GRADERS_MODEL)
    with dask_cluster(tmp_path, [{}, {"PYTHONPATH": nudged["PYTHONPATH"]}]) as running:
        run = grade(tmp_path, submissions, environment(tmp_path, "client", {}, ""), *running.options)
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Dask worker tls://127.0.0.1:" in run.stderr and "computes the reference answers differently" in run.stderr
    assert not (tmp_path / "results.json").exists() or json.loads((tmp_path / "results.json").read_text()) == {}


def test_every_result_records_the_reference_it_was_graded_against(tmp_path, submissions):
    run = grade(tmp_path, submissions[0] / "passes_all.ipynb", environment(tmp_path, "one", {}, ""),
                "--out", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "results.json").read_text())["passes_all.ipynb"]
    assert result["extra_data"]["reference_sha256"] == lesson.REFERENCE_SHA256
    assert result["extra_data"]["cpu_kernels"] == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2",
                                                   "ONEDNN_MAX_CPU_ISA": "AVX2"}
    kept = json.loads((tmp_path / "out" / "passes_all" / "latent_lab_answers" / "graded.json").read_text())
    assert kept["reference_sha256"] == lesson.REFERENCE_SHA256
