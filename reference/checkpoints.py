"""Self-describing checkpoints, verified before they are trusted.

A checkpoint is a plain dict (tensors, numbers, strings, lists) so `torch.load(weights_only=True)` reads it:
    state_dict, model_args (rebuild the model from the file alone), recipe, history, metrics, torch_version.
Loading checks the file's sha256 against the pin in reference/lesson.py first, so one changed byte is refused
with a message that names the file and the expected hash.
"""
import os
from pathlib import Path

import torch

from reference import lesson
from reference.classifier import FashionClassifier
from reference.data import sha256_of
from reference.vae import VAE

MODEL_CLASSES = {"vae": VAE, "classifier": FashionClassifier}
PINS = {  # kind -> (path, name of the pin in reference/lesson.py)
    "vae": (lesson.VAE_CHECKPOINT, "VAE_SHA256"),
    "classifier": (lesson.CLASSIFIER_CHECKPOINT, "CLASSIFIER_SHA256"),
}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or not the pinned one; the message says what to do."""


def save(checkpoint: dict, path: Path) -> None:
    """Write atomically: an interrupted save never leaves a truncated file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def read_verified(path: Path, expected_sha256: str, pin_name: str = "the pin") -> dict:
    """The checkpoint dict, after checking its sha256; CheckpointError with a fix otherwise."""
    path = Path(path)
    fix = ("Restore the shipped file (`git checkout -- {p}`), or retrain with `make checkpoints` and update "
           "{pin} in reference/lesson.py.").format(p=path, pin=pin_name)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} is missing. {fix}")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise CheckpointError(
            f"Checkpoint {path} failed verification: sha256 is {actual}, expected {expected_sha256} "
            f"({pin_name} in reference/lesson.py). The file is corrupt, truncated or not the shipped one. {fix}"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pinned hash but unreadable: written by an incompatible torch
        raise CheckpointError(f"Checkpoint {path} matches its pin but torch cannot read it: {err}") from None


def build_model(checkpoint: dict) -> torch.nn.Module:
    model = MODEL_CLASSES[checkpoint["kind"]](**checkpoint["model_args"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def load_checkpoint(kind: str) -> dict:
    path, pin_name = PINS[kind]
    return read_verified(path, getattr(lesson, pin_name), pin_name)


def load_model(kind: str, device="cpu") -> torch.nn.Module:
    """The shipped, verified model ('vae' or 'classifier') in eval mode."""
    return build_model(load_checkpoint(kind)).to(device)
