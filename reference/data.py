"""Fashion-MNIST, found offline, staged for torchvision and verified by content.

Order of search: FASHION_MNIST_DIR / course_config.FASHION_MNIST_SOURCES (Debian's dataset-fashion-mnist),
then torchvision's own download. The .gz files are decompressed into <root>/FashionMNIST/raw/, which makes
`torchvision.datasets.FashionMNIST(root, download=True)` load without touching the network.

    python -m reference.data        # stage and verify; prints one line, or one clear error
"""
import gzip
import hashlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import course_config as cfg
from reference import lesson

if TYPE_CHECKING:  # torch loads only when images are needed, so `make data` stays fast
    import torch

EXPECTED_SIZES = {"train": 60_000, "test": 10_000}
FIX_HINT = (
    "Fix: `apt-get install dataset-fashion-mnist` (Debian, offline), or set FASHION_MNIST_DIR to a folder "
    "holding the four Fashion-MNIST .gz or raw files, or run on a machine with internet so torchvision can "
    "download it; then `make data`."
)


class DataError(RuntimeError):
    """Fashion-MNIST is missing or corrupt; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def raw_dir(root: Path) -> Path:
    return Path(root) / "FashionMNIST" / "raw"


def raw_problems(root: Path) -> list:
    """What is wrong with the staged files: [] when all four are present with the pinned content."""
    problems = []
    for name, expected in lesson.FASHION_MNIST_SHA256.items():
        path = raw_dir(root) / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif (actual := sha256_of(path)) != expected:
            problems.append(f"{path} is corrupt (sha256 {actual[:12]}..., expected {expected[:12]}...)")
    return problems


def verify_raw(root: Path) -> None:
    """Raise DataError unless all four decompressed files are present with the pinned content."""
    if problems := raw_problems(root):
        raise DataError("Fashion-MNIST is not usable: " + "; ".join(problems) + ".\n" + FIX_HINT)


def _copy_from_source(source: Path, root: Path) -> bool:
    """Decompress (or copy) the four files from `source` into root's raw folder. False if they are not there."""
    found = {}
    for name in lesson.FASHION_MNIST_SHA256:
        for candidate in (source / f"{name}.gz", source / name):
            if candidate.is_file():
                found[name] = candidate
                break
    if len(found) < len(lesson.FASHION_MNIST_SHA256):
        return False
    target_dir = raw_dir(root)
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, src in found.items():
        tmp = target_dir / f".{name}.partial"  # never leave a half-written file under the real name
        try:
            with (gzip.open(src, "rb") if src.suffix == ".gz" else open(src, "rb")) as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            tmp.unlink(missing_ok=True)
            raise DataError(f"Could not read {src}: {err}.\n{FIX_HINT}") from None
        tmp.replace(target_dir / name)
    return True


def stage(root: Path = None, sources=None, download=True) -> Path:
    """Make sure verified Fashion-MNIST lies under root; return root. Raises DataError with a fix.

    download=False skips torchvision's download (tests of the offline path use it)."""
    root = Path(root or cfg.DATA_DIR)
    sources = cfg.FASHION_MNIST_SOURCES if sources is None else sources
    staged_problems = raw_problems(root)
    if not staged_problems:
        return root
    for source in filter(None, sources):
        if _copy_from_source(Path(source), root):
            verify_raw(root)  # a corrupt source is reported, not silently replaced by a download
            return root
    if not download:
        raise DataError(f"Fashion-MNIST is not usable: {'; '.join(staged_problems)}; and no copy was found in "
                        f"{_searched(sources)}.\n{FIX_HINT}")
    _download_with_torchvision(root, sources)
    verify_raw(root)
    return root


def _searched(sources) -> str:
    return ", ".join(str(s) for s in sources if s) or "(no folder configured)"


def _download_with_torchvision(root: Path, sources) -> None:
    from torchvision import datasets

    try:
        for train in (True, False):
            datasets.FashionMNIST(root, train=train, download=True)
    except Exception as err:  # torchvision raises URLError, RuntimeError, ... depending on what failed
        raise DataError(
            f"Fashion-MNIST not found in {_searched(sources)} and the download failed ({type(err).__name__}: {err}).\n{FIX_HINT}"
        ) from None


@dataclass
class ImageSet:
    """Images as float32 in [0, 1] of shape (N, 1, 28, 28), exactly what ToTensor gives, and int64 labels."""
    images: "torch.Tensor"
    labels: "torch.Tensor"

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):  # (image, label) pairs, so the lesson's helpers iterate it like a torchvision set
        return self.images[i], int(self.labels[i])


def load(split: str, root: Path = None) -> ImageSet:
    """The train or test split as tensors (no per-item PIL decoding, so 60,000 images load in about a second)."""
    from torchvision import datasets

    root = stage(root)
    ds = datasets.FashionMNIST(root, train=(split == "train"), download=True)
    images = ds.data.unsqueeze(1).float().div_(255.0)
    if len(images) != EXPECTED_SIZES[split]:
        raise DataError(f"{split} split has {len(images)} images, expected {EXPECTED_SIZES[split]}.\n{FIX_HINT}")
    return ImageSet(images, ds.targets.clone())


def main() -> int:
    try:
        root = stage()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST verified in {raw_dir(root)} (60,000 train / 10,000 test, sha256 pinned in reference/lesson.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
