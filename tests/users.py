"""Unix users for tests of what one user can do to another's files (the tests run as root, as CI does)."""
import subprocess
from pathlib import Path

import course_config as cfg

KIT = cfg.COURSE_ROOT


def ensure_user(name: str) -> str:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    return name


def as_user(name: str, kit_view: Path) -> list:
    """A command prefix: run as `name`, with the kit (and its .venv) at kit_view, an empty folder every user can
    reach, wherever the clone itself lives (a clone under /root is private to root)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            f'mount --bind "$0" {kit_view} && exec runuser -u {name} -- "$@"', str(KIT)]
