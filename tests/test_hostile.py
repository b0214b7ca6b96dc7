"""Can a hostile submission gain points, change anyone else's grade, touch the kit or the course, or stop a batch?

The battery (tests/hostile.py, one notebook per attack, honest students interleaved) is graded once through the
CLI and once through `nbgrader autograde`, with a loopback listener open and a secret in the grader's environment.
"""
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import nbformat
import pytest

import course_config as cfg
from tests import hostile
from tools import corpus
from tests.dask_cluster import dask_cluster
from tools.course import make_course, nbgrader, scores_by_part

KIT = cfg.COURSE_ROOT
EXPECTED = {name: corpus.expected(name) for name in hostile.HONEST}
SECRET = "latent-lab-grader-secret-7f3a9c"

pytestmark = pytest.mark.slow


def honest_total(name):
    return sum(EXPECTED[name]["points"].values())


def kit_state():
    """Tracked files' hashes (the shipped reference answers among them) and the untracked file list: anything an attack
    could change."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=KIT, capture_output=True, check=True).stdout.split(b"\0")
    hashes = {p: hashlib.sha256((KIT / p.decode()).read_bytes()).hexdigest() for p in tracked if p}
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=KIT, capture_output=True,
                            text=True, check=True).stdout
    return hashes, status


def folder_state(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def leftover_processes(tmpdir):
    """Processes of boxes made under tmpdir (each test gives the grader its own TMPDIR)."""
    found = subprocess.run(["pgrep", "-af", f"{tmpdir}/latent_lab_box_"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever reaches it; stops by itself."""

    def __init__(self, seconds=1800):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(1.0)
        self.port = self.server.getsockname()[1]
        self.received = []
        self.deadline = time.monotonic() + seconds
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while time.monotonic() < self.deadline:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            conn.settimeout(1.0)
            try:
                self.received.append(conn.recv(4096) or b"(connected)")
            except OSError:
                self.received.append(b"(connected)")
            conn.close()

    def close(self):
        self.deadline = 0
        self.thread.join(5)
        self.server.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def before():
    return kit_state()


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, listener, before):
    folder = tmp_path_factory.mktemp("battery")
    kinds = hostile.write_battery(folder / "submissions", listener.port)
    out = folder / "graded"
    tmpdir = folder / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "LATENT_LAB_TEST_SECRET": SECRET, "TMPDIR": str(tmpdir)}
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder / "submissions"), "--json",
                          str(out / "all.json"), "--out", str(out)], cwd=KIT, env=env, capture_output=True,
                         text=True, timeout=2400)
    time.sleep(2)  # a daemon, had it escaped, would show itself within this
    return {"run": run, "kinds": kinds, "out": out, "results": json.loads((out / "all.json").read_text()),
            "tmpdir": tmpdir}


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory, listener):
    """The same battery on a Dask cluster with the kit's certificates (two workers, as the README sets one up)."""
    folder = tmp_path_factory.mktemp("dask_battery")
    kinds = hostile.write_battery(folder / "submissions", listener.port)
    with dask_cluster(folder / "cluster") as running:
        run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder / "submissions"), "--quiet",
                              "--json", str(folder / "all.json"), *running.options], cwd=KIT, capture_output=True,
                             text=True, timeout=2400, env={**os.environ, "LATENT_LAB_TEST_SECRET": SECRET})
    return {"run": run, "kinds": kinds, "results": json.loads((folder / "all.json").read_text())}


@pytest.mark.parametrize("path", ["cli_run", "dask_run"])
def test_every_submission_is_graded(path, request):
    graded = request.getfixturevalue(path)
    assert graded["run"].returncode == 0, graded["run"].stderr[-3000:]
    assert sorted(name.removesuffix(".ipynb") for name in graded["results"]) == sorted(graded["kinds"])


@pytest.mark.parametrize("path", ["cli_run", "dask_run"])
def test_no_attack_gains_a_point_and_every_honest_neighbour_keeps_its_solo_grade(path, request):
    graded = request.getfixturevalue(path)
    for stem, kind in graded["kinds"].items():
        score = graded["results"][f"{stem}.ipynb"]["score"]
        if kind == "attack":
            assert score == 0, (stem, graded["results"][f"{stem}.ipynb"])
        else:
            assert score == pytest.approx(honest_total(hostile.honest_name(stem))), stem


def test_refused_submissions_say_why(cli_run):
    results = cli_run["results"]
    assert "symbolic link" in results["90_symlink_to_source.ipynb"]["output"]
    assert "symbolic link" in results["91_symlink_to_passwd.ipynb"]["output"]
    assert "not a regular file" in results["92_fifo.ipynb"]["output"]
    assert "not a readable notebook" in results["93_nested_json.ipynb"]["output"]
    assert "not a readable notebook (NotebookValidationError)" in results["96_unknown_cell_type.ipynb"]["output"]
    for stem in ("94_nbgrader_metadata_a_string", "95_solution_cell_without_grade_id"):  # graded as what they are
        assert "Fill in" in json.dumps(results[f"{stem}.ipynb"]) or "TODO" in json.dumps(results[f"{stem}.ipynb"])
    assert "root:" not in json.dumps(results)  # the link's target is never read


def test_stopped_runs_name_the_cause(cli_run):
    timeout = cli_run["results"][f"{_stem(cli_run, 'sigint_ignoring_loop')}.ipynb"]["tests"][0]["output"]
    assert f"limit of {cfg.CELL_TIMEOUT_SECONDS} s per cell" in timeout
    killed = cli_run["results"][f"{_stem(cli_run, 'kill_and_stop_the_grader')}.ipynb"]
    assert killed["max_score"] == corpus.TOTAL  # graded, whatever the kernel did to itself


def test_the_kit_is_unchanged(cli_run, before):
    after = kit_state()
    assert after[1] == before[1], "files appeared in or vanished from the kit"
    assert after[0] == before[0], "a tracked file of the kit changed"


def test_nothing_outlives_the_batch_and_nothing_was_planted(cli_run):
    assert leftover_processes(cli_run["tmpdir"]) == []
    assert list(cli_run["tmpdir"].glob("latent_lab_box_*")) == []  # every box's folder is gone
    for planted in ("/tmp/latent_lab_daemon_was_here", "/tmp/torchvision.py", "/tmp/sitecustomize.py",
                    "/tmp/fill", "/dev/shm/fill"):
        assert not os.path.exists(planted), planted


def test_no_network_and_no_secrets_in_any_output(cli_run, listener):
    assert listener.received == []
    every_output = "".join(p.read_text(errors="replace") for p in cli_run["out"].rglob("*") if p.suffix in
                           (".ipynb", ".json"))
    assert SECRET not in every_output
    if os.access("/etc/shadow", os.R_OK):
        assert open("/etc/shadow").read().splitlines()[0] not in every_output


def test_student_html_is_sanitized(cli_run):
    graded = (cli_run["out"] / _stem(cli_run, "script_in_outputs") / f"{_stem(cli_run, 'script_in_outputs')}.ipynb")
    nb = json.loads(graded.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not any("application/javascript" in o.get("data", {}) for o in outputs)
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for text in (html, markdown):
        assert "<script" not in text and not re.search(r"<[a-zA-Z][^>]*\son\w+\s*=", text)
    assert "&lt;script&gt;" in html  # escaped, still readable by the instructor


def printed(run, attack) -> str:
    """Everything the attack's cells printed, as graded."""
    nb = json.loads((run["out"] / _stem(run, attack) / f"{_stem(run, attack)}.ipynb").read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def test_limits_held(cli_run):
    memory_and_disk = printed(cli_run, "memory_and_disk")
    assert "no 6 GB" in memory_and_disk and "stopped in ." in memory_and_disk and "wrote 2 GB" not in memory_and_disk
    forked = int(printed(cli_run, "fork_bomb").split("forked ")[1].split()[0])
    assert forked < cfg.SANDBOX_LIMITS["processes"]
    flood = (cli_run["out"] / _stem(cli_run, "flood_stdout") / f"{_stem(cli_run, 'flood_stdout')}.ipynb")
    assert flood.stat().st_size < 5 * cfg.OUTPUT_LIMIT_BYTES


def _stem(run, attack):
    return next(stem for stem in run["kinds"] if stem.endswith(attack))


# ------------------------------------------------------------------------------------------------ nbgrader
NBGRADER_ATTACKS = [a for a in hostile.ATTACKS if a != "sigint_ignoring_loop"]  # its 120 s is covered above


def test_nbgrader_batch_with_attackers_interleaved(tmp_path, listener, before, monkeypatch):
    students = {}
    battery = tmp_path / "battery"
    battery.mkdir()
    corpus_folder = tmp_path / "honest"
    corpus.write(corpus_folder, hostile.HONEST)
    for i, attack in enumerate(NBGRADER_ATTACKS):
        path = battery / f"{attack}.ipynb"
        nbformat.write(hostile.attack_notebook(attack, listener.port), path)
        students[f"s{2 * i:02d}_{attack}"] = path
        neighbour = hostile.HONEST[i % len(hostile.HONEST)]
        students[f"s{2 * i + 1:02d}_honest_{neighbour}"] = corpus_folder / f"{neighbour}.ipynb"
    course = make_course(tmp_path / "course", students)
    link = course / "submitted" / "s99_symlink_to_source" / cfg.ASSIGNMENT_ID
    link.mkdir(parents=True)
    os.symlink(course / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb", link / f"{cfg.ASSIGNMENT_ID}.ipynb")
    (link / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    garbage = course / "submitted" / "s98_nested_json" / cfg.ASSIGNMENT_ID
    garbage.mkdir(parents=True)
    (garbage / f"{cfg.ASSIGNMENT_ID}.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (garbage / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    malformed = hostile.malformed_notebooks()
    for stem, data in malformed.items():
        folder = course / "submitted" / f"s{stem}" / cfg.ASSIGNMENT_ID
        folder.mkdir(parents=True)
        (folder / f"{cfg.ASSIGNMENT_ID}.ipynb").write_bytes(data)
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    source_before, submitted_before = folder_state(course / "source"), folder_state(course / "submitted")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))  # nbgrader's boxes go here, so leftovers are ours to find

    result = nbgrader(course, "autograde", cfg.ASSIGNMENT_ID, "--force", check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    table = scores_by_part(course)
    assert sorted(table) == sorted([*students, "s98_nested_json", "s99_symlink_to_source",
                                    *(f"s{stem}" for stem in malformed)]), \
        "a student is missing from the gradebook"
    for student, parts in table.items():
        auto = {name: score for name, (score, _) in parts.items() if name.endswith("_tests")}
        assert len(auto) == len(cfg.CHECK_POINTS) and None not in auto.values(), (student, "was not autograded")
        assert sum(m for name, (_, m) in parts.items() if name.endswith("_tests")) == corpus.TOTAL, (student, "points changed")
        total = sum(auto.values())
        if "_honest_" in student:
            assert total == pytest.approx(honest_total(student.split("_honest_", 1)[1])), student
        else:
            assert total == 0, (student, parts)
    assert folder_state(course / "source") == source_before
    assert folder_state(course / "submitted") == submitted_before
    assert kit_state() == before
    assert listener.received == []
    feedback = (course / "autograded" / "s99_symlink_to_source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb")
    assert "symbolic link" in feedback.read_text() and "BEGIN SOLUTION" not in feedback.read_text()
    feedback = (course / "autograded" / "s98_nested_json" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb")
    assert "not a readable notebook" in feedback.read_text()
    assert leftover_processes(tmpdir) == []
