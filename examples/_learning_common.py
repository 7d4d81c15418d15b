"""Shared pieces of the ``learning_*.py`` examples: data, the reference network, BPTT.

Every example trains on a subset of real MNIST (``spikeforge.datasets.load_mnist_arrays``)
and prints one JSON line ``{"rule", "accuracy", "epochs", "seconds", ...}`` so that the slow
tests and the README table can read it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

import spikeforge.functional as SF
from spikeforge import spikegen
from spikeforge.datasets import load_mnist_arrays
from spikeforge.learning import SpikingDense


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train", type=int, default=10000, help="training digits used")
    parser.add_argument("--test", type=int, default=2000, help="test digits used")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="time steps T")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def mnist(n_train: int, n_test: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train [N, 784], y_train, x_test, y_test)`` as torch tensors."""
    xtr, ytr = load_mnist_arrays(train=True)
    xte, yte = load_mnist_arrays(train=False)
    return (
        torch.from_numpy(xtr[:n_train]),
        torch.from_numpy(ytr[:n_train]),
        torch.from_numpy(xte[:n_test]),
        torch.from_numpy(yte[:n_test]),
    )


def batches(
    x: Tensor, y: Tensor, size: int, gen: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    order = torch.randperm(len(x), generator=gen)
    for start in range(0, len(x), size):
        idx = order[start : start + size]
        yield x[idx], y[idx]


def rate_code(images: Tensor, steps: int, gen: torch.Generator) -> Tensor:
    """Bernoulli spike trains ``[T, B, 784]`` (``spikegen.rate``)."""
    return spikegen.rate(images, num_steps=steps, generator=gen)


class TwoLayerSNN(nn.Module):
    """The reference network: ``784 -> H (Leaky) -> 10 (Leaky)``, rate-coded input."""

    def __init__(self, hidden: int, beta: float = 0.9) -> None:
        super().__init__()
        self.hidden = SpikingDense(784, hidden, beta=beta)
        self.out = SpikingDense(hidden, 10, beta=beta)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        spk, _ = self.hidden(x)
        return self.out(spk)


def rate_loss(spk_out: Tensor, targets: Tensor) -> Tensor:
    return SF.ce_rate_loss()(spk_out, targets)


def count_accuracy(spk_out: Tensor, targets: Tensor) -> float:
    return float((spk_out.sum(0).argmax(-1) == targets).float().mean())


@torch.no_grad()
def evaluate(
    predict: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, encode, batch: int = 500
) -> float:
    """Accuracy of ``predict(encoded) -> class [B]`` over the test set."""
    correct = 0
    for start in range(0, len(x), batch):
        xb, yb = x[start : start + batch], y[start : start + batch]
        correct += int((predict(encode(xb)) == yb).sum())
    return correct / len(x)


def train_bptt(
    net: nn.Module,
    data,
    args,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = rate_loss,
    encode=None,
    optimizer: torch.optim.Optimizer | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Plain backprop through time (surrogate gradients) with Adam."""
    xtr, ytr, _, _ = data
    gen = torch.Generator().manual_seed(args.seed)
    encode = encode or (lambda xb: rate_code(xb, args.steps, gen))
    opt = optimizer or torch.optim.Adam(net.parameters(), lr=args.lr)
    for _ in range(args.epochs):
        for xb, yb in batches(xtr, ytr, args.batch, gen):
            spk_out, _ = net(encode(xb))
            loss = loss_fn(spk_out, yb)
            opt.zero_grad()
            loss.backward()
            if on_step is not None:
                on_step()
            opt.step()


def report(rule: str, accuracy: float, args, train_seconds: float, **extra) -> dict:
    """Print and return the result line (``seconds`` is the training time only)."""
    row = {
        "rule": rule,
        "accuracy": round(accuracy, 4),
        "epochs": args.epochs,
        "seconds": round(train_seconds, 1),
        "train": args.train,
        "steps": args.steps,
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row
