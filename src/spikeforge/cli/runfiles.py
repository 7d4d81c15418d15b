"""The files of a run folder, each written atomically (temporary file, then ``os.replace``).

``runs/NAME/`` holds ``config.json``, ``metrics.json``, ``checkpoint.pt`` and the PNG plots;
an interrupted write never leaves a half-written file behind (a killed process can leave a
``.NAME.*.tmp`` temporary, which the next training of that folder removes). Files get the
permissions of the umask, as ``open()`` would give them. JSON is strict: a non-finite number
is written as ``null``, never as a bare ``NaN``.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .errors import CLIError

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "PLOT_FILES",
    "RUN_FILES",
    "atomic_write",
    "finite_or_null",
    "read_json",
    "save_checkpoint",
    "temporary_files",
    "write_json",
]

CONFIG = "config.json"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
RUN_FILES = (CONFIG, METRICS, CHECKPOINT)
PLOT_FILES = (
    "curves.png",
    "raster_output.png",
    "raster_hidden.png",
    "membrane.png",
    "spike_counts.png",
)


def _umask() -> int:
    mask = os.umask(0o022)  # read it (Python < 3.13 has no os.get_umask) ...
    os.umask(mask)  # ... and put it back
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() follows the umask
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def temporary_files(folder: Path) -> list[Path]:
    """The temporaries an interrupted :func:`atomic_write` of a run file left in ``folder``."""
    return sorted(p for name in RUN_FILES for p in folder.glob(f".{name}.*.tmp"))


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON ``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def write_json(path: Path, data: dict) -> None:
    """Strict JSON (``allow_nan=False``): non-finite numbers become ``null``."""
    clean = finite_or_null(data)
    atomic_write(path, lambda h: json.dump(clean, h, indent=2, allow_nan=False), mode="w")


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; a missing, unreadable or damaged file is a :class:`CLIError`."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise CLIError(f"{path} is missing") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a text file: the run folder is damaged") from None
    except json.JSONDecodeError as err:
        raise CLIError(
            f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): "
            "the run folder is damaged; train it again with --overwrite"
        ) from None
    if not isinstance(data, dict):
        raise CLIError(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save(state)`` atomically. Serialised in memory first, so that a full disk is
    the ``OSError`` of a plain write (torch's own file writer reports it as RuntimeError)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda h: h.write(buffer.getbuffer()))
