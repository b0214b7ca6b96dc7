"""The maintainer's guide's recipe for a new graded exercise, done to a copy of the kit: lesson text, a config entry,
one exercise module, one checks module, `make release` (tools.release), and nothing else. The copy then grades a
notebook with the new exercise, and an incomplete exercise stops the release with its name."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import course_config as cfg

KIT = Path(cfg.COURSE_ROOT)
LESSON_TEXT = '''
---

## Exercise 6: The origin

The prior is a standard normal centred on the origin of the latent space. Build the origin's code.

```{code-cell}
:nbgrader: {grade_id: ex6_origin, solution: true}

# TODO: origin_code, the latent code of the origin: shape (1, LATENT_DIM), all zeros
### BEGIN SOLUTION
origin_code = torch.zeros(1, LATENT_DIM)
### END SOLUTION
```

```{code-cell}
:nbgrader: {grade: true, grade_id: ex6_origin_tests, locked: true}

{{ tests_for('ex6_origin') }}
```
'''
EXERCISE_MODULE = '''"""Ex6: origin_code, the latent code of the origin."""
from autograder import contract
from reference import lesson

LATENT_DIM = lesson.VAE_RECIPE["latent_dim"]
TITLE = "Exercise 6: the origin"
FORMAT_SUMMARY = "origin_code is in the format the autograder reads; it judges its values."


def format_rules() -> list:
    return [("latent_code", "origin_code", {"latent_dim": LATENT_DIM})]


def origin_code(answers):
    return contract.latent_code(answers.get("origin_code"), "origin_code", LATENT_DIM)


def pictures(answers, reference) -> list:
    return []
'''
CHECKS_MODULE = '''"""Ex6: origin_code."""
import numpy as np

import course_config as cfg
from autograder.compare import CheckFailed
from autograder.exercises.ex6_origin import origin_code


def test_origin(student, reference):
    got = origin_code(student)
    if np.abs(got).max() > cfg.LATENT_TOLERANCE["atol"]:
        raise CheckFailed(f"origin_code is not the origin: its largest entry is {np.abs(got).max():.3g}. "
                          "The origin's code is all zeros.")
'''
CONFIG_EDITS = [('    "ex5_experiment": ["TARGET_CATEGORY", "experiment_latents"],\n',
                 '    "ex5_experiment": ["TARGET_CATEGORY", "experiment_latents"],\n    "ex6_origin": ["origin_code"],\n'),
                ('    "ex5_experiment": {"contract": 1.0, "diversity": 1.0, "on_target": 2.0},\n',
                 '    "ex5_experiment": {"contract": 1.0, "diversity": 1.0, "on_target": 2.0},\n'
                 '    "ex6_origin": {"origin": 1.0},\n')]


def copy_of_the_kit(folder: Path) -> Path:
    """The kit's files as a clone has them (data and .venv stay where they are)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=KIT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (KIT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(KIT / name, folder / name, follow_symlinks=False)
    return folder


def in_copy(kit: Path, *args, check=True) -> subprocess.CompletedProcess:
    """A command of the copy's kit, with this environment's Python (the copy's modules first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(kit), "LATENT_LAB_DATA": str(cfg.DATA_DIR),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([sys.executable, *args], cwd=kit, env=env, capture_output=True, text=True, timeout=1200)
    assert not check or run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run


def add_the_exercise(kit: Path, with_checks=True) -> None:
    with open(kit / "lesson" / "latent_space.md", "a") as lesson_text:
        lesson_text.write(LESSON_TEXT)
    config = (kit / "course_config.py").read_text()
    for old, new in CONFIG_EDITS:
        assert old in config
        config = config.replace(old, new)
    (kit / "course_config.py").write_text(config)
    (kit / "autograder" / "exercises" / "ex6_origin.py").write_text(EXERCISE_MODULE)
    if with_checks:
        (kit / "autograder" / "checks" / "test_ex6_origin.py").write_text(CHECKS_MODULE)


@pytest.mark.slow  # a release and two notebooks graded in a copy of the kit: about 2 minutes
def test_a_new_exercise_needs_four_files_and_grades(tmp_path):
    kit = copy_of_the_kit(tmp_path / "kit")
    add_the_exercise(kit)
    in_copy(kit, "-m", "tools.release")
    source = kit / "source" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb"
    assert "check_format(globals(), [('latent_code', 'origin_code'" in source.read_text()
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(source, submissions / "right.ipynb")
    wrong = source.read_text().replace("origin_code = torch.zeros(1, LATENT_DIM)", "origin_code = torch.ones(1, LATENT_DIM)")
    (submissions / "wrong.ipynb").write_text(wrong)
    in_copy(kit, "-m", "autograder", "grade", str(submissions), "--quiet", "--json", str(tmp_path / "results.json"))
    results = json.loads((tmp_path / "results.json").read_text())
    total = sum(sum(checks.values()) for checks in cfg.CHECK_POINTS.values()) + 1.0
    assert (results["right.ipynb"]["score"], results["right.ipynb"]["max_score"]) == (total, total)
    origin = {t["name"]: t for t in results["wrong.ipynb"]["tests"]}["ex6_origin: origin"]
    assert results["wrong.ipynb"]["score"] == total - 1 and origin["score"] == 0
    assert "origin_code is not the origin: its largest entry is 1." in origin["output"]


def test_an_exercise_without_its_checks_stops_the_release_with_its_name(tmp_path):
    kit = copy_of_the_kit(tmp_path / "kit")
    add_the_exercise(kit, with_checks=False)
    run = in_copy(kit, "-m", "tools.release", check=False)
    assert run.returncode != 0
    assert "grades 'ex6_origin', but autograder/checks/test_ex6_origin.py do not exist" in run.stderr
