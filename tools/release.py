"""`make release`: the source notebook from the lesson's text, the README's generated tables, then nbgrader's release.

    python -m tools.release

Run after editing lesson/latent_space.md, course_config.py or an exercise (autograder/exercises/). The kit is
never a course: nbgrader gets a scratch gradebook, removed afterwards.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import course_config as cfg
from lesson import build
from tools import readme


def main() -> int:
    status = build.main()
    if status:
        return status
    readme.main()
    bin_dir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` from the same environment
    with tempfile.TemporaryDirectory() as scratch:
        return subprocess.run([os.path.join(bin_dir, "nbgrader"), "generate_assignment", cfg.ASSIGNMENT_ID, "--force",
                               "--db", f"sqlite:///{scratch}/gradebook.db"], cwd=cfg.COURSE_ROOT,
                              env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}).returncode


if __name__ == "__main__":
    sys.exit(main())
