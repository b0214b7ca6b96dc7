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

Caps (course_config.SANDBOX_LIMITS): memory per process (RLIMIT_DATA), file size (RLIMIT_FSIZE), processes
(RLIMIT_NPROC, counted inside the box's user namespace; root is exempt from it, so as root a pids cgroup does it
where one is writable), tmpfs sizes; time caps live in the executor.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

import course_config as cfg
from autograder import contract

EXPORTER = Path(contract.__file__).resolve()
HOME = "/home/student"
ANSWERS = "/answers"
DATA = "/data"
SANDBOX_UID = 65534  # "nobody": owns nothing outside
CGROUP_V1 = Path("/sys/fs/cgroup")


class MachineProblem(RuntimeError):
    """Grading cannot run on this machine: stop the batch with the reason, never blame a student for it."""


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


def _python_binds() -> list:
    """The venv and the Python it was made from, read-only at their own paths."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    args = []
    for root in sorted(roots):
        if not str(root).startswith(("/usr/", "/bin/", "/lib")) and str(root) != "/usr":
            args += ["--ro-bind", str(root), str(root)]
    if Path(sys.prefix).resolve() != Path(sys.prefix):  # a venv reached through a link
        args += ["--symlink", str(Path(sys.prefix).resolve()), sys.prefix]
    return args


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


class Box:
    """One submission's sandbox: host folders for the sockets and the answers, and the bwrap command."""

    def __init__(self, assignment_files, answer_names):
        self.bwrap = check_available()
        self.host_dir = Path(tempfile.mkdtemp(prefix="latent_lab_box_"))
        self.socket_dir = self.host_dir / "kernel"
        self.answers_dir = self.host_dir / "answers"
        self.socket_dir.mkdir()
        self.answers_dir.mkdir()
        self.answer_files = []
        for name in answer_names:  # the kernel may write these files and create nothing else
            path = self.answers_dir / f"{name}.npz"
            path.touch()
            self.answer_files.append(path)
        passwd = self.host_dir / "passwd"
        passwd.write_text(f"student:x:{SANDBOX_UID}:{SANDBOX_UID}::{HOME}:/bin/sh\n")
        group = self.host_dir / "group"
        group.write_text(f"student:x:{SANDBOX_UID}:\n")
        for folder in (self.host_dir, self.socket_dir, self.answers_dir):
            folder.chmod(0o755)
        self.assignment_files = [Path(f) for f in assignment_files]
        self.cgroup = Cgroup()

    def environment(self) -> dict:
        """The kernel's whole environment: nothing of the grader's (--clearenv)."""
        return {"HOME": HOME, "USER": "student", "LOGNAME": "student", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
                contract.ANSWERS_DIR_ENV: ANSWERS, "LATENT_LAB_EXPORTER": "/opt/latent_lab/contract.py",
                "LATENT_LAB_DATA": DATA, "NBGRADER_EXECUTION": "autograde"}

    def command(self, kernel_argv: list) -> list:
        limits = cfg.SANDBOX_LIMITS
        # tmpfs mounts first: a venv that lives under /tmp (a CI clone) must stay visible on top of them
        args = [self.bwrap, *_system_binds(),
                "--proc", "/proc", "--dev", "/dev",
                "--size", str(limits["tmp_mb"] * 2**20), "--tmpfs", "/dev/shm",
                "--size", str(limits["tmp_mb"] * 2**20), "--tmpfs", "/tmp",
                "--size", str(limits["work_mb"] * 2**20), "--tmpfs", HOME,
                *_python_binds(),
                "--ro-bind", str(self.host_dir / "passwd"), "/etc/passwd",
                "--ro-bind", str(self.host_dir / "group"), "/etc/group"]
        for item in self.assignment_files:
            args += ["--ro-bind", str(item), f"{HOME}/{item.name}"]
        args += ["--ro-bind", str(EXPORTER), "/opt/latent_lab/contract.py"]
        if Path(cfg.DATA_DIR).is_dir():
            args += ["--ro-bind", str(Path(cfg.DATA_DIR).resolve()), DATA]
        args += ["--dir", ANSWERS]
        for path in self.answer_files:
            args += ["--bind", str(path), f"{ANSWERS}/{path.name}"]
        args += ["--bind", str(self.socket_dir), str(self.socket_dir),
                 "--remount-ro", "/",
                 "--chdir", HOME, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        args += ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
                 "--disable-userns", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--"]
        # env -i: bwrap's own process (PID 1 in the box) must not carry the grader's environment in /proc/1/environ
        return [*self.cgroup.join_command(), "/usr/bin/env", "-i", *args, *with_rlimits(kernel_argv)]

    def close(self):
        self.cgroup.close()
        shutil.rmtree(self.host_dir, ignore_errors=True)


def with_rlimits(argv: list) -> list:
    """Set the per-process caps in the box, then exec the kernel (inherited by everything it starts)."""
    limits = cfg.SANDBOX_LIMITS
    setup = (
        "import os, resource as r, sys\n"
        f"r.setrlimit(r.RLIMIT_DATA, ({limits['memory_mb']} << 20,) * 2)\n"
        f"r.setrlimit(r.RLIMIT_FSIZE, ({limits['file_mb']} << 20,) * 2)\n"
        f"r.setrlimit(r.RLIMIT_NPROC, ({limits['processes']},) * 2)\n"
        "r.setrlimit(r.RLIMIT_CORE, (0, 0))\n"
        "null = os.open('/dev/null', os.O_RDWR)\n"  # the kernel's own fds never reach the grader's terminal
        "for fd in (0, 1, 2): os.dup2(null, fd)\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n")
    return [sys.executable, "-I", "-c", setup, *argv]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel that starts inside a box and talks over ipc sockets in its socket folder. Use for_box()."""

    box: Box = None

    def __init__(self, *args, **kwargs):
        kwargs.update(transport="ipc", ip=str(self.box.socket_dir / "k"),
                      connection_file=str(self.box.socket_dir / "kernel.json"))
        super().__init__(*args, **kwargs)

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(self.box.socket_dir / "kernel.json")]
        return self.box.command(kernel)

    @classmethod
    def for_box(cls, box: Box) -> type:
        """nbclient wants a class, not an instance: one subclass per box."""
        return type("BoxKernelManager", (cls,), {"box": box})
