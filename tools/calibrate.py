"""Calibrate the tolerances in course_config.py: how far honest answers drift, how far classic mistakes land.

    python -m tools.calibrate

Honest drift: the reference answers recomputed with 1 vs all CPU threads, oneDNN off, one-at-a-time decoding,
and the whole model in float64, float16 and bfloat16 (a student's `model.half()` is correct work too). On a
machine with CUDA it adds the GPU, with TF32 allowed as cuDNN does by default.
Mistakes: the smallest distance from the reference to any answer the diagnosis catalogue can rebuild.
A tolerance is sound when every drift is well inside it and every mistake well outside it.
"""
import contextlib
import copy

import numpy as np
import torch

import course_config as cfg
from autograder.diagnoses import CATALOGUE
from autograder.reference_answers import get_reference
from reference import data, solutions
from reference.checkpoints import load_model


def answers(model, test_set, dtype=torch.float32, device="cpu", single=False):
    """Ex3 latents and the Ex4 grid computed by `model` cast to dtype, back as float64 numpy."""
    model = copy.deepcopy(model).to(device=device, dtype=dtype)
    images = test_set.images.to(dtype)  # solutions move batches to the model's device
    cast = data.ImageSet(images, test_set.labels)
    ex3 = solutions.ex3_arithmetic(model, cast)
    codes = solutions.ex4_grid_latents().reshape(-1, 32).to(device=device, dtype=dtype)
    with torch.no_grad():
        decoded = (torch.cat([model.decode(z[None]) for z in codes]) if single else model.decode(codes))
    grid = decoded.reshape(10, 10, 28, 28)
    return {"latents": torch.cat([ex3["boot_direction"], ex3["z_result"]]).double().cpu().numpy(),
            "pixels": grid.double().cpu().numpy()}


@contextlib.contextmanager
def threads(n):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def drift_table(model, test_set):
    base = answers(model, test_set)
    conditions = {}
    with threads(1):
        conditions["1 CPU thread"] = answers(model, test_set)
    with torch.backends.mkldnn.flags(enabled=False):
        conditions["oneDNN off"] = answers(model, test_set)
    conditions["decode one code at a time"] = answers(model, test_set, single=True)
    conditions["model in float64"] = answers(model, test_set, dtype=torch.float64)
    for name, dtype in (("model in float16", torch.float16), ("model in bfloat16", torch.bfloat16)):
        try:
            conditions[name] = answers(model, test_set, dtype=dtype)
        except RuntimeError as err:  # an op without a CPU kernel for this dtype on this torch
            print(f"  ({name}: not supported on this CPU: {err})")
    if torch.cuda.is_available():  # a student who trained or ran on a GPU: cuDNN picks other kernels
        name = torch.cuda.get_device_name()
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
            conditions[f"{name}, TF32 {'on' if tf32 else 'off'}"] = answers(model, test_set, device="cuda")
        # TF32 stays on below, as cuDNN's default leaves it
        conditions[f"{name}, one code at a time"] = answers(model, test_set, device="cuda", single=True)
        for label, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
            conditions[f"{name}, model in {label}"] = answers(model, test_set, dtype=dtype, device="cuda")
    return {name: {k: float(np.abs(v - base[k]).max()) for k, v in result.items()} for name, result in conditions.items()}


def mistake_margins(reference):
    context = {"reference": reference, "student_direction": reference["ex3.boot_direction"]}
    margins = {}
    for diagnosis in CATALOGUE:
        expected = reference[diagnosis.quantity]
        for candidate, detail in diagnosis.candidates({**context, "got": expected}):
            if candidate.shape != expected.shape or candidate is expected:
                continue
            distance = float(np.abs(candidate - expected).max())
            key = diagnosis.name
            margins[key] = min(margins.get(key, np.inf), distance)
    return margins


def main() -> int:
    model, test_set = load_model("vae"), data.load("test")
    print("Honest drift (max |difference| from float32 batched CPU on all threads):")
    print(f"  {'condition':30s} {'latents':>10s} {'pixels':>10s}")
    for name, drift in drift_table(model, test_set).items():
        print(f"  {name:30s} {drift['latents']:10.2e} {drift['pixels']:10.2e}")
    print("\nClassic mistakes (smallest max |difference| from the reference):")
    for name, distance in sorted(mistake_margins(get_reference()).items(), key=lambda kv: kv[1]):
        print(f"  {name:30s} {distance:10.3f}")
    print(f"\nTolerances in course_config.py: LATENT_TOLERANCE {cfg.LATENT_TOLERANCE}, "
          f"IMAGE_TOLERANCE {cfg.IMAGE_TOLERANCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
