"""Train a small conv ReLU network on MNIST for one epoch, convert it to IAF neurons, and
print the SNN's test accuracy after T = 8, 16, 32 and 64 steps next to the ANN's.

    python examples/convert_ann_to_snn.py [--epochs 1] [--percentile 99.9] [--seed 0]

The input is presented as a constant current at every step; the SNN's prediction is the
argmax of the output layer's current summed over the first T steps.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from spikeforge.convert import convert_to_snn, simulate
from spikeforge.datasets import load_mnist_arrays

STEPS = (8, 16, 32, 64)


def make_ann() -> nn.Sequential:
    """12C5-BN-ReLU-AP2 → 32C5-BN-ReLU-AP2 → FC128-ReLU → FC10 (bias everywhere)."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 5),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(12, 32, 5),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 128),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(128, 10),
    )


def load(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist_arrays(train=train)
    return torch.from_numpy(images).reshape(-1, 1, 28, 28), torch.from_numpy(labels)


def train_ann(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for idx in order.split(128):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


@torch.no_grad()
def ann_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(1000), y.split(1000))
    )
    return 100.0 * correct / len(x)


@torch.no_grad()
def snn_accuracy_curve(snn: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[int, float]:
    correct = dict.fromkeys(STEPS, 0)
    for xb, yb in zip(x.split(1000), y.split(1000)):
        sums = simulate(snn, xb, max(STEPS), checkpoints=STEPS)
        for t in STEPS:
            correct[t] += int((sums[t].argmax(1) == yb).sum())
    return {t: 100.0 * correct[t] / len(x) for t in STEPS}


def run(epochs: int = 1, percentile: float = 99.9, seed: int = 0) -> tuple[float, dict[int, float]]:
    """Train, convert and evaluate; returns ``(ann_accuracy, {T: snn_accuracy})`` in percent."""
    torch.manual_seed(seed)
    x_train, y_train = load(train=True)
    x_test, y_test = load(train=False)
    ann = make_ann()
    train_ann(ann, x_train, y_train, epochs)
    ann.eval()
    ann_acc = ann_accuracy(ann, x_test, y_test)
    calibration = x_train[torch.randperm(len(x_train))[:2000]]
    snn = convert_to_snn(ann, calibration, percentile=percentile)
    return ann_acc, snn_accuracy_curve(snn, x_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--percentile", type=float, default=99.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    ann_acc, curve = run(args.epochs, args.percentile, args.seed)
    print(f"ANN test accuracy: {ann_acc:.2f}%")
    for t, acc in curve.items():
        print(f"SNN T={t:3d}: {acc:.2f}%  (ANN − SNN = {ann_acc - acc:+.2f} points)")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
