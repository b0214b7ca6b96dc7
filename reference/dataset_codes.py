"""The shipped VAE's mu code of every Fashion-MNIST item, so Ex5 can tell a reconstruction from a generated image.

    python -m reference.dataset_codes   # `make dataset-codes`: writes reference/checkpoints/dataset_codes.npz

Ex5 asks for generated variations; a student who hands in the encoder's codes of real items hands in
reconstructions. Grading reads these codes (shipped, pinned as DATASET_CODES_SHA256 in reference/lesson.py) instead of
encoding the dataset on whatever CPU grades, and never needs the dataset. float16 is enough: a student's own mu of an
item lies within 0.002 (L2) of its stored code, a code one step of 0.02 along an interpolation away from an item lies
0.1 from it, and the prior's samples and noise around a category centre lie farther than 1 from every item's
(tests/test_dataset_codes.py).

The file (numpy .npz, read with allow_pickle=False): train, test: (60000, 32) and (10000, 32) float16 mu codes, in
the dataset's order; meta: JSON with the VAE's sha256.
"""
import io
import json
import sys
import zipfile

import numpy as np

from reference import lesson

SPLITS = ("train", "test")
REAL_ITEM_DISTANCE = 0.02  # L2: 10x a student's own mu of an item from its stored float16 code, on any CPU


def compute() -> dict:
    """{split: (N, 32) float16 mu} from the shipped VAE, in float32 as students compute them."""
    import torch

    from reference import data
    from reference.checkpoints import load_model

    vae = load_model("vae")
    codes = {}
    with torch.no_grad():
        for split in SPLITS:
            images = data.load(split).images
            codes[split] = torch.cat([vae.encode(batch)[0] for batch in images.split(1000)]).numpy().astype(np.float16)
    return codes


def write(codes: dict, path=None) -> str:
    """Writes a byte-stable .npz (fixed zip timestamps) and returns its sha256."""
    from reference.data import sha256_of

    path = path or lesson.DATASET_CODES
    meta = json.dumps({"VAE_SHA256": lesson.VAE_SHA256, "dtype": "float16", "splits": list(SPLITS)}, sort_keys=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in [*codes.items(), ("meta", np.array(meta))]:
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0)), buffer.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    return sha256_of(path)


def read_verified(path=None, expected_sha256=None) -> dict:
    """{split: (N, 32) float32 codes}; ValueError naming the fix when the file is missing or not the pinned one."""
    from reference.data import sha256_of

    path, expected = path or lesson.DATASET_CODES, expected_sha256 or lesson.DATASET_CODES_SHA256
    fix = ("Restore the kit's files (`git checkout -- reference`), or after retraining the VAE run `make dataset-codes` "
           "and pin the sha256 it prints as DATASET_CODES_SHA256 in reference/lesson.py.")
    if not path.is_file():
        raise ValueError(f"The dataset codes {path} are missing. {fix}")
    if (actual := sha256_of(path)) != expected:
        raise ValueError(f"The dataset codes {path} failed verification: sha256 is {actual}, expected {expected}. {fix}")
    with np.load(path, allow_pickle=False) as npz:
        if json.loads(npz["meta"].item())["VAE_SHA256"] != lesson.VAE_SHA256:
            raise ValueError(f"The dataset codes {path} belong to another VAE. {fix}")
        return {split: npz[split].astype(np.float32) for split in SPLITS}


def real_items(codes: np.ndarray, stored: dict) -> list:
    """For each (32,) code: (split, index) of the real item whose stored code lies within REAL_ITEM_DISTANCE, or
    None. Squared distances by one matrix product per chunk (0.1 s for 500 codes against 70,000 items)."""
    codes = np.asarray(codes, dtype=np.float32)
    found = [None] * len(codes)
    for split, items in stored.items():
        items_sq = (items ** 2).sum(1)
        for start in range(0, len(codes), 100):
            chunk = codes[start:start + 100]
            squared = (chunk ** 2).sum(1)[:, None] + items_sq[None] - 2 * chunk @ items.T
            nearest = squared.argmin(1)
            for row, index in enumerate(nearest):
                if found[start + row] is None and squared[row, index] <= REAL_ITEM_DISTANCE ** 2:
                    found[start + row] = (split, int(index))
    return found


def main() -> int:
    sha256 = write(compute())
    print(f"Wrote {lesson.DATASET_CODES}\nPin it in reference/lesson.py: DATASET_CODES_SHA256 = \"{sha256}\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
