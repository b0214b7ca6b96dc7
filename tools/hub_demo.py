"""A real JupyterHub on 127.0.0.1 to try the whole course: an instructor and two students as Unix users.

    make hub-demo          # as root; open http://127.0.0.1:8000, log in as a user it prints; Ctrl-C stops it

It sets up a site (LATENT_LAB_SITE, default /srv/latent_lab) the way the README's JupyterHub recipe says:
  env/       the kit's .venv, hard-linked (every user runs it; it holds nothing of the course)
  data/      Fashion-MNIST, read-only (LATENT_LAB_DATA in every server)
  exchange/  nbgrader's exchange, mode 1777
  jupyter/   nbgrader settings for everyone (course id, exchange); jupyter/student/ locks the instructor menus
  hub/       the hub's database and cookie secret (root only)
and, in the instructor's home (mode 0700), a copy of the kit and a course folder made by `init-course`, with
~/.jupyter/nbgrader_config.py pointing formgrader at it. Then it runs jupyterhub with hub/jupyterhub_config.py
until Ctrl-C (or SIGTERM), which stops every user's server too.
"""
import argparse
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import course_config as cfg
from autograder.course_folder import hub_wide_nbgrader_settings

KIT = cfg.COURSE_ROOT


@dataclass(frozen=True)
class Users:
    """Who the hub lets in: one instructor and the students, Unix users made (or kept) by setup()."""
    instructor: str
    students: tuple


DEMO = Users("latentlab-instructor", ("latentlab-alice", "latentlab-bob"))  # the tests make users of their own
PASSWORD = "latent-lab-demo"  # demo users on a hub that listens on 127.0.0.1 only
INSTRUCTOR_MENUS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                    "@jupyter/nbgrader:course-list"]
KIT_COPY_SKIP = {".venv", "data", "demo_output", "node_modules", ".git", ".pytest_cache", "__pycache__"}


def home(user: str) -> Path:
    return Path(pwd.getpwnam(user).pw_dir)


def course_folder(instructor: str) -> Path:
    return home(instructor) / "latent_lab_course"


def kit_copy(instructor: str) -> Path:
    return home(instructor) / "latent_lab_kit"


def ensure_user(name: str, password: str = PASSWORD) -> None:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    home(name).chmod(0o700)  # students' homes hold their work: private, as on a real hub


def run_as(user: str, site: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{site}/env/bin:/usr/bin:/bin", "HOME": str(home(user)), "LATENT_LAB_DATA": f"{site}/data",
           "JUPYTER_CONFIG_PATH": f"{site}/jupyter"}  # the kit: installed in env (instructor_course)
    done = subprocess.run(["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                           f"{site}/env/bin/python", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} as {user} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def shared_environment(site: Path) -> None:
    """env/: the kit's .venv hard-linked (instant, no extra disk) or copied; rebuilt when requirements change."""
    env = site / "env"
    stamp = hashlib.sha256((KIT / "requirements.txt").read_bytes() + b"own scripts").hexdigest()
    if (env / ".latent_lab_requirements").exists() and (env / ".latent_lab_requirements").read_text() == stamp:
        return
    shutil.rmtree(env, ignore_errors=True)
    if subprocess.run(["cp", "-al", KIT / ".venv", env], capture_output=True).returncode != 0:
        shutil.rmtree(env, ignore_errors=True)
        subprocess.run(["cp", "-a", KIT / ".venv", env], check=True)  # another filesystem: a real copy
    own_scripts(env)
    (env / ".latent_lab_requirements").write_text(stamp)
    subprocess.run(["chmod", "-R", "a+rX", env], check=True)


def own_scripts(env: Path) -> None:
    """The env's commands (nbgrader, jupyter, ...) start the env's own Python: a copied venv's scripts name the
    kit's .venv, which nobody else can reach when the kit's folder is its owner's alone (0700). Each is replaced,
    not edited in place: a hard-linked copy shares its files with the kit's .venv."""
    kit_python, own_python = f"#!{KIT / '.venv'}/bin/".encode(), f"#!{env}/bin/".encode()
    for script in (env / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with open(script, "rb") as f:
            if not f.read(len(kit_python)) == kit_python:
                continue
        fresh = script.with_name(f".{script.name}.tmp")
        fresh.write_bytes(script.read_bytes().replace(kit_python, own_python, 1))
        fresh.chmod(script.stat().st_mode)
        os.replace(fresh, script)


def shared_data(site: Path) -> None:
    raw = Path(cfg.DATA_DIR) / "FashionMNIST" / "raw"
    target = site / "data" / "FashionMNIST" / "raw"
    if not target.is_dir():
        shutil.copytree(raw, target)
    subprocess.run(["chmod", "-R", "a+rX,go-w", site / "data"], check=True)


def jupyter_settings(site: Path) -> None:
    (site / "jupyter" / "student" / "labconfig").mkdir(parents=True, exist_ok=True)
    (site / "jupyter" / "labconfig").mkdir(exist_ok=True)
    (site / "jupyter" / "labconfig" / "page_config.json").write_text(json.dumps(  # an offline hub: no news to fetch
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}, indent=1))
    (site / "jupyter" / "nbgrader_config.py").write_text(
        '"""nbgrader settings for every user of this hub (JUPYTER_CONFIG_PATH)."""\n'
        "c = get_config()  # noqa: F821\n" + "".join(f"{line}\n" for line in hub_wide_nbgrader_settings(site / "exchange")))
    (site / "jupyter" / "jupyter_server_config.py").write_text(
        '"""Every user\'s server (JUPYTER_CONFIG_PATH): JupyterHub forbids framing by default (frame-ancestors \'none\'),\n'
        'which blanks Nbgrader > Formgrader in a JupyterLab tab; framing by the same server only is allowed."""\n'
        "c = get_config()  # noqa: F821\n"
        "c.ServerApp.tornado_settings = {\"headers\": {\"Content-Security-Policy\": \"frame-ancestors 'self'\"}}\n"
        "# terminals as interactive, not login, shells: a login shell's /etc/profile resets PATH and loses the env's bin\n"
        "c.ServerApp.terminado_settings = {\"shell_command\": [\"/bin/bash\", \"-i\"]}\n")
    menus = {name: True for name in INSTRUCTOR_MENUS}
    (site / "jupyter" / "student" / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": menus, "lockedExtensions": menus}, indent=1))
    subprocess.run(["chmod", "-R", "a+rX,go-w", site / "jupyter"], check=True)


def instructor_course(site: Path, instructor: str) -> Path:
    """A copy of the kit in the instructor's home, installed in the shared env as the README's recipe says (the
    `latent-lab` command, for whoever can read the kit: the instructor), and a course folder; both theirs alone."""
    kit = kit_copy(instructor)
    for old in (kit.iterdir() if kit.exists() else []):  # refreshed below
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    shutil.copytree(KIT, kit, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if n in KIT_COPY_SKIP])
    subprocess.run(["chown", "-R", f"{instructor}:{instructor}", kit], check=True)
    kit.chmod(0o700)
    subprocess.run([site / "env" / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-e", kit], check=True, capture_output=True)
    course = course_folder(instructor)
    run_as(instructor, site, "-m", "autograder", "init-course", course, "--exchange", site / "exchange", cwd=kit)
    run_as(instructor, site, "-m", "nbgrader", "generate_assignment", cfg.ASSIGNMENT_ID, "--force", cwd=course)
    user_config = home(instructor) / ".jupyter" / "nbgrader_config.py"
    user_config.parent.mkdir(exist_ok=True)
    user_config.write_text(f"c = get_config()  # noqa: F821\nc.CourseDirectory.root = {str(course)!r}\n")
    subprocess.run(["chown", "-R", f"{instructor}:{instructor}", user_config.parent], check=True)
    return course


def student_names(course: Path, instructor: str, students, site: Path) -> None:
    """Each student in the gradebook with a name (formgrader lists "None, None" otherwise), as a course would import
    them: `nbgrader db student import students.csv`."""
    roster = course / "students.csv"
    roster.write_text("id,first_name,last_name\n" + "".join(
        f"{s},{s.rsplit('-', 1)[-1].capitalize()},Demo\n" for s in students))
    shutil.chown(roster, instructor, instructor)
    run_as(instructor, site, "-m", "nbgrader", "db", "student", "import", roster, cwd=course)


def setup(site: Path, users: Users = DEMO, fresh: bool = True) -> None:
    """fresh: the course and the students' assignment folders start empty; otherwise (--keep) nothing is deleted."""
    if os.geteuid() != 0:
        raise SystemExit("error: the hub demo makes Unix users and runs JupyterHub with PAM login: run it as root "
                         "(sudo make hub-demo).")
    if not (KIT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        raise SystemExit("error: configurable-http-proxy is missing: run `make hub-demo` (it installs it with npm).")
    for user in (users.instructor, *users.students):
        ensure_user(user)
    if fresh:
        shutil.rmtree(course_folder(users.instructor), ignore_errors=True)
        for student in users.students:
            for folder in (cfg.ASSIGNMENT_ID, ".local/share/jupyter/nbgrader_cache"):
                shutil.rmtree(home(student) / folder, ignore_errors=True)
    for folder, mode in (("", 0o755), ("hub", 0o700), ("exchange", 0o1777)):
        (site / folder).mkdir(parents=True, exist_ok=True)
        (site / folder).chmod(mode)
    shared_environment(site)
    shared_data(site)
    jupyter_settings(site)
    student_names(instructor_course(site, users.instructor), users.instructor, users.students, site)


def start_hub(site: Path, port: int, users: Users = DEMO) -> subprocess.Popen:
    env = {**os.environ, "LATENT_LAB_SITE": str(site), "LATENT_LAB_HUB_PORT": str(port),
           "LATENT_LAB_INSTRUCTORS": users.instructor, "LATENT_LAB_STUDENTS": ",".join(users.students),
           "LATENT_LAB_COURSE": str(course_folder(users.instructor))}  # the grading service serves it
    log = open(site / "hub" / "jupyterhub.log", "ab")
    hub = subprocess.Popen([f"{site}/env/bin/python", "-m", "jupyterhub", "-f", str(KIT / "hub" / "jupyterhub_config.py")],
                           cwd=site / "hub", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(120):  # bounded: the hub answers within seconds, or has stopped
        if hub.poll() is not None:
            raise RuntimeError(f"jupyterhub stopped (exit {hub.returncode}); see {site}/hub/jupyterhub.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api", timeout=2)
            return hub
        except OSError:
            time.sleep(0.5)
    stop_hub(hub)
    raise RuntimeError(f"jupyterhub did not answer on 127.0.0.1:{port}; see {site}/hub/jupyterhub.log")


def stop_hub(hub: subprocess.Popen) -> None:
    """SIGTERM: jupyterhub stops the users' servers and its proxy, then exits; anything left is killed."""
    if hub.poll() is None:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(hub.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    hub.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=Path(os.environ.get("LATENT_LAB_SITE", "/srv/latent_lab")))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keep", action="store_true", help="keep the demo course and the students' assignment "
                                                           "folders from the last run (by default it starts over)")
    args = parser.parse_args(argv)
    setup(args.site, DEMO, fresh=not args.keep)
    if KIT.stat().st_mode & 0o005:
        print(f"WARNING: this kit's folder {KIT} can be read by other users, so the demo students can read its "
              f"solutions (the demo's own copy in {home(DEMO.instructor)} is private). On a real hub keep the kit "
              f"private: chmod 700 {KIT}.", flush=True)
    hub = start_hub(args.site, args.port)
    print(f"JupyterHub is up: http://127.0.0.1:{args.port}\n"
          f"  instructor: {DEMO.instructor}   students: {', '.join(DEMO.students)}   password (all): {PASSWORD}\n"
          f"  course folder: {course_folder(DEMO.instructor)} (formgrader: Nbgrader > Formgrader once logged in)\n"
          f"  hub log: {args.site}/hub/jupyterhub.log\nCtrl-C stops the hub and every user's server.", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while hub.poll() is None and not stopping:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stop_hub(hub)
    print("JupyterHub stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
