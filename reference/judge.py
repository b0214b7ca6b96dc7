"""Ex5's judge as numbers: a verdict for each re-encoded code, from the shipped weights and gates, in float64.

Fitted once by `make reference` (reference/derive.py) and shipped in reference/checkpoints/reference_answers.npz;
grading only reads it, so every machine judges with the same numbers.
"""
import contextlib
import copy

import numpy as np
import torch

from reference import lesson

NO_CATEGORY = 10  # the verdict for an image whose code lies where no category's decodes lie


def verdict_name(label: int) -> str:
    return lesson.CATEGORY_NAMES[label] if label < NO_CATEGORY else "like no category"


def judge_codes(values: dict, z: np.ndarray) -> np.ndarray:
    """Verdicts for re-encoded codes (n, 32): a 32-hidden-10 network names a category, and the code must lie where
    EX5_JUDGE_TYPICAL of that category's own re-encoded decodes lie (its gate), else NO_CATEGORY."""
    w1, b1, w2, b2 = (np.asarray(values[f"ex5.judge.{k}"], dtype=np.float64) for k in ("w1", "b1", "w2", "b2"))
    label = (np.maximum(z @ w1.T + b1, 0) @ w2.T + b2).argmax(1)
    offset = z - values["ex5.judge.gate_mean"][label]
    distance = np.einsum("ni,nij,nj->n", offset, values["ex5.judge.gate_precision"][label], offset)
    return np.where(distance <= values["ex5.judge.gate_limit"][label], label, NO_CATEGORY)


def bars(values: dict, share: float) -> np.ndarray:
    """Each category's on-target bar: false_named + share * (recall - false_named) (course_config's
    EX5_ON_TARGET_SHARE), from the shipped judge's recall and false naming; float64 arithmetic, the same
    everywhere, so the share is a setting an instructor can change without fitting anything again."""
    return values["ex5.judge.false_named"] + share * (values["ex5.judge.recall"] - values["ex5.judge.false_named"])


@contextlib.contextmanager
def one_thread():
    """torch on one thread for a while: float64 results with 2 threads differ from 1 thread's by 3e-15."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Float64VAE:
    """The shipped VAE in float64 on one thread, for everything the grader computes itself (decoding students' codes,
    the judge's re-encodings, Ex4's decoded-like test). Its results agree to 1e-15 between CPU kernel sets where
    float32's differ by 1e-6, so no verdict rests on the last bits of whichever CPU grades."""

    BATCH = 2000  # images per forward pass: bounded memory for the 40,000 items the judge is fitted on

    def __init__(self, vae):
        self.model = copy.deepcopy(vae).double().eval()

    @torch.no_grad()
    @one_thread()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, 32) codes -> (n, 28, 28) images in [0, 1]."""
        z = torch.from_numpy(np.asarray(codes, dtype=np.float64).reshape(-1, self.model.latent_dim))
        if not len(z):
            return np.zeros((0, 28, 28))
        return torch.cat([self.model.decode(batch) for batch in z.split(self.BATCH)]).squeeze(1).numpy()

    @torch.no_grad()
    @one_thread()
    def encode(self, images: np.ndarray):
        """(n, 28, 28) images -> (mu, logvar), each (n, 32)."""
        x = torch.from_numpy(np.asarray(images, dtype=np.float64).reshape(-1, 1, 28, 28))
        if not len(x):
            return np.zeros((0, self.model.latent_dim)), np.zeros((0, self.model.latent_dim))
        mu, logvar = zip(*[self.model.encode(batch) for batch in x.split(self.BATCH)])
        return torch.cat(mu).numpy(), torch.cat(logvar).numpy()

    def encode_mu(self, images: np.ndarray) -> np.ndarray:
        return self.encode(images)[0]

    def reencode_images(self, images: np.ndarray) -> np.ndarray:
        """What the judge sees of a photo's decode: mu of the decoded image of the photo's mu."""
        return self.encode_mu(self.decode(self.encode_mu(images)))
