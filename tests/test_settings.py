"""Every setting of course_config.py is checked, at every entry point, before anyone is graded: a mistyped one stops
with its name, what it must be and the file, never an error inside a kernel run that zeroes the class."""
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

import course_config as cfg
from autograder import cli, reference_answers, run_checks, settings
from autograder.errors import MachineProblem
from autograder.run_checks import load_all_answers

KIT_CONFIG = Path(cfg.COURSE_ROOT) / "nbgrader_config.py"
MISTAKES = [  # what an instructor plausibly types
    ("CELL_TIMEOUT_SECONDS", "120"), ("CELL_TIMEOUT_SECONDS", 0), ("SUBMISSION_TIMEOUT_SECONDS", 60),
    ("SANDBOX", "bubblewrap"), ("SANDBOX_WARM", "yes"), ("GRADING_THREADS", 0), ("CPU_KERNELS", "AVX2"),
    ("SANDBOX_LIMITS", dict(memory_mb=3072, file_mb=256, processes=64, work_mb=512)),  # tmp_mb forgotten
    ("SANDBOX_LIMITS", dict(memory_mb="3G", file_mb=256, processes=64, work_mb=512, tmp_mb=256)),
    ("OUTPUT_LIMIT_BYTES", 2e6), ("LATENT_TOLERANCE", dict(atol=2e-2, rtoll=2e-2)), ("LATENT_TOLERANCE", 0.5),
    ("IMAGE_TOLERANCE", dict(atol=-1, rtol=0)), ("EX5_MIN_CODES", 2.5), ("EX5_ON_TARGET_SHARE", float("nan")),
    ("CHECK_POINTS", {"ex4_grid": {"shape": "1"}}), ("GRADED_ANSWERS", {"ex4_grid": "decoded_grid"}),
    ("SKIP_WHEN_GRADING", "ex1_tsne"), ("COURSE_ID", "latent lab"), ("PREDICT_POINTS", None),
    ("CHECK_POINTS", {**cfg.CHECK_POINTS, "ex3_arithmetic": {"shapes": 1.0, "boot_direction": 1.5}}),  # z_result's lost
    ("GRADED_ANSWERS", {cell: names for cell, names in cfg.GRADED_ANSWERS.items() if cell != "ex4_grid"}),
]


def test_every_setting_has_a_rule_and_the_shipped_ones_pass():
    names = {name for name in vars(cfg) if name.isupper()}
    assert names == set(settings.RULES), "a setting without a rule, or a rule for no setting"
    assert settings.problems() == []


@pytest.mark.parametrize("name", sorted(settings.RULES))
def test_a_value_of_the_wrong_kind_is_named(monkeypatch, name):
    monkeypatch.setattr(cfg, name, object())
    assert [p.split(" ")[0] for p in settings.problems()] == [name]


def test_a_missing_setting_is_named(monkeypatch):
    monkeypatch.delattr(cfg, "CELL_TIMEOUT_SECONDS")
    assert settings.problems() == ["CELL_TIMEOUT_SECONDS is missing: it must be a number of seconds >= 1"]


@pytest.mark.parametrize("name, value", MISTAKES, ids=[f"{n}={v!r}"[:40] for n, v in MISTAKES])
def test_a_mistyped_setting_stops_every_entry_point_before_anyone_is_graded(tmp_path, monkeypatch, capsys, name,
                                                                             value):
    monkeypatch.setattr(cfg, name, value)
    said = rf"{cfg.__file__}.*nothing was graded(?s:.*)\n  (GRADED_ANSWERS and )?{name}\b"
    with pytest.raises(settings.SettingsWrong, match=said):  # the checks (CLI, workers, nbgrader alike)
        run_checks.run_checks(load_all_answers(tmp_path))
    assert issubclass(settings.SettingsWrong, MachineProblem)  # stops the batch; nobody zeroed
    reference_answers.get_reference.cache_clear()  # each grading process before its first submission
    try:
        with pytest.raises(settings.SettingsWrong, match=said):
            reference_answers.get_reference()
    finally:
        reference_answers.get_reference.cache_clear()
    for command in (["grade", str(tmp_path)], ["autograde", "latent_space"], ["regrade", "latent_space"],
                    ["report", "latent_space"], ["init-course", str(tmp_path / "course")], ["dask-certs"]):
        assert cli.main(command) == 2
        assert name in capsys.readouterr().err.split("Fix them and run again:")[1]
    assert not (tmp_path / "course").exists()


def load_kit_config(monkeypatch, program: str):
    monkeypatch.setattr(sys, "argv", [program])
    loader = PyFileConfigLoader(KIT_CONFIG.name, path=str(KIT_CONFIG.parent))
    return loader.load_config()


def test_nbgrader_commands_stop_on_a_mistyped_setting(monkeypatch):
    """nbgrader would log an error in nbgrader_config.py and grade with its own defaults (no sandbox, no checks)."""
    assert load_kit_config(monkeypatch, "/srv/env/bin/nbgrader").Autograde.autograde_preprocessors  # loads
    monkeypatch.setattr(cfg, "SANDBOX", "bubblewrap")
    with pytest.raises(SystemExit, match="Latent Lab cannot grade: .*\n  SANDBOX must be"):
        load_kit_config(monkeypatch, "/srv/env/bin/nbgrader")


def test_formgrader_stays_up_and_refuses_to_autograde_on_a_mistyped_setting(monkeypatch, capsys):
    monkeypatch.setattr(cfg, "SANDBOX", "bubblewrap")
    config = load_kit_config(monkeypatch, "/srv/env/bin/jupyterhub-singleuser")
    assert "cannot grade" in capsys.readouterr().err
    refuse, = config.Autograde.autograde_preprocessors
    assert config.Autograde.sanitize_preprocessors == [refuse]
    with pytest.raises(RuntimeError, match="(?s)Latent Lab cannot grade: .*SANDBOX must be"):
        refuse().preprocess(None, {})
    assert "exporter_class" not in config.Autograde  # nothing else of the kit's flow half-set
