"""Datasets: real MNIST shipped by a registry package (no downloads)."""

from .mnist import load_mnist_arrays

__all__ = ["load_mnist_arrays"]
