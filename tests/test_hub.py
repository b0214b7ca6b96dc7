"""The whole course on a real JupyterHub, in headless Chromium: the instructor releases in formgrader, a student
fetches in the Assignments tab, runs the notebook and submits, and reads the grading service's feedback (Fetch
Feedback) within a minute; the instructor collects, autogrades again (the kit's pipeline, sandboxed, as the
unprivileged instructor) and sees the per-check table; feedback goes back and the student reads it; grades are
exported. A student cannot open formgrader. Screenshots of each step go to
demo_output/hub_screenshots/ (CI keeps them as artifacts)."""
import csv
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from tests import users
from tools import corpus, hub_demo

pytestmark = [pytest.mark.slow,  # a hub, four browser sessions, one notebook run and one autograde: ~3 minutes
              pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix users and runs JupyterHub: run as root (CI does)")]
SHOTS = cfg.DEMO_OUTPUT_DIR / "hub_screenshots"
A = cfg.ASSIGNMENT_ID
INSTRUCTOR, ALICE = users.INSTRUCTOR, users.ALICE
USERS = hub_demo.Users(INSTRUCTOR, (users.ALICE, users.BOB))  # the tests' own, never the demo's


def free_port_block() -> int:
    """A port p with p, p+1 and p+2 free on 127.0.0.1 (the hub's proxy, hub API and proxy API)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000 and all(_free(p) for p in (port, port + 1, port + 2)):
            return port
    raise RuntimeError("no three free ports in a row on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def hub():
    if not shutil.which("chromedriver") or not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium and chromium-driver are missing: `make test` installs them (as root).")
    site = Path(tempfile.mkdtemp(prefix="latent_lab_hub_", dir="/tmp"))
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    hub_demo.setup(site, USERS, fresh=True)
    port = free_port_block()
    process = hub_demo.start_hub(site, port, USERS)
    try:
        yield {"site": site, "url": f"http://127.0.0.1:{port}"}
    finally:
        hub_demo.stop_hub(process)
        shutil.rmtree(site, ignore_errors=True)
        for user in (USERS.instructor, *USERS.students):
            users.remove_user(user)


class Browser:
    """One user's headless Chromium session, logged in through the hub's PAM login page."""

    def __init__(self, hub, user):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1000"):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        self.hub, self.user = hub, user
        self.get("/hub/login")
        self.find("#username_input").send_keys(user)
        self.find("#password_input").send_keys(hub_demo.PASSWORD)
        self.find("#login_submit").click()
        self.wait(lambda d: d.find_elements("css selector", ".jp-LabShell"), 240)  # the server spawns first

    def get(self, path):
        self.driver.get(self.hub["url"] + path)

    def find(self, css):
        return self.wait(lambda d: d.find_elements("css selector", css), 60)[0]

    def wait(self, condition, timeout=60):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        from selenium.common.exceptions import TimeoutException

        # JupyterLab re-renders lists as they load: an element found a moment ago may be gone; look again
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.5,
                                 ignored_exceptions=[StaleElementReferenceException]).until(condition)
        except TimeoutException:
            self.shot(f"failed_{self.user}_{len(list(SHOTS.glob('failed_*')))}")  # what the page showed instead
            raise

    def text(self) -> str:
        return self.driver.find_element("css selector", "body").text

    def shot(self, name):
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def menu(self, top, item):
        self.wait(lambda d: [e for e in d.find_elements("css selector", ".lm-MenuBar-itemLabel") if e.text == top])[0].click()
        self.wait(lambda d: [e for e in d.find_elements("css selector", ".lm-Menu-itemLabel") if e.text == item])[0].click()

    def button(self, label, timeout=60):
        return self.wait(lambda d: [b for b in d.find_elements("css selector", "button")
                                    if b.text == label and b.is_displayed()], timeout)[0]

    def formgrader_action(self, column, timeout=300) -> str:
        """Click a formgrader action (the link in the assignment's column) and return its dialog's text."""
        self.wait(lambda d: [a for a in d.find_elements("css selector", f"td.{column} a") if a.is_displayed()])[0].click()
        dialog = self.wait(lambda d: [m for m in d.find_elements("css selector", ".modal-dialog") if m.is_displayed()],
                           timeout)[0]
        self.wait(lambda d: "Success" in dialog.text or "Error" in dialog.text, timeout)
        return dialog.text

    def close_dialog(self):
        self.find(".modal-footer button").click()
        self.wait(lambda d: not [m for m in d.find_elements("css selector", ".modal-dialog") if m.is_displayed()])

    def quit(self):
        self.driver.quit()


def restart_server(b, timeout=300):
    """Stop and start the user's server from the hub's control panel, as a patient user would.

    A stop slower than the hub's slow_stop_timeout (10 s; a loaded machine shutting down kernels) leaves it
    pending: "Start My Server" then lands on "Your server is stopping", which reloads into "not running" and
    waits for a click on Launch; the user asks again until the server is up.
    """
    b.get("/hub/home")
    b.find("#stop").click()
    b.wait(lambda d: not d.find_element("css selector", "#stop").is_displayed(), 120)
    deadline = time.monotonic() + timeout
    while True:
        b.get(f"/hub/spawn/{b.user}")  # what "Start My Server" links to
        page = b.wait(lambda d: ("lab" if d.find_elements("css selector", ".jp-LabShell") else
                                 "stopping" if "is stopping" in b.text() else
                                 "not running" if d.find_elements("css selector", "a#start") else None),
                      max(1, deadline - time.monotonic()))
        if page == "lab":
            return
        assert time.monotonic() < deadline, f"{b.user}'s server still shows '{page}' after {timeout} s"
        time.sleep(2)


def as_student(hub, action):
    browser = Browser(hub, ALICE)
    try:
        return action(browser)
    finally:
        browser.quit()


def as_instructor(hub, action):
    browser = Browser(hub, INSTRUCTOR)
    try:
        browser.get(f"/user/{INSTRUCTOR}/formgrader")
        browser.wait(lambda d: "Manage Assignments" in d.title or "nbgrader" in d.title)
        return action(browser)
    finally:
        browser.quit()


def test_release_fetch_run_submit_collect_autograde_feedback_export_in_a_browser(hub):
    def formgrader_in_a_jupyterlab_tab(b):  # JupyterHub forbids framing unless the site's config allows it
        b.get(f"/user/{INSTRUCTOR}/lab")
        b.menu("Nbgrader", "Formgrader")
        frame = b.wait(lambda d: [f for f in d.find_elements("css selector", "iframe") if f.is_displayed()])[0]
        b.driver.switch_to.frame(frame)
        b.wait(lambda d: "Manage Assignments" in b.text())
        b.driver.switch_to.default_content()
        b.shot("00_instructor_formgrader_in_jupyterlab")
    as_instructor(hub, formgrader_in_a_jupyterlab_tab)

    def release(b):
        message = b.formgrader_action("release")
        b.shot("01_instructor_released")
        assert f"Successfully released '{A}'" in message, message
    as_instructor(hub, release)

    notebook = hub_demo.home(ALICE) / A / f"{A}.ipynb"

    def fetch_run_submit(b):
        b.menu("Nbgrader", "Assignment List")
        b.button("Fetch").click()
        b.button("Submit")
        b.shot("02_student_fetched")
        assert "BEGIN SOLUTION" not in notebook.read_text()
        # what alice types into the TODO cells (a full-marks answer), saved over the fetched notebook
        nbformat.write(corpus.notebook("passes_all"), notebook)
        shutil.chown(notebook, ALICE, ALICE)
        b.get(f"/user/{ALICE}/lab/tree/{A}/{A}.ipynb")
        b.wait(lambda d: "Idle" in d.find_element("css selector", ".jp-StatusBar-Widget").text, 120)
        b.menu("Run", "Run All Cells")
        code_cells = sum(c.cell_type == "code" for c in nbformat.read(notebook, 4).cells)
        b.wait(lambda d: [p.text for p in d.find_elements("css selector", ".jp-CodeCell .jp-InputArea-prompt")]
               == [f"[{n}]:" for n in range(1, code_cells + 1)], 600)
        b.menu("File", "Save Notebook")
        b.wait(lambda d: all(c.get("execution_count") for c in nbformat.read(notebook, 4).cells
                             if c.cell_type == "code"), 60)
        b.shot("03_student_ran_the_notebook")
        b.menu("Nbgrader", "Assignment List")
        b.button("Submit").click()
        submitted = time.monotonic()
        b.wait(lambda d: "There are no submitted assignments" not in b.text() and b.button("Fetch Feedback"))
        b.shot("04_student_submitted")
        # the grading service (a managed service of the hub) collects, grades and releases: she asks for it
        deadline = submitted + 60
        while "view feedback" not in b.text():
            assert time.monotonic() < deadline, "no feedback within 60 s of Submit"
            b.button("Fetch Feedback").click()
            time.sleep(3)
        feedback = next((hub_demo.home(ALICE) / A / "feedback").rglob(f"{A}.html"))
        b.get(f"/user/{ALICE}/files/" + urllib.parse.quote(str(feedback.relative_to(hub_demo.home(ALICE)))))
        b.wait(lambda d: "Exercise 3: latent arithmetic" in b.text() and "Graded by the course's autograder" in b.text())
        table = b.driver.find_elements("xpath", "//*[contains(text(), 'Exercise 3: latent arithmetic')]")[0]
        b.driver.execute_script("arguments[0].scrollIntoView();", table)
        b.shot("05_student_reads_feedback_seconds_after_submit")
        for check in cfg.CHECK_POINTS["ex3_arithmetic"]:
            assert check in b.text()
        assert "attempt 1" in b.text() and "BEGIN HIDDEN TESTS" not in b.driver.page_source
    as_student(hub, fetch_run_submit)
    log = (hub["site"] / "hub" / "jupyterhub.log").read_text()
    assert f"{ALICE}: " in log and "feedback released" in log  # the service's line for her submission

    def collect_autograde_look(b):
        message = b.formgrader_action("collect")  # the service collected her already: nothing new, no error
        assert f"No newer submission to collect: {ALICE} {A}" in message, message
        b.shot("05b_instructor_collected")
        b.close_dialog()
        b.get(f"/user/{INSTRUCTOR}/formgrader/manage_submissions/{A}")
        message = b.formgrader_action("autograde", timeout=600)
        assert f"Successfully autograded '{A}' for student '{ALICE}'" in message, message
        assert "Attribute 'checksum'" not in message and "[DEBUG]" not in message, message  # no false alarm, no dump
        b.close_dialog()
        b.wait(lambda d: f"{corpus.TOTAL:g} / " in b.text())
        b.shot("06_instructor_autograded")
        b.get(f"/user/{INSTRUCTOR}/formgrader/manage_students")
        b.wait(lambda d: "Demo, Alice" in b.text())  # the names from the course's roster, never "None, None"
        assert "None, None" not in b.text()
        b.get(f"/user/{INSTRUCTOR}/formgrader/manage_students/{ALICE}/{A}")
        submission = b.wait(lambda d: [a.get_attribute("href") for a in d.find_elements("css selector", "tbody a")
                                       if "/submissions/" in (a.get_attribute("href") or "")])[0]
        b.driver.get(submission)
        b.wait(lambda d: "Exercise 3: latent arithmetic" in b.text())
        table = b.driver.find_elements("xpath", "//*[contains(text(), 'Exercise 3: latent arithmetic')]")[0]
        b.driver.execute_script("arguments[0].scrollIntoView();", table)
        b.shot("07_instructor_sees_the_per_check_table")
        for check in cfg.CHECK_POINTS["ex3_arithmetic"]:
            assert check in b.text()
        b.get(f"/user/{INSTRUCTOR}/formgrader")
        assert "Successfully generated feedback" in b.formgrader_action("generate-feedback")
        b.close_dialog()
        assert "Successfully released feedback" in b.formgrader_action("release-feedback")
        b.shot("08_instructor_released_feedback")
    as_instructor(hub, collect_autograde_look)

    def read_feedback(b):
        b.menu("Nbgrader", "Assignment List")
        b.button("Fetch Feedback").click()
        b.wait(lambda d: "view feedback" in b.text())
        feedback = next((hub_demo.home(ALICE) / A / "feedback").rglob(f"{A}.html"))
        b.get(f"/user/{ALICE}/files/" + urllib.parse.quote(str(feedback.relative_to(hub_demo.home(ALICE)))))
        b.wait(lambda d: "Exercise 3: latent arithmetic" in b.text())
        b.shot("09_student_reads_feedback")
        assert "BEGIN HIDDEN TESTS" not in b.driver.page_source
    as_student(hub, read_feedback)

    course = hub_demo.course_folder(INSTRUCTOR)
    said = hub_demo.home(INSTRUCTOR) / "terminal_said.txt"
    said.unlink(missing_ok=True)

    def commands_in_a_jupyterlab_terminal(b):  # as the README says, typed by the instructor, as the instructor
        b.get(f"/user/{INSTRUCTOR}/lab")
        b.wait(lambda d: [c for c in d.find_elements("css selector", ".jp-LauncherCard") if c.text == "Terminal"])[0].click()
        typed = b.find(".xterm-helper-textarea")
        time.sleep(2)  # the shell's prompt: keys typed before it are echoed but may be lost
        typed.send_keys(f"cd ~/latent_lab_course && {{ command -v latent-lab && latent-lab autograde {A} --force && "
                        f"nbgrader generate_feedback {A} --force && latent-lab regrade {A} && "
                        f"latent-lab report {A} --out report.html && nbgrader export --to grades.csv; }} "
                        f"> {said} 2>&1; echo \"exit $?\" >> {said}; tail -n 5 {said}\n")
        for _ in range(400):  # bounded: autograde, feedback, regrade, report and export take about a minute
            if said.exists() and "exit " in said.read_text():
                break
            time.sleep(1)
        time.sleep(1)
        b.shot("10_instructor_commands_in_a_terminal")
    as_instructor(hub, commands_in_a_jupyterlab_terminal)
    output = said.read_text()
    assert output.splitlines()[0] == str(hub["site"] / "env" / "bin" / "latent-lab"), output
    # every command of the env starts the env's Python, never the kit's .venv (its owner's alone, 0700, on a hub)
    starts = {script.name: script.read_bytes().split(b"\n", 1)[0] for script in (hub["site"] / "env" / "bin").iterdir()
              if script.is_file() and not script.is_symlink() and script.read_bytes()[:2] == b"#!"}
    assert starts["nbgrader"].startswith(f"#!{hub['site']}/env/bin/".encode()), starts["nbgrader"]
    assert [name for name, line in starts.items() if str(hub_demo.KIT).encode() in line] == []
    assert output.rstrip().endswith("exit 0"), output
    assert "Traceback" not in output and "SAWarning" not in output and "INFO traitlets" not in output, output
    assert (course / "report.html").stat().st_uid == hub_demo.home(INSTRUCTOR).stat().st_uid
    with open(course / "grades.csv") as f:
        grades = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert grades[ALICE] == corpus.TOTAL


def test_a_student_cannot_open_formgrader_even_after_turning_it_on(hub):
    config = hub_demo.home(ALICE) / ".jupyter" / "jupyter_server_config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text('{"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": true}}}')
    shutil.chown(config.parent, ALICE, ALICE)
    try:
        def look(b):
            restart_server(b)  # she restarts from the hub's control panel: her server reads her new config file
            b.get(f"/user/{ALICE}/formgrader")
            b.wait(lambda d: "404" in b.text() or "Not Found" in b.text())
            b.shot("10_student_formgrader_is_404")
            b.get(f"/user/{ALICE}/lab")
            b.wait(lambda d: d.find_elements("css selector", ".lm-MenuBar-itemLabel"))
            b.menu("Nbgrader", "Assignment List")
            items = [e.text for e in b.driver.find_elements("css selector", ".lm-Menu-itemLabel") if e.text]
            assert "Formgrader" not in items and "Create assignment" not in items
        as_student(hub, look)
    finally:
        config.unlink()
    assert re.search(r"^c\.CourseDirectory\.root", (hub_demo.home(INSTRUCTOR) / ".jupyter" /
                                                    "nbgrader_config.py").read_text(), re.M)
