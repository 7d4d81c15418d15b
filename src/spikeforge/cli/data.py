"""Data for ``spikeforge train``: whole splits as tensors, batches, and input encodings."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .errors import CLIError
from .options import TrainConfig

__all__ = ["DataError", "batches", "encode", "load_split"]


class DataError(CLIError, RuntimeError):
    """The dataset is missing; the message says how to get it."""


def load_split(config: TrainConfig, train: bool) -> tuple[Tensor, Tensor]:
    """Images ``[N, 1, 28, 28]`` float32 and labels ``[N]`` int64 (first ``limit`` only)."""
    from ..datasets import load_idx_arrays, load_mnist_arrays

    try:
        if config.dataset == "mnist" and config.data_root is None:
            images, labels = load_mnist_arrays(train=train)
        else:
            if config.data_root is None:
                raise DataError(
                    f"--dataset {config.dataset} needs --data-root: a folder holding its "
                    "torchvision raw IDX files (FashionMNIST/raw/train-images-idx3-ubyte, ...)"
                )
            name = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[config.dataset]
            images, labels = load_idx_arrays(config.data_root, name, train)
    except (ModuleNotFoundError, FileNotFoundError, ValueError) as err:
        raise DataError(str(err)) from err
    except OSError as err:  # MNISTCacheError, or an unreadable data file
        raise DataError(str(err)) from err
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    x = torch.from_numpy(images).reshape(len(images), 1, 28, 28)
    return x, torch.from_numpy(labels)


def batches(
    images: Tensor, labels: Tensor, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[tuple[Tensor, Tensor]]:
    """Shuffled full batches when ``generator`` is given (training; the last partial batch
    is dropped unless it is the only one), else all images in order (testing)."""
    n = len(labels)
    if generator is None:
        for start in range(0, n, batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]
        return
    order = torch.randperm(n, generator=generator)
    full = max(n // batch_size, 1)
    for b in range(full):
        idx = order[b * batch_size : (b + 1) * batch_size]
        yield images[idx], labels[idx]


def num_train_batches(n: int, batch_size: int) -> int:
    return max(n // batch_size, 1)


def encode(images: Tensor, encoding: str, num_steps: int) -> tuple[Tensor, bool]:
    """``(input, static)``: direct gives the images themselves (the same at every step);
    rate and latency give spike trains ``[T, B, ...]`` from :mod:`spikeforge.spikegen`."""
    if encoding == "direct":
        return images, True
    try:
        from .. import spikegen
    except ImportError as err:
        raise DataError(f"--encoding {encoding} needs spikeforge.spikegen: {err}") from err
    if encoding == "rate":
        return spikegen.rate(images, num_steps=num_steps), False
    if encoding == "latency":
        options = {"tau": 5, "threshold": 0.01, "linear": True, "normalize": True, "clip": True}
        spikes = spikegen.latency(images, num_steps=num_steps, **options)
        return spikes, False
    raise ValueError(f"encoding must be one of direct, rate, latency; got {encoding!r}")
