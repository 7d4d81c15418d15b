"""Datasets: real MNIST shipped by a registry package, and torchvision-style IDX datasets
found on disk (no downloads)."""

from .idx import IDX_DATASETS, find_idx_files, load_idx_arrays, read_idx
from .mnist import load_mnist_arrays
from .vision import KMNIST, MNIST, ArrayImageDataset, FashionMNIST

__all__ = [
    "IDX_DATASETS",
    "KMNIST",
    "MNIST",
    "ArrayImageDataset",
    "FashionMNIST",
    "find_idx_files",
    "load_idx_arrays",
    "load_mnist_arrays",
    "read_idx",
]
