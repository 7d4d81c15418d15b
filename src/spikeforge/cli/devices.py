"""``--device``: which torch device a command runs on."""

from __future__ import annotations

import torch

from .errors import CLIError

__all__ = ["resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; ``cpu``, ``cuda``, ``cuda:N`` and (on Apple
    machines that have it) ``mps`` are checked now, before any data loads."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise CLIError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(
                f"--device {name}: CUDA is not available on this machine; use --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CLIError(
                f"--device {name}: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
        return device
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return device
        raise CLIError(f"--device {name}: Apple's MPS is not available here; use --device cpu")
    raise CLIError(
        f"--device {name}: spikeforge train runs on cpu, cuda or cuda:N (got a {device.type} "
        "device)"
    )
