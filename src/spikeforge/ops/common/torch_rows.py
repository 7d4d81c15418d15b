"""Pieces shared by the torch kernels (``<family>/fallback.py``): the compute dtype and the
step of the neurons that reset after their update."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["compute_dtype", "reset_and_fire"]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """State dtype: float32 for half/bfloat16 inputs, else the input's."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def reset_and_fire(
    w: Tensor, fired: Tensor, th: Tensor, g: Tensor, reset: int, delay: bool, cd: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """From the updated membrane ``w`` and last step's ``fired = U_{t−1} > θ``: the pre-reset
    membrane ``V_t`` (``w − θ`` subtract, ``0`` zero, ``w`` none where fired), the spikes
    ``S_t = g·H(V_t − θ)`` and the new state (``V_t``, or reset at once when not ``delay``)."""
    if reset == 0:
        v = w - torch.where(fired, th, 0.0)
    elif reset == 1:
        v = torch.where(fired, 0.0, w)
    else:
        v = w
    h = v > th
    s = torch.where(h, g, 0.0)
    if delay:
        return v, s, v
    d = h.to(cd) - fired.to(cd)
    u = v - d * th if reset == 0 else (v - d * v if reset == 1 else v)
    return v, s, u
