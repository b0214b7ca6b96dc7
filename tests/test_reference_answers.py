"""Is everything that decides a verdict shipped, pinned and proved on this machine, and never fitted at grading time?"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import course_config as cfg
from autograder import reference_answers
from autograder.reference_answers import Reference, ReferenceProblem, get_reference, read_shipped
from reference import data, derive, lesson
from reference.data import sha256_of


@pytest.fixture
def fresh_reference():
    """get_reference() as a new grading process sees it; the next test gets a fresh one too."""
    get_reference.cache_clear()
    yield get_reference
    get_reference.cache_clear()


def shipped_copy(tmp_path, monkeypatch, change=None):
    """The shipped file rewritten with change(values) applied, pinned in its place for this test."""
    with np.load(lesson.REFERENCE_ANSWERS, allow_pickle=False) as npz:
        values = {name: npz[name] for name in npz.files}
    if change:
        change(values)
    path = tmp_path / "reference_answers.npz"
    derive.write(values, path)
    monkeypatch.setattr(lesson, "REFERENCE_ANSWERS", path)
    monkeypatch.setattr(lesson, "REFERENCE_SHA256", sha256_of(path))
    return path


def test_the_shipped_file_is_pinned_small_and_derived_by_the_current_code_and_settings():
    assert sha256_of(lesson.REFERENCE_ANSWERS) == lesson.REFERENCE_SHA256
    assert lesson.REFERENCE_ANSWERS.stat().st_size < 2 * 2**20, "committed: keep it small"
    _, _, meta = read_shipped()
    assert meta["code_sha256"] == derive.code_digest(), (
        "reference/derive.py, judge.py, solutions.py or vae.py changed since the shipped reference answers were "
        "derived: run `make reference` and pin the printed REFERENCE_SHA256 in reference/lesson.py")
    assert meta["settings"] == derive.settings()


def test_this_machine_recomputes_the_shipped_values_far_inside_the_grading_tolerances():
    reference = get_reference()
    worst = {}
    for ratio, name, index, shipped, here, atol in reference_answers.differences(reference):
        worst[atol] = max(worst.get(atol, 0), abs(here - shipped))
    assert worst[lesson.REFERENCE_MATCH_ATOL["float32"]] <= lesson.REFERENCE_MATCH_ATOL["float32"]
    assert worst[lesson.REFERENCE_MATCH_ATOL["float64"]] <= lesson.REFERENCE_MATCH_ATOL["float64"]
    assert lesson.REFERENCE_MATCH_ATOL["float32"] * 100 <= cfg.LATENT_TOLERANCE["atol"]
    assert reference.sha256 == lesson.REFERENCE_SHA256


def test_grading_never_fits_the_judge_nor_reads_the_dataset(fresh_reference, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("grading fitted or recomputed what is shipped")

    for name in ("fit_judge", "derive"):
        monkeypatch.setattr(derive, name, refuse)
    monkeypatch.setattr(data, "load", refuse)
    monkeypatch.setattr(data, "stage", refuse)
    reference = fresh_reference()
    assert reference["ex5.judge.w1"].shape == (lesson.EX5_JUDGE_RECIPE["hidden"], 32)


def test_a_value_this_machine_computes_otherwise_stops_grading_naming_it(tmp_path, monkeypatch, fresh_reference):
    """As a CPU or torch that computes the grid 1e-3 away would: a MachineProblem naming the value, where, both
    numbers and the tolerance, never a grade against other numbers."""
    def nudge(values):
        values["ex4.decoded_grid"][3, 4, 10, 12] += 1e-3

    shipped_copy(tmp_path, monkeypatch, nudge)
    with pytest.raises(ReferenceProblem) as stopped:
        fresh_reference()
    message = str(stopped.value)
    assert "ex4.decoded_grid[3, 4, 10, 12]" in message and "difference 0.001" in message
    assert f"allowed {lesson.REFERENCE_MATCH_ATOL['float32']:g}" in message and "torch" in message


def test_a_judge_path_that_computes_otherwise_stops_grading(monkeypatch, fresh_reference):
    """The grader's float64 model itself off by a hair (as another BLAS might be): the probe catches it."""
    original = reference_answers.Float64VAE.__init__

    def slightly_off(self, vae):
        original(self, vae)
        with torch.no_grad():
            self.model.decoder_fc.bias.add_(1e-6)

    monkeypatch.setattr(reference_answers.Float64VAE, "__init__", slightly_off)
    with pytest.raises(ReferenceProblem, match=r"probe\.reencoded"):
        fresh_reference()


def test_one_flipped_byte_is_refused_naming_the_pin(tmp_path, monkeypatch, fresh_reference):
    path = shipped_copy(tmp_path, monkeypatch)
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))
    with pytest.raises(ReferenceProblem, match="failed verification.*REFERENCE_SHA256.*make reference"):
        fresh_reference()


def test_a_missing_file_says_how_to_restore_it(tmp_path, monkeypatch, fresh_reference):
    monkeypatch.setattr(lesson, "REFERENCE_ANSWERS", tmp_path / "gone.npz")
    with pytest.raises(ReferenceProblem, match="missing.*git checkout"):
        fresh_reference()


def test_a_file_derived_with_other_lesson_numbers_is_refused(monkeypatch, fresh_reference):
    monkeypatch.setattr(lesson, "EX3_N_SAMPLES", 19)
    with pytest.raises(ReferenceProblem, match="EX3_N_SAMPLES is 19 in reference/lesson.py, was 20.*make reference"):
        fresh_reference()


def test_the_bars_follow_the_configured_share_without_refitting(monkeypatch):
    values, sha256, meta = read_shipped()
    monkeypatch.setattr(cfg, "EX5_ON_TARGET_SHARE", 0.25)
    reference = Reference(values, get_reference().vae, sha256, meta)
    recall, false_named = values["ex5.judge.recall"], values["ex5.judge.false_named"]
    np.testing.assert_array_equal(reference["ex5.judge.bar"], false_named + 0.25 * (recall - false_named))


def test_the_grader_decodes_in_float64(fresh_reference):
    reference = fresh_reference()
    codes = np.random.default_rng(0).standard_normal((5, 32))
    decoded = reference.decode(codes)
    assert decoded.dtype == np.float64 and decoded.shape == (5, 28, 28)
    with torch.no_grad():
        float32 = reference.vae.decode(torch.from_numpy(codes).float()).squeeze(1).double().numpy()
    assert 0 < np.abs(decoded - float32).max() < 1e-5  # the same model, more digits


@pytest.mark.slow
def test_make_reference_derives_the_shipped_file_again(tmp_path):
    """`python -m reference.derive` from the VAE and the data (~40 s): the lesson's answers as shipped within the
    float32 tolerance, the judge's bars within 0.01 (a judge fitted on another CPU moves them by up to 0.006), and
    on the machine that made the shipped file, the very same bytes."""
    out = tmp_path / "again.npz"
    run = subprocess.run([sys.executable, "-m", "reference.derive", "--out", str(out)], cwd=cfg.COURSE_ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f'REFERENCE_SHA256 = "{sha256_of(out)}"' in run.stdout
    with np.load(out, allow_pickle=False) as npz:
        again = {name: npz[name] for name in npz.files}
    shipped, _, meta = read_shipped()
    assert sorted(again) == sorted([*shipped, "meta"])
    for name in derive.lesson_answers(get_reference().vae, derive.probe_items(shipped)):
        np.testing.assert_allclose(again[name], shipped[name], rtol=0, atol=lesson.REFERENCE_MATCH_ATOL["float32"])
    share = cfg.EX5_ON_TARGET_SHARE
    from reference.judge import bars

    np.testing.assert_allclose(bars(again, share), bars(shipped, share), rtol=0, atol=0.01)
    made_here = json.loads(again["meta"].item())["machine"] == meta["machine"] and meta["torch"] == torch.__version__
    if made_here:
        assert sha256_of(out) == lesson.REFERENCE_SHA256


def test_the_reference_is_read_without_writing_anything_or_any_dataset(tmp_path):
    """A kit copy with no dataset and no cache folder: a fresh process gets the verified reference and leaves the
    copy as it was (run as another user, the kit is read-only too: tests/test_sandbox.py grades that way)."""
    kit = tmp_path / "kit"
    shutil.copytree(cfg.COURSE_ROOT, kit, ignore=shutil.ignore_patterns(".venv", "data", "demo_output", ".git",
                                                                            "node_modules", "__pycache__"))
    before = sorted(str(p.relative_to(kit)) for p in kit.rglob("*"))
    env = {"PATH": "/usr/bin:/bin", "LATENT_LAB_DATA": str(tmp_path / "no_data"), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-c", "from autograder.reference_answers import get_reference; "
                          "print(get_reference().sha256)"], cwd=kit, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == lesson.REFERENCE_SHA256
    assert sorted(str(p.relative_to(kit)) for p in kit.rglob("*")) == before
    assert not (tmp_path / "no_data").exists()


def test_a_reference_that_cannot_be_read_stops_grading_and_zeroes_nobody(tmp_path, monkeypatch, fresh_reference):
    """Whatever goes wrong reading it (here a corrupt VAE checkpoint, or an array of another shape), grading stops
    with a MachineProblem, never a zero for each student."""
    from autograder.errors import MachineProblem

    shipped_copy(tmp_path, monkeypatch, lambda values: values.update({"ex4.decoded_grid": np.zeros((9, 9, 28, 28))}))
    with pytest.raises(MachineProblem, match="could not be read or checked"):
        fresh_reference()
    monkeypatch.setattr(lesson, "VAE_SHA256", "0" * 64)
    with pytest.raises(MachineProblem, match="vae.pt failed verification"):
        fresh_reference()
