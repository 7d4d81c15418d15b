"""Read torchvision-style MNIST-family datasets (raw IDX files) from disk, without torchvision.

torchvision stores ``MNIST``, ``FashionMNIST`` and ``KMNIST`` as ``<root>/<Name>/raw/`` holding
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte`` (optionally ``.gz``). IDX format: two zero bytes, a type code, the
number of dimensions ``n``, ``n`` big-endian uint32 sizes, then the values in C order.
Nothing is downloaded.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["IDX_DATASETS", "find_idx_files", "load_idx_arrays", "read_idx"]

IDX_DATASETS = ("MNIST", "FashionMNIST", "KMNIST")

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (plain or ``.gz``)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (it must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}")
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: header says shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _find(folder_candidates: list[Path], stem: str) -> Path | None:
    for folder in folder_candidates:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def find_idx_files(root: str | Path, name: str = "MNIST", train: bool = True) -> tuple[Path, Path]:
    """The (images, labels) IDX files of ``name`` under ``root``.

    Looks in ``root/name/raw``, ``root/name`` and ``root`` itself, in that order.
    """
    if name not in IDX_DATASETS:
        raise ValueError(f"name must be one of {IDX_DATASETS}, got {name!r}")
    root = Path(root)
    folders = [root / name / "raw", root / name, root]
    prefix = "train" if train else "t10k"
    images = _find(folders, f"{prefix}-images-idx3-ubyte")
    labels = _find(folders, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        where = ", ".join(str(f) for f in folders)
        raise FileNotFoundError(
            f"no {name} {'train' if train else 'test'} IDX files "
            f"({prefix}-images-idx3-ubyte, {prefix}-labels-idx1-ubyte, optionally .gz) in "
            f"{where}; spikeforge never downloads: copy them there first"
        )
    return images, labels


def load_idx_arrays(
    root: str | Path, name: str = "MNIST", train: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, H*W]`` float32 in [0, 1] and labels ``[N]`` int64, like
    :func:`~spikeforge.datasets.load_mnist_arrays`."""
    images_path, labels_path = find_idx_files(root, name, train)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{images_path} / {labels_path}: expected images [N, H, W] and labels [N], got "
            f"{images.shape} and {labels.shape}"
        )
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(scale)
    return flat, labels.astype(np.int64)
