"""Fitting a passed hidden state to the shape the input needs (snnTorch-style broadcasting).

snnTorch accepts any state whose shape differs from the input's (its tutorial 3 passes
``mem = torch.zeros(1)`` with a 0-d input) and silently replaces it by zeros of the input's
shape. spikeforge accepts the states that *broadcast* with the input and uses their values,
broadcast to the input's state shape (identical numbers for the zero states snnTorch's code
passes); a state that cannot broadcast stays an error.

A state fits ``shape`` when ``torch.broadcast_shapes(state.shape, shape)`` is ``shape``
itself, possibly with extra leading dimensions of size 1 (``(1,)`` fits ``()``, ``(N,)``
and ``(1, 1, N)`` fit ``(B, N)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["broadcast_state", "fits_by_broadcast"]


def fits_by_broadcast(state_shape: torch.Size, shape: torch.Size) -> bool:
    """True when a state of ``state_shape`` broadcasts to ``shape`` (see the module doc)."""
    try:
        joint = torch.broadcast_shapes(state_shape, shape)
    except RuntimeError:
        return False
    extra = len(joint) - len(shape)
    return tuple(joint[extra:]) == tuple(shape) and all(d == 1 for d in joint[:extra])


def broadcast_state(value: Tensor, shape: torch.Size) -> Tensor:
    """``value`` broadcast to ``shape`` as a fresh contiguous tensor (gradients flow back).

    The caller has checked ``fits_by_broadcast(value.shape, shape)``.
    """
    if value.shape == shape:
        return value
    extra = value.dim() - len(shape)
    if extra > 0:  # leading dimensions of size 1 that the input does not have
        value = value.reshape(value.shape[extra:])
    return value.expand(shape).contiguous()
