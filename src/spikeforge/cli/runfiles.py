"""The files of a run folder, each written atomically (temporary file, then ``os.replace``).

``runs/NAME/`` holds ``config.json``, ``metrics.json``, ``checkpoint.pt`` and the PNG plots;
an interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "atomic_write",
    "load_checkpoint",
    "read_json",
    "save_checkpoint",
    "write_json",
]

CONFIG = "config.json"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda h: json.dump(data, h, indent=2, sort_keys=False), mode="w")


def read_json(path: Path) -> dict:
    with open(path) as handle:
        return json.load(handle)


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save(state)`` atomically."""
    atomic_write(path, lambda h: torch.save(state, h))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train first with `spikeforge train`")
    return torch.load(path, map_location=device, weights_only=True)
