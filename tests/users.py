"""Unix users for tests of what one user can do to another's files (the tests run as root, as CI does)."""
import subprocess
from pathlib import Path

import course_config as cfg

KIT = cfg.COURSE_ROOT
# The tests' own throwaway users, removed when their module ends: never the hub demo's (tools/hub_demo.py DEMO), whose
# course and students' work a test must not find, change or delete.
INSTRUCTOR, ALICE, BOB, CAROL = "lltest-instructor", "lltest-alice", "lltest-bob", "lltest-carol"


def ensure_user(name: str) -> str:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    return name


def remove_user(name: str) -> None:
    """The user, their home and anything still running as them (a notebook server, a kernel) gone."""
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)


def as_user(name: str, kit_view: Path) -> list:
    """A command prefix: run as `name`, with the kit (and its .venv) at kit_view, an empty folder every user can
    reach, wherever the clone itself lives (a clone under /root is private to root)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            f'mount --bind "$0" {kit_view} && exec runuser -u {name} -- "$@"', str(KIT)]
