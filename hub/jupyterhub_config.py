"""JupyterHub for the Latent Lab course. `make hub-demo` runs it on 127.0.0.1 (tools/hub_demo.py sets up the site);
for a real hub, copy it and edit the five settings below.

Users log in with their Unix password (PAM); each gets a single-user server running as that user, from the shared
Python environment (readable by all, holding nothing of the course). Instructors get formgrader; students get the
assignment list and validate only: their servers start with the instructor extensions turned off on the command
line, which no config file of their own can turn back on. What students cannot read is settled by Unix permissions
(the kit and the course folder are the instructor's, mode 0700), not by which buttons they see.
"""
import os

c = get_config()  # noqa: F821

# The five settings of a site (tools/hub_demo.py passes them as environment variables)
SITE = os.environ.get("LATENT_LAB_SITE", "/srv/latent_lab")  # env/, data/, exchange/, jupyter/ (made by the demo)
INSTRUCTORS = set(os.environ.get("LATENT_LAB_INSTRUCTORS", "latentlab-instructor").split(","))
STUDENTS = set(os.environ.get("LATENT_LAB_STUDENTS", "latentlab-alice,latentlab-bob").split(","))
PORT = int(os.environ.get("LATENT_LAB_HUB_PORT", "8000"))
# The course folder the grading service serves (the instructor's, made by `latent-lab init-course`); empty: no service
COURSE = os.environ.get("LATENT_LAB_COURSE", "")

HERE = os.path.dirname(os.path.abspath(__file__))
INSTRUCTOR_ONLY = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]

c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [os.path.join(HERE, "node_modules", ".bin", "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{SITE}/hub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{SITE}/hub/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{SITE}/hub/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS

c.JupyterHub.spawner_class = "localprocess"
# `python -m`: the environment may be a copy of the kit's .venv whose scripts still name the kit's Python
c.Spawner.cmd = [f"{SITE}/env/bin/python", "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"  # formgrader needs the course folder under the server's root: it is in the home
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180
c.Spawner.environment = {
    "PATH": f"{SITE}/env/bin:/usr/local/bin:/usr/bin:/bin",
    "LATENT_LAB_DATA": f"{SITE}/data",        # the shared, read-only Fashion-MNIST (the notebook reads it)
    "JUPYTER_CONFIG_PATH": f"{SITE}/jupyter",  # nbgrader_config.py for everyone: course id and exchange
}


def per_role(spawner):
    """Students' servers start without the instructor extensions (command-line settings beat every config file), and
    their JupyterLab hides and locks the instructor menus (jupyter/student/labconfig/page_config.json)."""
    if spawner.user.name not in INSTRUCTORS:
        spawner.args = [arg for name in INSTRUCTOR_ONLY for arg in ("--ServerApp.jpserver_extensions", f"{name}=False")]
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": f"{SITE}/jupyter/student:{SITE}/jupyter"}


c.Spawner.pre_spawn_hook = per_role

# The grading service: started and stopped with the hub (and started again if it ends), as the first instructor,
# from the course root; it grades each submission as it arrives and releases its feedback (`latent-lab serve`).
# Its log lines (one per submission) are in the hub's log.
if COURSE:
    GRADER = sorted(INSTRUCTORS)[0]
    c.JupyterHub.services = [{
        "name": "latent-lab-grader",
        "user": GRADER,
        "cwd": COURSE,
        "command": [f"{SITE}/env/bin/python", "-m", "autograder", "serve"],
        "environment": {"PATH": f"{SITE}/env/bin:/usr/local/bin:/usr/bin:/bin", "LATENT_LAB_DATA": f"{SITE}/data",
                        "JUPYTER_CONFIG_PATH": f"{SITE}/jupyter"},
    }]
