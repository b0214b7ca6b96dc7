"""A course folder of its own: nbgrader's course root, apart from the kit, private to the instructor.

    python -m autograder init-course ~/latent_lab_course [--exchange /srv/nbgrader/exchange]

It holds nbgrader_config.py (the kit's pipeline and settings, this folder as the course root), the assignment's
source (the notebook with its solutions), and a .gitignore for what nbgrader writes. Mode 0700: no student reads
the solutions, the gradebook, grades.csv or anyone's submission, and no one but the instructor can replace a
submission before autograde. Run it again after `make release` to refresh the source and config: submitted/,
autograded/, feedback/, release/ and gradebook.db are never touched. It prints the settings the hub needs.
"""
import argparse
import os
import shutil
import stat
import sys
from pathlib import Path

import course_config as cfg

CONFIG = '''"""nbgrader settings for this course folder. Written by `python -m autograder init-course`, which rewrites it:
change settings in the kit's course_config.py ({kit}), then rerun init-course."""
c = get_config()  # noqa: F821
load_subconfig("nbgrader_config.py", path={kit!r})  # noqa: F821  the kit's grading pipeline and settings
c.CourseDirectory.root = {root!r}
'''
EXCHANGE = 'c.Exchange.root = {exchange!r}\n'
GITIGNORE = """# What nbgrader writes here (students' work and grades): never in version control
submitted/
autograded/
feedback/
release/
gradebook.db
grades.csv
.ipynb_checkpoints/
"""
WRITTEN_BY_NBGRADER = ["submitted", "autograded", "feedback", "release", "gradebook.db"]


class NotACourse(ValueError):
    """The folder exists, is not empty and was not made by init-course: nothing is written."""


def init_course(root: Path, exchange: str = None) -> Path:
    """Make (or refresh) the course folder at root; returns its resolved path."""
    root = Path(root).expanduser().resolve()
    kit = cfg.COURSE_ROOT.resolve()
    demo = cfg.DEMO_OUTPUT_DIR.resolve()  # gitignored: `make demo` keeps its course there
    if (root == kit or kit in root.parents) and not (root == demo or demo in root.parents):
        raise NotACourse(f"{root} is inside the kit ({kit}): nbgrader's files (students' work, grades) would show "
                         "up in the kit's git status. Pick a folder outside it, e.g. ~/latent_lab_course.")
    if root.exists() and any(root.iterdir()) and not (root / "nbgrader_config.py").exists():
        raise NotACourse(f"{root} is not empty and has no nbgrader_config.py: it is not a course folder made by "
                         "init-course, so nothing was written. Pick a new or empty folder.")
    old_umask = os.umask(0o077)  # what is made here is the instructor's alone
    try:
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        source = root / "source" / cfg.ASSIGNMENT_ID
        if source.exists():
            shutil.rmtree(source)
        shutil.copytree(kit / "source" / cfg.ASSIGNMENT_ID, source)  # links resolved: vae.pt and the contract
        for path in [source.parent, source, *source.rglob("*")]:  # copytree kept the kit's modes (0755, 0644)
            path.chmod(path.stat().st_mode & 0o700)
        config = CONFIG.format(kit=str(kit), root=str(root))
        if exchange:
            config += EXCHANGE.format(exchange=str(exchange))
        write(root / "nbgrader_config.py", config)
        write(root / ".gitignore", GITIGNORE)
    finally:
        os.umask(old_umask)
    return root


def write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def readable_by_others(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & (stat.S_IROTH | stat.S_IXOTH))


def hub_wide_nbgrader_settings(exchange: str) -> list:
    """The lines of the nbgrader_config.py every user's server reads: the course, its exchange, and Validate's
    per-cell limit set to the grader's (nbgrader's own default is 30 s, the notebook promises more)."""
    return [f"c.CourseDirectory.course_id = {cfg.COURSE_ID!r}",
            f"c.Exchange.root = {str(exchange)!r}",
            f"c.Execute.timeout = {cfg.CELL_TIMEOUT_SECONDS}  # Validate's per-cell limit: the grader's"]


def hub_settings(root: Path, exchange: str = None) -> str:
    """What the hub and the instructor's server need to find this course (printed by init-course)."""
    kit = cfg.COURSE_ROOT.resolve()
    exchange = exchange or "/srv/nbgrader/exchange"
    lines = [
        f"Course folder ready: {root} (mode 0700: the instructor's alone)",
        "",
        "Grade from it (nbgrader reads nbgrader_config.py in the current folder):",
        f"  cd {root} && nbgrader generate_assignment {cfg.ASSIGNMENT_ID} && nbgrader release_assignment "
        f"{cfg.ASSIGNMENT_ID}",
        f"  cd {root} && latent-lab autograde {cfg.ASSIGNMENT_ID} --workers 2   "
        f"(or: PYTHONPATH={kit} {sys.executable} -m autograder ...)",
        "",
        "Instructor's ~/.jupyter/nbgrader_config.py (formgrader finds the course here; the course must sit under the",
        "instructor's server root, e.g. c.ServerApp.root_dir = the home folder):",
        f"  c.CourseDirectory.root = {str(root)!r}",
        "",
        "Hub-wide /etc/jupyter/nbgrader_config.py (every user; the exchange must exist, mode 1777):",
        *(f"  {line}" for line in hub_wide_nbgrader_settings(exchange)),
        "",
        "jupyterhub_config.py: the kit's hub/jupyterhub_config.py shows the rest (roles, data, environment).",
        f"Data: set LATENT_LAB_DATA to a read-only copy of Fashion-MNIST made by `make data` (now {cfg.DATA_DIR}).",
    ]
    if readable_by_others(kit):
        lines += ["", f"WARNING: the kit's folder {kit} can be read by other users: students could read the "
                      f"solutions. Run: chmod o-rwx {kit}  (students need only the Python environment and the "
                      "data, kept outside the kit)."]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="the course folder to make (outside the kit)")
    parser.add_argument("--exchange", help="nbgrader's exchange folder, when not /srv/nbgrader/exchange")


def run(args) -> int:
    try:
        root = init_course(args.folder, args.exchange)
    except NotACourse as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(hub_settings(root, args.exchange))
    return 0
