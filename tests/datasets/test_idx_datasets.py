"""IDX files and torchvision-style datasets, on small files written here."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from spikeforge.datasets import MNIST, FashionMNIST, find_idx_files, load_idx_arrays, read_idx


def write_idx(path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(payload)


def make_split(folder, train: bool, n: int, gz: bool = False):
    """``n`` images whose pixel (r, c) of image k is (k + r + c) mod 256; labels k mod 10."""
    folder.mkdir(parents=True, exist_ok=True)
    k, r, c = np.meshgrid(np.arange(n), np.arange(28), np.arange(28), indexing="ij")
    images = ((k + r + c) % 256).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    prefix = "train" if train else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)
    return images, labels


def test_read_idx_round_trips_every_type(tmp_path):
    for code, dtype in [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ]:
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4) - (3 if code != 0x08 else 0)
        write_idx(tmp_path / "a.idx", array, code)
        out = read_idx(tmp_path / "a.idx")
        assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_magic_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x01\x07")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x07\x07")
    with pytest.raises(ValueError, match=r"shape \(5,\) \(5 bytes of data\) but the file holds 2"):
        read_idx(tmp_path / "short")
    (tmp_path / "code").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x07")
    with pytest.raises(ValueError, match="type code 0x07"):
        read_idx(tmp_path / "code")


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_reads_torchvision_layout(tmp_path, gz):
    images, labels = make_split(tmp_path / "FashionMNIST" / "raw", train=True, n=12, gz=gz)
    make_split(tmp_path / "FashionMNIST" / "raw", train=False, n=5, gz=gz)
    train = FashionMNIST(tmp_path, train=True)
    test = FashionMNIST(tmp_path, train=False)
    assert (len(train), len(test)) == (12, 5)
    image, target = train[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    # pixel (r, c) of image 3 is (3 + r + c) / 255
    assert float(image[0, 0, 0]) == pytest.approx(3 / 255)
    assert float(image[0, 27, 27]) == pytest.approx(57 / 255)
    assert target == 3 and isinstance(target, int)
    np.testing.assert_allclose(train.data.numpy().reshape(12, 28, 28), images / 255, rtol=1e-6)
    assert train.targets.tolist() == labels.tolist()
    assert train.classes[9] == "Ankle boot"


def test_transforms_are_applied_to_image_and_target(tmp_path):
    make_split(tmp_path, train=False, n=4)
    ds = FashionMNIST(
        tmp_path, train=False, transform=lambda x: x * 2 - 1, target_transform=lambda y: y + 100
    )
    image, target = ds[2]
    assert float(image[0, 0, 0]) == pytest.approx(2 * 2 / 255 - 1)
    assert target == 102
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    x, y = next(iter(loader))
    assert x.shape == (4, 1, 28, 28) and y.tolist() == [100, 101, 102, 103]


def test_mnist_prefers_idx_files_under_root(tmp_path):
    make_split(tmp_path / "MNIST" / "raw", train=False, n=7)
    ds = MNIST(str(tmp_path), train=False, download=True)  # download is accepted, never done
    assert len(ds) == 7 and ds[5][1] == 5


def test_missing_files_and_missing_root_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        FashionMNIST(tmp_path, train=True)
    with pytest.raises(ValueError, match="needs root"):
        FashionMNIST(None)
    with pytest.raises(ValueError, match="name must be one of"):
        find_idx_files(tmp_path, "CIFAR10")
    with pytest.raises(TypeError, match="transform must be callable"):
        make_split(tmp_path, train=True, n=2)
        FashionMNIST(tmp_path, transform="flip")


def test_load_idx_arrays_matches_load_mnist_arrays_format(tmp_path):
    make_split(tmp_path, train=True, n=3)
    x, y = load_idx_arrays(tmp_path, "MNIST", train=True)
    assert x.shape == (3, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_train_command_on_fashion_mnist_idx_files(tmp_path):
    import json

    from spikeforge.cli import main

    make_split(tmp_path / "data" / "FashionMNIST" / "raw", train=True, n=64)
    make_split(tmp_path / "data" / "FashionMNIST" / "raw", train=False, n=20)
    out = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-root",
        str(tmp_path / "data"),
        "--steps",
        "4",
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--no-plots",
        "--no-progress",
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"][0]["batches"] == 2
    assert 0.0 <= metrics["test_accuracy"] <= 100.0
