"""Does grading stop with one clear message where the sandbox cannot run, say so when it is turned off, and work
for an unprivileged instructor (CI runs as root; hub instructors are not)?"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from autograder import executor, sandbox
from reference import lesson
from tests import hostile, users
from tools import corpus

KIT = cfg.COURSE_ROOT
CORPUS_DIR = tempfile.TemporaryDirectory(prefix="latent_lab_corpus_")  # removed when the test session ends
PASSES_ALL = Path(CORPUS_DIR.name) / "passes_all.ipynb"  # written once, below
corpus.write(PASSES_ALL.parent, ["passes_all"])
TEST_USER = users.INSTRUCTOR


@pytest.fixture(scope="module", autouse=True)
def _remove_the_test_user():
    yield
    users.remove_user(TEST_USER)


def cli(*args, env=None, user_prefix=(), python=sys.executable):
    return subprocess.run([*user_prefix, python, "-m", "autograder", *args], cwd=KIT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_without_bubblewrap_grading_stops_with_the_fix(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no bwrap on this PATH
    run = cli("grade", str(PASSES_ALL), "--json", str(tmp_path / "r.json"), env=env)
    assert run.returncode == 2
    assert "bubblewrap (bwrap) is not installed" in run.stderr and "--no-sandbox" in run.stderr
    assert not (tmp_path / "r.json").exists()  # nobody graded zero for the machine's fault


def test_no_sandbox_grades_and_says_so_in_every_report(tmp_path):
    run = cli("grade", str(PASSES_ALL), "--no-sandbox", "--json", str(tmp_path / "r.json"), "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "r.json").read_text())[PASSES_ALL.name]  # one schema: {notebook: results}
    assert result["score"] == corpus.TOTAL
    assert executor.UNSANDBOXED_NOTE in result["output"] and executor.UNSANDBOXED_NOTE in run.stdout
    graded = (tmp_path / "passes_all" / "passes_all.ipynb").read_text()
    assert graded.count("Graded WITHOUT the sandbox") == len(cfg.CHECK_POINTS)  # in every test cell's feedback


def test_the_box_command_hides_the_kit_and_drops_privileges():
    box = sandbox.Box([KIT / "source" / cfg.ASSIGNMENT_ID / "vae.pt"], ["ex3_arithmetic"])
    try:
        command = box.command(["python"])
    finally:
        box.close()
    bound = {command[i + 2] for i, arg in enumerate(command) if arg in ("--bind", "--ro-bind")}
    assert not any(str(KIT / part) in bound for part in ("autograder", "reference", "source", ".cache", "tests"))
    assert f"{sandbox.HOME}/vae.pt" in bound and f"{sandbox.ANSWERS}/ex3_arithmetic.npz" in bound
    writable = {command[i + 2] for i, arg in enumerate(command) if arg == "--bind"}
    assert writable == {f"{sandbox.ANSWERS}/ex3_arithmetic.npz", str(box.socket_dir)}
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv",
                 "--disable-userns"):
        assert flag in command
    assert command[command.index("--uid") + 1] == str(sandbox.SANDBOX_UID)


@pytest.mark.parametrize("given, passed", [("default", "default"), ("avx2", "avx2"), ("", None),
                                            ("avx2; rm -rf ~", None), ("avx2\nLD_PRELOAD=/x", None)])
def test_the_kernel_computes_with_the_graders_cpu_kernels_and_nothing_else_of_its_environment(
        monkeypatch, given, passed):
    """The grader's ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA and MKL_CBWR reach the kernel (pinned to AVX2 by default:
    reference/cpu_kernels.py), values of their libraries' shape only, and no other variable of the grader's."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", given)
    monkeypatch.setenv("GRADER_SECRET", "x")
    environment = sandbox.Box.environment()
    assert environment.get("ATEN_CPU_CAPABILITY") == passed
    assert "GRADER_SECRET" not in environment


def test_every_grading_process_and_kernel_computes_with_avx2_kernels_unless_told_otherwise():
    """course_config.CPU_KERNELS = "avx2": an AVX-512 machine computes as an AVX2 one (oneDNN's AVX-512 convolutions
    differ by 1e-7). A fresh grading process pins them before torch computes; its kernels get the same."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")}
    env.update(ONEDNN_MAX_CPU_ISA="", MKL_CBWR="AVX2 ")  # empty or malformed: as if unset (oneDNN would go native)
    run = subprocess.run([sys.executable, "-c", "import autograder, torch; from autograder.sandbox import Box; "
                          "torch.zeros(3).add_(1); print(torch.backends.cpu.get_cpu_capability(), "
                          "sorted(Box.environment().items()))"], cwd=KIT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] in ("AVX2", "DEFAULT")  # DEFAULT only on a CPU without AVX2
    for pinned in ("('ATEN_CPU_CAPABILITY', 'avx2')", "('MKL_CBWR', 'AVX2')", "('ONEDNN_MAX_CPU_ISA', 'AVX2')"):
        assert pinned in run.stdout
    assert "MKL_CBWR='AVX2 ' is not a value it takes: ignored" in run.stderr


def test_a_venv_reached_through_a_link_grades_in_the_warm_box(tmp_path):
    """A kit whose .venv links to a shared one: the kernel starts from the venv's real path (the box's /tmp and home
    are fresh, so a link there is gone)."""
    link = tmp_path / "venv"
    link.symlink_to(Path(sys.prefix).resolve())
    run = cli("grade", str(PASSES_ALL), "--quiet", "--json", str(tmp_path / "r.json"),
              python=str(link / Path(sys.executable).relative_to(sys.prefix)))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((tmp_path / "r.json").read_text())["passes_all.ipynb"]["score"] == corpus.TOTAL


def _unprivileged_prefix(mount_point: Path):
    """Run as an unprivileged user with the kit at mount_point, visible to that user wherever the clone lives."""
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", TEST_USER], check=True)
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            f'mount --bind "$0" {mount_point} && exec runuser -u {TEST_USER} -- "$@"', str(KIT)]


@pytest.mark.skipif(os.geteuid() != 0 and not shutil.which("bwrap"), reason="needs bwrap")
def test_an_unprivileged_instructor_grades_in_the_sandbox_and_its_caps_hold():
    """As root this test makes a user and runs the grader as that user; as a non-root user it runs as itself."""
    work = Path(tempfile.mkdtemp(prefix="latent_lab_unprivileged_", dir="/tmp"))
    try:
        work.chmod(0o777)
        submissions = work / "submissions"
        submissions.mkdir()
        shutil.copy(PASSES_ALL, submissions / "a_passes_all.ipynb")
        nbformat.write(hostile.attack_notebook("fork_bomb", 9), submissions / "b_fork_bomb.ipynb")
        for path in (submissions, *submissions.iterdir()):
            path.chmod(0o777 if path.is_dir() else 0o644)
        if os.geteuid() == 0:
            if Path(sys.prefix).resolve().is_relative_to("/root") or Path(sys.base_prefix).is_relative_to("/root"):
                pytest.fail(f"the venv's Python ({sys.base_prefix}) lives in root's private home; other users "
                            "cannot run it. Rebuild the venv from the system Python (`make venv` does).")
            mount_point = work / "kit"
            mount_point.mkdir()
            mount_point.chmod(0o755)
            python = str(mount_point / Path(sys.executable).relative_to(KIT)) if Path(sys.executable).is_relative_to(KIT) \
                else sys.executable
            command = [*_unprivileged_prefix(mount_point), python, "-m", "autograder"]
            cwd = mount_point
        else:
            command, cwd = [sys.executable, "-m", "autograder"], KIT
        run = subprocess.run([*command, "grade", str(submissions), "--json", str(work / "r.json"), "--out",
                              str(work / "out")], cwd=cwd, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        results = json.loads((work / "r.json").read_text())
        assert results["a_passes_all.ipynb"]["score"] == corpus.TOTAL
        # the kit is root's, read-only to this user: the shipped reference is read, never derived or cached
        assert results["a_passes_all.ipynb"]["extra_data"]["reference_sha256"] == lesson.REFERENCE_SHA256
        assert results["b_fork_bomb.ipynb"]["score"] == 0
        bomb = (work / "out" / "b_fork_bomb" / "b_fork_bomb.ipynb").read_text()
        forked = int(bomb.split("forked ")[1].split("\\n")[0])
        assert forked < cfg.SANDBOX_LIMITS["processes"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


LEAVE_TRACES = r'''
import os, subprocess, ipykernel
socket_dir = os.path.dirname(ipykernel.get_connection_file())
spool = os.path.dirname(os.path.dirname(socket_dir))
tried = {}
for folder in ("/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd(), "/answers", spool, socket_dir,
               os.path.dirname(spool), "/dev", "/proc/1/root/tmp", "/proc/1/root" + spool):
    try:
        with open(os.path.join(folder, "left_by_the_previous_student"), "w") as f:
            f.write("x")
        tried[folder] = "written"
    except OSError as err:
        tried[folder] = type(err).__name__
subprocess.Popen(["sleep", "600"], start_new_session=True)
os.environ["LEFT_BY_THE_PREVIOUS_STUDENT"] = "1"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
tried["keyring"] = libc.syscall(248, b"user", b"left_by_the_previous_student", b"x", 1, -4)  # add_key to @u
for pid in os.listdir("/proc"):  # processes outside this submission's PID namespace have one NSpid entry
    try:
        outside = len(open(f"/proc/{pid}/status").read().split("NSpid:")[1].split("\n")[0].split()) == 1
        open(f"/proc/{pid}/mem", "rb").close()
        tried[f"mem of {pid}"] = "opened outside" if outside else "own"
    except (OSError, IndexError):
        pass
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:  # take over a process
    if libc.syscall(101, 16, int(pid), 0, 0) == 0:  # PTRACE_ATTACH: its init, the fork server...
        tried[f"ptrace {pid}"] = "attached"
        libc.syscall(101, 17, int(pid), 0, 0)  # PTRACE_DETACH
capabilities = dict(line.split(":\t") for line in open("/proc/self/status").read().splitlines() if line.startswith("Cap"))
tried["capabilities"] = sorted({v for v in capabilities.values()})
tried["spool"] = sorted(os.listdir(spool))  # other submissions' slots: connection keys and sockets
print("TRIED", tried)
'''
LOOK_FOR_TRACES = r'''
import os, glob, ipykernel
socket_dir = os.path.dirname(ipykernel.get_connection_file())
spool = os.path.dirname(os.path.dirname(socket_dir))
found = [p for folder in ("/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd(), "/answers", spool,
                          os.path.dirname(spool), "/dev")
         for p in glob.glob(os.path.join(folder, "**", "left_by_the_previous_student"), recursive=True)]
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.syscall(250, 0, libc.syscall(250, 0, -4, 0), b"user", b"left_by_the_previous_student", 0) > 0:
    found.append("keyring")  # keyctl(KEYCTL_SEARCH, @u, "user", name)
sleepers = [p for p in os.listdir("/proc") if p.isdigit() and b"sleep" in open(f"/proc/{p}/cmdline", "rb").read()]
print("FOUND", found, sleepers, os.environ.get("LEFT_BY_THE_PREVIOUS_STUDENT"))
'''


def with_first_cell(source):
    nb = corpus.notebook("passes_all")
    nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    return nb


def output_of_first_cell(graded):
    return "".join(o.get("text", "") for o in graded.notebook.cells[0].outputs)


@pytest.mark.skipif(not cfg.SANDBOX_WARM, reason="the warm box is off in course_config.py")
def test_nothing_of_one_submission_reaches_the_next_in_the_same_warm_box(pipeline):
    first = pipeline.grade(with_first_cell(LEAVE_TRACES), "leaves_traces")
    tried = output_of_first_cell(first)
    assert "TRIED" in tried and "written" in tried  # it could write in its own tmpfs folders...
    assert "'/dev': 'OSError'" in tried and "'/proc/1/root/tmp': '" in tried and "/proc/1/root/tmp': 'written'" \
        not in tried and "'keyring': -1" in tried and "opened outside" not in tried  # ...nowhere else
    assert "attached" not in tried and "'capabilities': ['0000000000000000']" in tried  # bounding set included
    assert re.search(r"'spool': \['s\d+'\]", tried)  # its own slot only
    assert first.score == corpus.TOTAL
    second = pipeline.grade(with_first_cell(LOOK_FOR_TRACES), "looks_for_traces")
    assert output_of_first_cell(second).strip() == "FOUND [] [] None"  # ...and the next one sees none of it
    assert second.score == corpus.TOTAL
    assert not list(executor.warm_box().spool.rglob("left_by_the_previous_student"))


def test_kernels_and_checks_compute_on_the_configured_thread_count(pipeline):
    """GRADING_THREADS: the same numbers on every machine, N workers on N cores; not the grader's own environment."""
    import torch

    torch.set_num_threads(2)
    graded = pipeline.grade(with_first_cell("import os, torch\nprint('THREADS', torch.get_num_threads(), "
                                            "os.environ.get('OMP_NUM_THREADS'))"), "counts_threads")
    assert output_of_first_cell(graded).strip() == f"THREADS {cfg.GRADING_THREADS} {cfg.GRADING_THREADS}"
    assert torch.get_num_threads() == cfg.GRADING_THREADS and graded.score == corpus.TOTAL


@pytest.mark.skipif(not cfg.SANDBOX_WARM, reason="the warm box is off in course_config.py")
def test_a_worker_takes_a_box_its_client_started_and_the_box_ends_with_the_worker(pipeline):
    pool = executor.box_pool(1)
    try:
        taken = sandbox.WarmBox.take_from(pool.address)
        assert taken is not None and taken.alive and taken.cgroup is None  # the client keeps what it made
        assert sandbox.WarmBox.take_from(pool.address) is None  # one each: a worker started again makes its own
        own, executor._warm[:] = executor._warm[:], [taken]
        try:
            graded = pipeline.grade(corpus.notebook("passes_all"), "graded_in_a_pooled_box")
        finally:
            executor._warm[:] = own
        assert graded.score == corpus.TOTAL
        taken.close()  # as when the worker ends or dies: the fork server's input closes, the box ends
        assert pool.boxes[0].process.wait(timeout=30) is not None
    finally:
        pool.close()
    assert not pool.folder.exists() and not pool.boxes[0].host_dir.exists()
    assert sandbox.WarmBox.take_from(pool.address) is None  # the batch is over: a worker starts its own


def test_folders_left_by_a_killed_grader_are_removed_by_the_next_one(tmp_path):
    """A grader killed with -9 cannot clean up; the next one removes its folders, never those of a live process."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp_path / f"latent_lab_warm_{dead.pid}_abcd"
    (left / "spool" / "s1").mkdir(parents=True)
    (left / "spool" / "s1").chmod(0o555)  # as a kernel may leave it
    alive = tmp_path / f"latent_lab_warm_{os.getppid()}_efgh"
    alive.mkdir()
    other_kind = tmp_path / f"latent_lab_box_{dead.pid}_ijkl"
    other_kind.mkdir()
    made = sandbox.temp_dir("latent_lab_warm_", tmp_path)
    assert not left.exists() and alive.exists() and other_kind.exists()
    assert made.name.startswith(f"latent_lab_warm_{os.getpid()}_") and made.is_dir()


def test_a_kernel_that_cannot_start_says_what_its_python_printed(monkeypatch):
    """A kernel that dies before replying (a broken or half-shared environment) stops grading with the lines its
    Python printed, found by importing what the kernel imports in a box like the grading ones."""
    assert sandbox.what_the_kernel_says("bwrap") == ""  # this environment is whole: nothing to say
    monkeypatch.setattr(sandbox, "PRELOAD", [*sandbox.PRELOAD, "a_module_this_venv_lacks"])
    said = sandbox.what_the_kernel_says("bwrap")
    assert "ModuleNotFoundError: No module named 'a_module_this_venv_lacks'" in said
    assert sandbox.kernel_python() in said

    def never_starts(nb, kind):
        raise executor.KernelStartFailed("the grading kernel did not start (RuntimeError: Kernel died before "
                                         "replying to kernel_info)")

    monkeypatch.setattr(executor, "run_notebook", never_starts)
    with pytest.raises(executor.KernelStartFailed, match="a_module_this_venv_lacks"):
        executor.grade_notebook(nbformat.read(PASSES_ALL, as_version=4), "bwrap")


def test_what_a_submission_writes_while_graded_is_the_graders_alone():
    """Answer files sit in the box's folders on the host while the kernel runs: another user (a student on the
    same machine) cannot list or read them, however the files inside are made."""
    warm = sandbox.WarmBox(executor._assignment_files(), list(cfg.CHECK_POINTS), wait=False)
    box = sandbox.Box([], list(cfg.CHECK_POINTS))
    try:
        slot = warm.slot()
        for folder, answers in ((warm.host_dir, slot.answers_dir), (box.host_dir, box.answers_dir)):
            assert folder.stat().st_mode & 0o777 == 0o700, oct(folder.stat().st_mode)
            if os.geteuid() == 0:
                users.ensure_user(TEST_USER)
                tried = subprocess.run(["runuser", "-u", TEST_USER, "--", "cat", str(answers / "ex3_arithmetic.npz")],
                                       capture_output=True, text=True, timeout=60)
                assert tried.returncode != 0 and "Permission denied" in tried.stderr
    finally:
        warm.close()
        box.close()
