"""Is Fashion-MNIST found offline, staged for torchvision, and refused with a clear message when broken?"""
import gzip
import shutil

import pytest
import torch
from torchvision import datasets, transforms

import course_config as cfg
from reference import lesson
from reference import data


def test_real_test_set_is_complete_and_scaled_like_to_tensor(test_set):
    assert len(test_set) == 10_000
    assert test_set.images.shape == (10_000, 1, 28, 28) and test_set.images.dtype == torch.float32
    assert test_set.labels[0].item() == 9 and lesson.CATEGORY_NAMES[9] == "Ankle boot"
    assert torch.bincount(test_set.labels).tolist() == [1000] * 10
    # Same tensors the lesson's `datasets.FashionMNIST(..., transform=ToTensor())` gives, item by item.
    lesson_view = datasets.FashionMNIST(cfg.DATA_DIR, train=False, download=True, transform=transforms.ToTensor())
    for i in (0, 1, 9_999):
        image, label = lesson_view[i]
        assert label == test_set[i][1]
        torch.testing.assert_close(image, test_set.images[i], rtol=0, atol=0)


def test_train_split_has_60000_images():
    train = data.load("train")
    assert len(train) == 60_000 and torch.bincount(train.labels).tolist() == [6000] * 10


def debian_style_folder(folder):
    """The four files gzipped, as Debian's dataset-fashion-mnist ships them."""
    folder.mkdir()
    for name in lesson.FASHION_MNIST_SHA256:
        with open(data.raw_dir(cfg.DATA_DIR) / name, "rb") as fin, gzip.open(folder / f"{name}.gz", "wb", 1) as fout:
            shutil.copyfileobj(fin, fout)
    return folder


def test_stage_from_debian_style_gz_folder(tmp_path):
    """Does staging decompress .gz files into FashionMNIST/raw/ so torchvision loads offline?"""
    source = debian_style_folder(tmp_path / "debian")
    root = data.stage(tmp_path / "root", sources=[str(source)], download=False)
    assert datasets.FashionMNIST(root, train=False, download=True).targets[0].item() == 9


def test_empty_folder_gives_one_clear_message(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError) as err:
        data.stage(tmp_path / "root", sources=[str(tmp_path / "empty")], download=False)
    message = str(err.value)
    assert "no copy was found in" in message and str(tmp_path / "empty") in message
    assert "apt-get install dataset-fashion-mnist" in message and "FASHION_MNIST_DIR" in message


def test_corrupt_staged_file_is_named(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(data.raw_dir(cfg.DATA_DIR), data.raw_dir(root))
    broken = data.raw_dir(root) / "t10k-labels-idx1-ubyte"
    payload = bytearray(broken.read_bytes())
    payload[100] ^= 0xFF
    broken.write_bytes(bytes(payload))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte is corrupt"):
        data.stage(root, sources=[], download=False)


def test_truncated_gz_source_is_reported_not_staged(tmp_path):
    source = debian_style_folder(tmp_path / "source")
    gz = source / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:10_000])
    with pytest.raises(data.DataError, match="Could not read .*train-images-idx3-ubyte.gz"):
        data.stage(tmp_path / "root", sources=[str(source)], download=False)
    assert not (data.raw_dir(tmp_path / "root") / "train-images-idx3-ubyte").exists()


def test_cli_prints_fix_instead_of_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cfg, "DATA_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(cfg, "FASHION_MNIST_SOURCES", [str(tmp_path / "missing")])
    monkeypatch.setattr(data, "_download_with_torchvision", lambda root, sources: None)  # as if offline
    assert data.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Fashion-MNIST is not usable") and "Traceback" not in err
