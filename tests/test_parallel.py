"""Do local workers and a real Dask cluster grade exactly as the serial run, and does a dying worker cost only its
own submission (retried once, then zero with the reason)?"""
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import cluster as kit_cluster, parallel
from tests import dask_cluster as cluster
from tools import corpus

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # three clusters and 13 gradings: about 2 minutes
CASES = ["passes_all", "one_mistake_per_exercise", "ex4_upside_down", "untouched_release", "ex5_off_target"]


def expected_scores():
    return {f"{name}.ipynb": sum(corpus.expected(name)["points"].values()) for name in CASES}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    corpus.write(folder, CASES)
    (folder / "not_a_notebook.ipynb").write_text("{ this is not json")
    return folder


def grade(folder, out, *options):
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--quiet", "--json", str(out),
                          *options], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return {key: result["score"] for key, result in json.loads(out.read_text()).items()}


def test_two_local_workers_grade_as_the_serial_run(submissions, tmp_path):
    scores = grade(submissions, tmp_path / "workers.json", "--workers", "2")
    assert scores == {**expected_scores(), "not_a_notebook.ipynb": 0}
    results = json.loads((tmp_path / "workers.json").read_text())
    assert "not a readable notebook" in results["not_a_notebook.ipynb"]["tests"][0]["output"]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, started from the kit's root with the
    kit's certificates."""
    with cluster.dask_cluster(tmp_path) as running:
        yield running


def test_a_dask_cluster_grades_as_the_serial_run(submissions, tmp_path, dask_cluster):
    assert dask_cluster.address.startswith("tls://127.0.0.1:")
    scores = grade(submissions, tmp_path / "dask.json", *dask_cluster.options)
    assert scores == {**expected_scores(), "not_a_notebook.ipynb": 0}


def dies_on_the_first(submission, sandbox, box_pool=None):
    """A stand-in task: the worker grading `passes_all` dies (as one killed for memory would)."""
    if submission.student == "passes_all.ipynb":
        os._exit(1)
    return parallel.grade_on_worker(submission, sandbox, box_pool)


def test_a_worker_that_dies_twice_costs_only_that_submission(submissions, monkeypatch):
    monkeypatch.setattr(parallel, "grade_on_worker", dies_on_the_first)
    batch = [parallel.read(submissions / f"{name}.ipynb", f"{name}.ipynb") for name in CASES[:3]]
    graded = {s.student: g for s, g in parallel.grade_in_parallel(batch, "bwrap", workers=2, progress=False)}
    assert graded["passes_all.ipynb"].score == 0
    assert "worker died twice" in graded["passes_all.ipynb"].problem
    assert all("died twice" in r.message for r in graded["passes_all.ipynb"].grades["ex3_arithmetic"].results)
    for name in CASES[1:3]:
        assert graded[f"{name}.ipynb"].score == expected_scores()[f"{name}.ipynb"]


def answers_with_its_name(submission, sandbox, box_pool=None):
    """A stand-in task without a kernel: which submission the worker was given, after `unread` seconds."""
    time.sleep(float(submission.unread or 0))
    return submission.student


def test_a_worker_found_dead_between_submissions_is_replaced_and_charges_nobody(monkeypatch):
    monkeypatch.setattr(parallel, "grade_on_worker", answers_with_its_name)
    local = parallel.LocalWorkers(1, "none")
    try:
        local.send(parallel.Submission("first", "a.ipynb"))
        assert local.results() == [(parallel.Submission("first", "a.ipynb"), 0, ("graded", "first"))]
        idle = local.idle[0]
        os.kill(idle.process.pid, signal.SIGKILL)  # the OOM killer, between two submissions
        select.select([idle.pidfd], [], [], 30)
        local.send(parallel.Submission("second", "b.ipynb"))  # to a fresh worker, not into a closed pipe
        assert local.results() == [(parallel.Submission("second", "b.ipynb"), 0, ("graded", "second"))]
        assert local.idle[0] is not idle
    finally:
        local.close()
    assert not idle.process.is_alive()


def ended(pid: int, seconds: float) -> bool:
    """Whether the process is gone within `seconds` (bounded polling)."""
    for _ in range(int(seconds * 10)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_fork_server_dying_costs_no_submission(monkeypatch):
    """The workers' fork server ending closes the pipes multiprocessing watches; the workers themselves go on."""
    from multiprocessing import forkserver

    monkeypatch.setattr(parallel, "grade_on_worker", answers_with_its_name)
    local = parallel.LocalWorkers(1, "none")
    try:
        local.send(parallel.Submission("slow", "a.ipynb", unread="2"))  # two seconds of "grading"
        time.sleep(0.5)
        os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)
        assert local.results() == [(parallel.Submission("slow", "a.ipynb", unread="2"), 0, ("graded", "slow"))]
        pid = local.idle[0].process.pid
    finally:
        local.close()
    assert ended(pid, 5), f"worker {pid} outlived close()"  # reaped by init now that its parent is gone


def test_submissions_are_read_only_a_few_ahead_of_the_workers():
    """A class of big notebooks never sits in memory at once: each is read when a worker is about to need it."""
    read = []

    def unreadable(n):  # stand-ins graded without a kernel: zero, with the reason, in milliseconds
        for i in range(n):
            read.append(i)
            yield parallel.Submission(f"student{i}", "latent_space.ipynb", unread="it is a link (test)")

    results = parallel.grade_in_parallel(unreadable(20), "bwrap", workers=2, progress=False, total=20)
    first, graded = next(results)
    assert len(read) <= 2 * parallel.IN_FLIGHT_PER_WORKER + 1
    graded_all = [first, *(submission for submission, _ in results)]
    assert sorted(s.student for s in graded_all) == sorted(f"student{i}" for i in range(20))
    assert graded.score == 0 and "it is a link (test)" in graded.problem


def test_a_batch_stopped_with_sigterm_leaves_no_scratch_gradebook_or_box(submissions, tmp_path):
    """An admin's `kill` of the grader mid-batch: workers and boxes end, and their scratch gradebooks (student ids and
    scores) and box folders are removed, not left in /tmp for the next run's sweep."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    warm_before = set(Path("/var/tmp").glob("latent_lab_warm_*_*"))  # other tests' workers' boxes, not this batch's
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(submissions), "--workers", "2",
                               "--quiet", "--json", str(tmp_path / "r.json")], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "stderr", "w"), env={**os.environ, "TMPDIR": str(tmpdir)})
    for _ in range(1200):  # bounded: both workers have a scratch gradebook within seconds
        if len(list(tmpdir.glob("latent_lab_gradebook_*"))) >= 2:
            break
        time.sleep(0.1)
    assert list(tmpdir.glob("latent_lab_gradebook_*")), (tmp_path / "stderr").read_text()[-3000:]
    time.sleep(1)
    grader.send_signal(signal.SIGTERM)
    assert grader.wait(60) != 0
    assert sorted(p.name for p in tmpdir.iterdir()) == []
    left = [p for p in set(Path("/var/tmp").glob("latent_lab_warm_*_*")) - warm_before
            if not Path(f"/proc/{p.name.split('_')[3]}").exists()]
    assert left == []


def test_a_scheduler_without_the_kit_stops_the_batch_with_the_fix(submissions, tmp_path):
    """The scheduler unpickles the kit's tasks: from an environment without the kit (here: one whose `autograder`
    cannot be imported) it cannot, and the CLI says what to do (exit 3), instead of a traceback."""
    elsewhere = tmp_path / "another_environment" / "autograder"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text('raise ImportError("no Latent Lab kit in this environment")\n')
    with cluster.dask_cluster(tmp_path, scheduler_env={"PYTHONPATH": str(elsewhere.parent)}) as running:
        run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--quiet", "--json",
                              str(tmp_path / "r.json"), *running.options], cwd=ROOT, capture_output=True,
                             text=True, timeout=600)
    assert run.returncode == 3, run.stderr[-3000:]
    assert "where the kit is installed" in run.stderr and "Traceback" not in run.stderr


def test_only_the_holder_of_the_kits_certificate_can_use_the_cluster(submissions, tmp_path, dask_cluster):
    """Another local user (a student on a shared machine) cannot connect to the scheduler without the instructor's
    key, nor with a certificate of their own; a plain-TCP scheduler is refused unless the instructor allows it;
    a key others can read is refused."""
    from distributed import Client
    from distributed.security import Security

    from autograder import cluster as kit_cluster

    ca = str(dask_cluster.certificates / kit_cluster.CA)  # a CA certificate is no secret: assume they have it
    own = kit_cluster.make_certificates(tmp_path / "students_own")
    with pytest.raises((OSError, TimeoutError)):  # a certificate of their own, which the kit's CA did not sign
        Client(dask_cluster.address, timeout="5s", security=Security(
            tls_ca_file=ca, tls_client_cert=str(own / kit_cluster.CERT), tls_client_key=str(own / kit_cluster.KEY),
            require_encryption=True))
    host, port = dask_cluster.address.removeprefix("tls://").split(":")
    context = ssl.create_default_context(cafile=ca)  # no certificate at all: the scheduler talks to nobody
    context.check_hostname = False
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):  # refused (an alert or a reset), never a wait
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"\0" * 8)
                tls.recv(1)
    plain = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--scheduler",
                            "tcp://127.0.0.1:8786"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2 and "not a TLS address" in plain.stderr
    (dask_cluster.certificates / "instructor-key.pem").chmod(0o644)
    try:
        shared = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), *dask_cluster.options],
                                cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        (dask_cluster.certificates / "instructor-key.pem").chmod(0o600)
    assert shared.returncode == 2 and "can be read by other users" in shared.stderr


def test_the_readmes_cluster_recipe_is_the_one_tested():
    """The tests start their cluster as the README says (tests/dask_cluster.py): mutual TLS, and no web dashboard,
    which would show task keys, logs and the grading code's call stacks to anyone on the network, without a login."""
    readme = (ROOT / "docs" / "instructors.md").read_text()
    commands = [line for line in readme.splitlines() if re.search(r"bin/dask (scheduler|worker) ", line)]
    assert len(commands) == 2
    assert all("$NO_HTTP" in line and "$CERTS" in line for line in commands), commands
    assert "--protocol tls" in commands[0] and "tls://" in commands[1]
    assert f'NO_HTTP="{" ".join(kit_cluster.NO_HTTP_FLAGS)}"' in readme
    assert "export " + " ".join(f"{k}='{v}'" for k, v in kit_cluster.NO_HTTP.items()) in readme


def test_a_cluster_started_as_the_readme_says_serves_no_http(tmp_path):
    """No dashboard, no /info pages with logs and call stacks, nothing on another interface: a scheduler started
    with the kit's flags and settings answers no HTTP request, even on loopback."""
    import urllib.error
    import urllib.request

    port = _free_port()
    env = {**os.environ, **kit_cluster.NO_HTTP, "PYTHONPATH": str(ROOT)}
    flags = [f if f != "127.0.0.1:0" else f"127.0.0.1:{port}" for f in kit_cluster.NO_HTTP_FLAGS]
    scheduler = subprocess.Popen([Path(sys.executable).parent / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                  "0", *flags], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        codes = {}
        for path in ("/info/main/logs.html", "/info/main/workers.html", "/metrics", "/status", "/json/identity.json"):
            for _ in range(120):  # bounded: the scheduler listens within seconds
                try:
                    codes[path] = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status
                    break
                except urllib.error.HTTPError as err:
                    codes[path] = err.code
                    break
                except OSError:
                    time.sleep(0.5)
        assert codes == dict.fromkeys(codes, 404) and len(codes) == 5, codes
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_worker_ends_the_moment_its_client_is_killed():
    """A service killed with SIGKILL leaves no worker grading for nobody (nor saying so in the log)."""
    client = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom autograder import parallel\nfrom tests.test_parallel import answers_with_its_name\n"
        "parallel.grade_on_worker = answers_with_its_name\nlocal = parallel.LocalWorkers(1, 'none')\n"
        "worker = local.idle[0].process.pid\nlocal.send(parallel.Submission('slow', 'a.ipynb', unread='60'))\n"
        "print(worker, flush=True)\ntime.sleep(120)\n")], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        worker = int(client.stdout.readline())
        os.kill(worker, 0)  # it is there
        client.send_signal(signal.SIGKILL)
        client.wait(30)
        assert ended(worker, 10), f"worker {worker} outlived its client"
    finally:
        client.kill()
        client.wait()
    assert "Traceback" not in client.stderr.read()
