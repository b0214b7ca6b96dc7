"""The box every grading kernel runs in: bubblewrap, no network, its own PIDs, a read-only world, capped resources.

Inside the box the kernel sees:
  /usr (and /bin, /lib...)   read-only system files
  the venv and its Python    read-only, at the same paths as outside (so the venv's links resolve)
  /data                      read-only Fashion-MNIST
  /opt/latent_lab/contract.py  read-only: the one file of the kit the kernel needs (it writes the answers)
  /home/student              its cwd and HOME: a size-capped tmpfs holding read-only copies of the assignment's
                             files (vae.pt), nothing else
  /tmp, /dev/shm             size-capped tmpfs
  /answers/<cell>.npz        one pre-created file per graded cell, writable, nothing else in the folder
  the kernel's socket folder its ZeroMQ ipc sockets and connection file (loopback is gone with the network)
Nothing else of the kit, the course, the gradebook, other students or any home folder exists in there. The root
of the box is read-only; the kernel runs as uid 65534 with no capabilities, in its own user, PID, IPC, UTS,
cgroup and network namespaces, and every process it starts dies with it (bwrap's PID 1 ends the namespace).

With course_config.SANDBOX_WARM (the default) one such box per grading process holds a fork server with the
heavy imports done (WarmBox, autograder/zygote.py), and each submission's kernel is forked into fresh namespaces
and tmpfs folders inside it, with no capabilities; otherwise each submission gets a box of its own (Box).

Caps (course_config.SANDBOX_LIMITS): memory per process (RLIMIT_DATA), file size (RLIMIT_FSIZE), processes
(RLIMIT_NPROC, counted inside the box's user namespace; root is exempt from it, so as root a pids cgroup does it
where one is writable), tmpfs sizes; time caps live in the executor.
"""
import json
import logging
import os
import queue
import select
import shutil
import stat
import subprocess
import socket
import sys
import tempfile
import threading
import time
import uuid
from functools import lru_cache
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import default
import zmq

import course_config as cfg
from autograder import contract
from autograder.errors import MachineProblem
from reference import cpu_kernels

log = logging.getLogger(__name__)
EXPORTER = Path(contract.__file__).resolve()
HOME = "/home/student"
ANSWERS = "/answers"
DATA = "/data"
SANDBOX_UID = 65534  # "nobody": owns nothing outside
CGROUP_V1 = Path("/sys/fs/cgroup")
THREAD_SETTINGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class SandboxUnavailable(MachineProblem):
    """bubblewrap is missing or cannot create namespaces here; the message says how to fix it."""


HOW_TO_ENABLE = (
    "Grading runs every student's kernel in a bubblewrap sandbox. Install it (Debian/Ubuntu: `apt-get install "
    "bubblewrap`; `make` does this when run as root) and allow unprivileged user namespaces "
    "(`sysctl -w kernel.unprivileged_userns_clone=1` on Debian, `kernel.apparmor_restrict_unprivileged_userns=0` "
    "on Ubuntu 24.04+; in Docker run with `--security-opt seccomp=unconfined`). To grade WITHOUT isolation, "
    "which lets student code read and change the course, set SANDBOX = \"none\" in course_config.py or pass "
    "--no-sandbox.")


@lru_cache(maxsize=1)
def check_available() -> str:
    """The bwrap path, after one real trial run; SandboxUnavailable with the reason and the fix otherwise."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed. " + HOW_TO_ENABLE)
    trial = subprocess.run([bwrap, *_system_binds(), "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--die-with-parent",
                            "--", "/bin/true"], capture_output=True, text=True, timeout=30)
    if trial.returncode != 0:
        raise SandboxUnavailable(f"bubblewrap cannot create a sandbox here ({trial.stderr.strip()}). " + HOW_TO_ENABLE)
    return bwrap


def _system_binds() -> list:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf", "fonts"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_roots() -> list:
    """The venv and the Python it was made from, where the system folders do not already hold them."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    return [str(root) for root in sorted(roots)
            if not str(root).startswith(("/usr/", "/bin/", "/lib")) and str(root) != "/usr"]


def kernel_python() -> str:
    """The grader's Python by its venv's real path: a venv reached through a link (a kit whose .venv links to a
    shared one) has no link inside the box, whose /tmp and home folders are fresh for every kernel."""
    try:
        return str(Path(sys.prefix).resolve() / Path(sys.executable).relative_to(sys.prefix))
    except ValueError:  # a Python that belongs to no venv
        return sys.executable


def _python_binds() -> list:
    """The Python roots, read-only at their own paths."""
    args = []
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    if Path(sys.prefix).resolve() != Path(sys.prefix):  # a venv reached through a link
        args += ["--symlink", str(Path(sys.prefix).resolve()), sys.prefix]
    return args


def what_the_kernel_says(sandbox: str, lines: int = 8) -> str:
    """Why a kernel died before replying, in its own words: the kernel's Python imports the kernel as a grading
    kernel does (in a box of the same kind, with no student code) and the last lines it printed are returned, or ""
    when it imports fine (the cause was elsewhere)."""
    argv = [kernel_python(), "-E", "-s", "-c", "; ".join(f"import {module}" for module in PRELOAD)]
    box = Box([], []) if sandbox == "bwrap" else None
    try:
        command = box.command(argv, silent=False) if box else argv
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f" (its Python could not be started to ask why: {err})"
    finally:
        if box:
            box.close()
    if done.returncode == 0:
        return ""
    said = done.stderr.decode(errors="replace").strip().splitlines()[-lines:]
    return f". Its Python ({kernel_python()}), started as the grader starts it, printed:\n  " + "\n  ".join(said)


class Cgroup:
    """A pids (and memory) cgroup for one box, where this user may create one (root with cgroup v1 here).
    Root is exempt from RLIMIT_NPROC, so this is what caps a fork bomb when the grader runs as root."""

    def __init__(self):
        self.dirs = []
        name = f"latent_lab_{uuid.uuid4().hex[:12]}"
        limits = {"pids": {"pids.max": str(cfg.SANDBOX_LIMITS["processes"])},
                  "memory": {"memory.limit_in_bytes": str(cfg.SANDBOX_LIMITS["memory_mb"] * 2**20 * 2)}}
        for controller, files in limits.items():
            parent = CGROUP_V1 / controller
            if not os.access(parent, os.W_OK) or not (parent / "cgroup.procs").exists():
                continue
            try:
                folder = parent / name
                folder.mkdir()
                for file, value in files.items():
                    (folder / file).write_text(value)
                self.dirs.append(folder)
            except OSError:
                continue

    def join_command(self) -> list:
        """A prefix that moves the launching shell into the cgroups, then execs the rest."""
        if not self.dirs:
            return []
        joins = " && ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in self.dirs)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "latent-lab-sandbox"]

    def close(self):
        """Kill whatever is left in the box's cgroups, then remove them (a killed process leaves a moment later)."""
        for folder in self.dirs:
            for _ in range(100):
                try:
                    pids = (folder / "cgroup.procs").read_text().split()
                    for pid in pids:
                        os.kill(int(pid), 9)
                    if not pids:
                        folder.rmdir()
                        break
                except OSError:
                    pass
                time.sleep(0.05)


def identity_files(folder: Path) -> list:
    """The box's only user and group (the kernel's uid, named "student"), written into folder: the binds that
    show them as /etc/passwd and /etc/group."""
    (folder / "passwd").write_text(f"student:x:{SANDBOX_UID}:{SANDBOX_UID}::{HOME}:/bin/sh\n")
    (folder / "group").write_text(f"student:x:{SANDBOX_UID}:\n")
    return ["--ro-bind", str(folder / "passwd"), "/etc/passwd", "--ro-bind", str(folder / "group"), "/etc/group"]


def box_command(bwrap: str, cgroup, identity: list, read_only: list, writable: list, privileges: list, argv: list,
                folders: tuple = ()) -> list:
    """The one description of a box, for the cold box (one kernel) and the warm box (its fork server) alike: the
    system read-only, fresh tmpfs for /tmp, /dev/shm and HOME, the interpreter, the identity files, the contract
    and the data read-only; read_only and writable (host path, path inside) pairs; nothing of the grader's
    environment; every namespace unshared, no capabilities but the privileges given; then argv."""
    limits = cfg.SANDBOX_LIMITS
    # tmpfs mounts first: a venv that lives under /tmp (a CI clone) must stay visible on top of them
    args = [bwrap, *_system_binds(), "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits["tmp_mb"] * 2**20), "--tmpfs", "/dev/shm",
            "--size", str(limits["tmp_mb"] * 2**20), "--tmpfs", "/tmp",
            "--size", str(limits["work_mb"] * 2**20), "--tmpfs", HOME,
            *_python_binds(), *identity]
    for host, inside in [*read_only, (EXPORTER, "/opt/latent_lab/contract.py")]:
        args += ["--ro-bind", str(host), str(inside)]
    if Path(cfg.DATA_DIR).is_dir():
        args += ["--ro-bind", str(Path(cfg.DATA_DIR).resolve()), DATA]
    for folder in (ANSWERS, *folders):
        args += ["--dir", folder]
    for host, inside in writable:
        args += ["--bind", str(host), str(inside)]
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", HOME, "--clearenv"]
    for key, value in Box.environment().items():
        args += ["--setenv", key, value]
    args += ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
             "--hostname", "sandbox", "--disable-userns", "--die-with-parent", "--new-session", *privileges, "--"]
    # env -i: bwrap's own process (PID 1 in the box) must not carry the grader's environment in /proc/1/environ
    return [*cgroup.join_command(), "/usr/bin/env", "-i", *args, *argv]


class Box:
    """One submission's sandbox: host folders for the sockets and the answers, and the bwrap command."""

    def __init__(self, assignment_files, answer_names):
        self.bwrap = check_available()
        self.host_dir = temp_dir("latent_lab_box_", socket_parent())  # the kernel's ipc sockets are in it
        self.socket_dir = self.host_dir / "kernel"
        self.answers_dir = self.host_dir / "answers"
        self.socket_dir.mkdir()
        self.answers_dir.mkdir()
        self.answer_files = []
        for name in answer_names:  # the kernel may write these files and create nothing else
            path = self.answers_dir / f"{name}.npz"
            path.touch()
            self.answer_files.append(path)
        self.identity = identity_files(self.host_dir)
        for folder in (self.socket_dir, self.answers_dir):  # host_dir stays 0700: no other user reaches them
            folder.chmod(0o755)
        self.assignment_files = [Path(f) for f in assignment_files]
        self.cgroup = Cgroup()

    @staticmethod
    def environment() -> dict:
        """The kernel's whole environment: nothing of the grader's (--clearenv) but its choice of CPU kernels
        (reference/cpu_kernels.py); course_config.GRADING_THREADS threads, so N workers' kernels share N cores."""
        compute = {name: str(cfg.GRADING_THREADS) for name in THREAD_SETTINGS} | cpu_kernels.environment()
        return {"HOME": HOME, "USER": "student", "LOGNAME": "student", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                "PATH": f"{Path(kernel_python()).parent}:/usr/local/bin:/usr/bin:/bin",
                "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
                contract.ANSWERS_DIR_ENV: ANSWERS, "LATENT_LAB_EXPORTER": "/opt/latent_lab/contract.py",
                "LATENT_LAB_DATA": DATA, "NBGRADER_EXECUTION": "autograde", **compute}

    def command(self, kernel_argv: list, silent: bool = True) -> list:
        return box_command(
            self.bwrap, self.cgroup, self.identity,
            read_only=[(item, f"{HOME}/{item.name}") for item in self.assignment_files],
            writable=[*[(path, f"{ANSWERS}/{path.name}") for path in self.answer_files],
                      (self.socket_dir, self.socket_dir)],
            privileges=["--cap-drop", "ALL"], argv=with_rlimits(kernel_argv, silent))

    def close(self):
        self.cgroup.close()
        remove_tree(self.host_dir)


def temp_dir(prefix: str, parent: str = None) -> Path:
    """A new folder named after this process, e.g. latent_lab_box_<pid>_xxxx. Folders of the same kind left by a
    process that no longer exists (killed with -9, a Dask worker stopped mid-task) are removed first, so a batch
    killed halfway leaves nothing behind for long. Another worker may be removing the same ones: a folder that
    vanishes meanwhile is not an error."""
    parent = Path(parent or tempfile.gettempdir())
    sweep_stale(prefix, parent)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}_", dir=parent))  # mode 0700: this user's alone


def socket_parent() -> str:
    """Where a folder holding a Unix socket goes: TMPDIR, unless its path leaves too little of the 107 characters a
    socket's path may have (a test's or a job scheduler's long TMPDIR), then /tmp."""
    return tempfile.gettempdir() if len(tempfile.gettempdir()) <= 60 else "/tmp"


def temp_prefixes() -> dict:
    """The kit's kinds of scratch folder: prefix -> parent folder."""
    return {"latent_lab_run_": tempfile.gettempdir(), "latent_lab_box_": socket_parent(),
            "latent_lab_boxes_": socket_parent(), "latent_lab_gradebook_": tempfile.gettempdir(),
            "latent_lab_warm_": "/var/tmp" if os.access("/var/tmp", os.W_OK) else tempfile.gettempdir()}


def sweep_stale(prefix: str = None, parent: Path = None) -> None:
    """Remove this user's folders of the kit's kinds (or of `prefix`) whose process no longer exists."""
    kinds = {prefix: parent} if prefix else temp_prefixes()
    for kind, where in kinds.items():
        for stale in Path(where or tempfile.gettempdir()).glob(f"{kind}*_*"):
            pid = stale.name[len(kind):].split("_")[0]
            try:
                if pid.isdigit() and not _process_exists(int(pid)) and stale.lstat().st_uid == os.geteuid():
                    remove_tree(stale)
            except OSError:
                continue


def exit_on_sigterm() -> None:
    """SIGTERM ends this process as an exception would, so `finally` blocks and at_exit cleanups run (its default
    ends it on the spot, leaving scratch gradebooks and boxes in /tmp)."""
    import signal

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends it at once
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def at_exit(close) -> None:
    """Run close (idempotent) when this process ends: at interpreter exit, and at multiprocessing's own exit (a Dask
    worker forked from a fork server leaves through os._exit, which skips atexit)."""
    import atexit
    import multiprocessing.util

    atexit.register(close)
    multiprocessing.util.Finalize(None, close, exitpriority=10)


def _process_exists(pid: int) -> bool:
    """Whether `pid` still runs. A zombie does not: it has ended and only waits for its parent (a fork server
    reaps its workers when it gets round to it), so what it left may go."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def remove_tree(path: Path) -> None:
    """Delete a box's host folder, also where the kernel left a folder it made unwritable (mode 0555). Links are
    never followed: only real folders get their mode back."""
    for root, folders, _ in os.walk(path):
        for name in folders:
            folder = os.path.join(root, name)
            try:
                if stat.S_ISDIR(os.lstat(folder).st_mode):
                    os.chmod(folder, 0o700)
            except OSError:  # gone meanwhile
                pass
    shutil.rmtree(path, ignore_errors=True)


def with_rlimits(argv: list, silent: bool = True) -> list:
    """Set the per-process caps in the box, then exec the kernel (inherited by everything it starts). silent: its
    output goes nowhere (False only for the kit's own commands, never a student's code)."""
    limits = cfg.SANDBOX_LIMITS
    setup = (
        "import os, resource as r, sys\n"
        f"r.setrlimit(r.RLIMIT_DATA, ({limits['memory_mb']} << 20,) * 2)\n"
        f"r.setrlimit(r.RLIMIT_FSIZE, ({limits['file_mb']} << 20,) * 2)\n"
        f"r.setrlimit(r.RLIMIT_NPROC, ({limits['processes']},) * 2)\n"
        "r.setrlimit(r.RLIMIT_CORE, (0, 0))\n"
        + ("null = os.open('/dev/null', os.O_RDWR)\n"  # the kernel's own fds never reach the grader's terminal
           "for fd in (0, 1, 2): os.dup2(null, fd)\n" if silent else "")
        + "os.execv(sys.argv[1], sys.argv[1:])\n")
    return [kernel_python(), "-I", "-c", setup, *argv]


IOPUB_CHECK_SECONDS = 0.02  # how long to wait for IOPub to show it is connected, before asking again
RECONNECT_MS = 5  # how soon a socket tries again to reach a kernel that has not bound yet


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready sooner. Its wait_for_ready waits 0.2 s on IOPub after each kernel_info reply
    (IOPub is often not connected yet at the first) and then for 0.2 s of silence on it: idle time paid for every
    submission (0.27 s of the 0.37 s a forked kernel took to run its first cell). Same protocol, shorter waits; no
    IOPub draining is needed, as nbclient keeps only the messages that answer its own requests."""

    @default("context")
    def _prompt_context(self):
        context = super()._context_default()
        # its sockets connect before the kernel has bound them; zmq then retries every 100 ms by default
        context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        return context

    async def wait_for_ready(self, timeout: float = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except queue.Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=IOPUB_CHECK_SECONDS)
                except queue.Empty:
                    pass
                else:  # IOPub delivers: the execution's outputs will not be lost
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel that starts inside a box (or is forked in a warm box's slot) and talks over ipc sockets in its
    socket folder. Use for_box()."""

    box = None  # a Box, or a warm box's Slot

    @default("client_factory")
    def _prompt_client(self):
        return PromptKernelClient

    async def _async_wait(self, pollinterval: float = 0.01) -> None:
        """Until the killed kernel is gone, asked every 10 ms (jupyter_client: 100 ms, idle time per submission)."""
        await super()._async_wait(pollinterval=pollinterval)

    def __init__(self, *args, **kwargs):
        kwargs.update(transport="ipc", ip=str(self.box.socket_dir / "k"),
                      connection_file=str(self.box.socket_dir / "kernel.json"))
        super().__init__(*args, **kwargs)

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = [kernel_python(), "-m", "ipykernel_launcher", "-f", str(self.box.socket_dir / "kernel.json")]
        return kernel if isinstance(self.box, Slot) else self.box.command(kernel)  # a slot's kernel is forked

    async def _async_pre_start_kernel(self, **kw):
        if isinstance(self.box, Slot):  # forked by the warm box's server, not started from a command
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkedProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    @classmethod
    def for_box(cls, box) -> type:
        """nbclient wants a class, not an instance: one subclass per box."""
        return type("BoxKernelManager", (cls,), {"box": box})


# ------------------------------------------------------------------------------------------------ the warm box
ZYGOTE = Path(__file__).with_name("zygote.py")
PRELOAD = ["numpy", "torch", "torchvision", "matplotlib", "matplotlib.pyplot", "ipykernel.kernelapp"]
ASSIGNMENT = "/opt/latent_lab/assignment"


class WarmBox:
    """One box per grading process whose fork server (autograder/zygote.py) has imported what every notebook
    imports; each submission's kernel is forked from it into fresh mount, PID, IPC, network and UTS namespaces
    with fresh tmpfs folders and no capabilities, so it starts in well under a second and nothing of one
    submission reaches the next. The box itself is the cold box's: same binds, caps, user and namespaces; it holds
    CAP_SYS_ADMIN inside its user namespace only until each submission has set up its mounts."""

    def __init__(self, assignment_files, answer_names, wait: bool = True):
        self.bwrap = check_available()
        self.answer_names = list(answer_names)
        self.process = self.cgroup = None
        self.owned = True
        # outside /tmp where there is room: each submission gets a fresh /tmp, and the spool must not hide under it
        self.host_dir = temp_dir("latent_lab_warm_", temp_prefixes()["latent_lab_warm_"])
        try:
            self._start(assignment_files, wait)
        except BaseException:  # a failed start, or SIGTERM/Ctrl-C meanwhile: its folder goes too
            self.close()
            raise

    def _start(self, assignment_files, wait: bool):
        self.spool = self.host_dir / "spool"
        self.spool.mkdir()
        identity = identity_files(self.host_dir)
        self.spool.chmod(0o755)  # host_dir stays 0700 (mkdtemp's): no other user reaches a submission's answers
        self.cgroup = Cgroup()
        self.slots = 0
        files = [Path(f) for f in assignment_files]
        settings = {"home": HOME, "answers": ANSWERS, "spool": str(self.spool), "limits": cfg.SANDBOX_LIMITS,
                    "tmp_mb": cfg.SANDBOX_LIMITS["tmp_mb"], "work_mb": cfg.SANDBOX_LIMITS["work_mb"],
                    "assignment_files": [f"{ASSIGNMENT}/{f.name}" for f in files], "preload": PRELOAD,
                    "environment": Box.environment(), "debug": bool(os.environ.get("LATENT_LAB_DEBUG_SANDBOX")),
                    "python_roots": _python_roots()}
        command = box_command(
            self.bwrap, self.cgroup, identity,
            read_only=[*[(item, f"{ASSIGNMENT}/{item.name}") for item in files], (ZYGOTE, "/opt/latent_lab/zygote.py")],
            writable=[(self.spool, self.spool)], folders=["/opt/latent_lab/stage"],
            # the server is PID 1: no bwrap init (dumpable, same uid) whose /proc/1/root or /proc/1/mem a kernel
            # could open to reach the box's shared folders or later kernels; CAP_SYS_ADMIN inside the box's user
            # namespace lets it set up each submission's mounts, then each kernel drops it
            privileges=["--as-pid-1", "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"],
            argv=[kernel_python(), "-E", "-s", "/opt/latent_lab/zygote.py", json.dumps(settings)])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> "WarmBox":
        """Wait until the fork server has done its imports (it says so once, on its own)."""
        try:
            reply = self._read(timeout=180)
        except BaseException:  # no answer, or this process is being stopped meanwhile
            self.close()
            raise
        if not reply.get("ready"):
            self.close()
            raise MachineProblem(f"the warm sandbox did not start: {reply}")
        return self

    @classmethod
    def take_from(cls, address: str):
        """A box started by this machine's grading client (BoxPool), ready or nearly, or None when it has none
        left (a worker started again after a crash starts its own)."""
        box = cls.__new__(cls)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(address)
                message, fds, _, _ = socket.recv_fds(connection, 4096, 2)
        except OSError as err:
            log.warning("no warm box from the grading client (%s): starting one here", err)
            return None
        if len(fds) != 2:
            return None
        meta = json.loads(message)
        box.answer_names, box.host_dir, box.spool = meta["answer_names"], Path(meta["host_dir"]), Path(meta["spool"])
        box.cgroup, box.slots, box.process, box.owned = None, 0, HandedPipes(*fds), False
        return box.wait_ready()

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            raise MachineProblem(f"the warm sandbox's fork server stopped answering (exit status "
                                 f"{self.process.poll()}); set SANDBOX_WARM = False to start a box per submission")
        return json.loads(line)

    def request(self, timeout: float = 60, **message) -> dict:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()
        return self._read(timeout)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def slot(self) -> "Slot":
        self.slots += 1
        return Slot(self, f"s{self.slots}")

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
        if self.cgroup is not None:
            self.cgroup.close()
        if self.owned:  # a box taken from the client: the client removes the rest
            remove_tree(self.host_dir)


class HandedPipes:
    """What a WarmBox uses of its Popen, for a box the grading client started and handed over as its two pipes.
    The fork server reads requests until its input closes, then exits and its box with it: closing the pipes
    here (or this process dying) is how it stops."""

    def __init__(self, stdin_fd: int, stdout_fd: int):
        self.stdin, self.stdout = os.fdopen(stdin_fd, "wb"), os.fdopen(stdout_fd, "rb")
        self.returncode = None

    def poll(self):
        """None while the server may still answer: it never writes unasked, so anything readable now is its end."""
        if self.returncode is None and select.select([self.stdout], [], [], 0)[0]:
            self.kill()
        return self.returncode

    def kill(self):
        self.stdin.close()
        self.stdout.close()
        self.returncode = -9

    def wait(self, timeout=None):
        return self.returncode


class BoxPool:
    """Warm boxes started by the grading client for its local workers before they exist, so the fork servers'
    imports run while the cluster starts (a worker would start its own only at its first submission). Each worker
    takes one at its first submission: its two pipes, passed over a Unix socket in a folder only this user can
    open. The client keeps no copy of the pipes, so a box ends with the worker that took it; the client removes
    what is left when the batch ends."""

    def __init__(self, count: int, assignment_files, answer_names):
        self.folder = temp_dir("latent_lab_boxes_", socket_parent())
        self.address = str(self.folder / "boxes.sock")
        self.boxes = [WarmBox(assignment_files, answer_names, wait=False) for _ in range(count)]
        self.waiting = list(self.boxes)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.address)
        self.server.listen()
        threading.Thread(target=self._hand_out, daemon=True).start()

    def _hand_out(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed: the batch is over
                return
            with connection:
                if not self.waiting:
                    connection.sendall(b"{}")
                    continue
                box = self.waiting.pop()
                meta = {"answer_names": box.answer_names, "host_dir": str(box.host_dir), "spool": str(box.spool)}
                try:
                    socket.send_fds(connection, [json.dumps(meta).encode()],
                                    [box.process.stdin.fileno(), box.process.stdout.fileno()])
                except OSError:
                    self.waiting.append(box)
                    continue
                box.process.stdin.close()
                box.process.stdout.close()

    def close(self):
        self.server.close()
        for box in self.boxes:
            box.close()
        remove_tree(self.folder)


class Slot:
    """One submission's place in a warm box: its answer files and socket folder, and its forked kernel."""

    def __init__(self, warm: WarmBox, slot_id: str):
        self.warm, self.id = warm, slot_id
        self.host_dir = warm.spool / slot_id
        self.socket_dir = self.host_dir / "kernel"
        self.answers_dir = self.host_dir / "answers"
        self.socket_dir.mkdir(parents=True)
        self.answers_dir.mkdir()
        for name in warm.answer_names:
            (self.answers_dir / f"{name}.npz").touch()
        for folder in (self.host_dir, self.socket_dir, self.answers_dir):
            folder.chmod(0o755)

    def launch(self, connection_file: str) -> "ForkedKernel":
        self.warm.request(op="fork", id=self.id, connection_file=connection_file,
                          answers=[str(p) for p in sorted(self.answers_dir.iterdir())])
        return ForkedKernel(self)

    def close(self):
        """Kill the submission's namespace (every process in it) and wait until it is gone."""
        if self.warm.alive:
            self.warm.request(op="kill", id=self.id)
            for _ in range(200):
                if self.warm.request(op="poll", id=self.id).get("status") is not None:
                    break
                time.sleep(0.05)
        remove_tree(self.host_dir)


class ForkedKernel:
    """What jupyter_client's provisioner expects of a Popen, for a kernel forked in a warm box."""

    stdin = stdout = stderr = None
    pid = None

    def __init__(self, slot: Slot):
        self.slot, self.returncode = slot, None

    def poll(self):
        if self.returncode is None:
            self.returncode = (self.slot.warm.request(op="poll", id=self.slot.id).get("status")
                               if self.slot.warm.alive else -9)
        return self.returncode

    def wait(self, timeout=None):
        while self.poll() is None:
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum):
        self.slot.warm.request(op="signal", id=self.slot.id, signum=int(signum))

    def kill(self):
        self.slot.warm.request(op="kill", id=self.slot.id)

    def terminate(self):
        self.send_signal(15)


class ForkedProvisioner(LocalProvisioner):
    """LocalProvisioner (connection file, ports, shutdown), with the kernel forked in the slot, not started."""

    async def launch_kernel(self, cmd, **kwargs):
        self.process = self.parent.box.launch(self.parent.connection_file)
        self.pid = self.pgid = None
        return self.connection_info
