"""How neuron tensors are shaped for the fused ops: ``[T, N]`` rows and ``[1]``/``[N]``
parameters. Shared by every op's Python wrapper."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["broadcasts_into", "flat_param", "param_grad", "recurrent_fn", "time_rows"]


def time_rows(t: Tensor) -> Tensor:
    """A ``[T, N]`` tensor as ``[1, N]`` if it is constant over time (stride 0, e.g.
    ``cur.expand(T, ...)``), else contiguous: kernels then read one row for every step."""
    if t.shape[0] > 1 and t.stride(0) == 0:
        return t[:1].contiguous()
    return t.contiguous()


def broadcasts_into(p: Tensor, shape: torch.Size) -> bool:
    """``p`` broadcasts to ``shape`` without widening it."""
    try:
        return torch.broadcast_shapes(p.shape, shape) == shape
    except RuntimeError:
        return False


def flat_param(
    name: str, p: Tensor, shape: torch.Size, n: int, dtype: torch.dtype | None = None
) -> Tensor:
    """A neuron parameter as ``[1]`` (shared) or ``[n]`` (one per neuron of the state
    ``shape``), cast to ``dtype`` if given; a shape that does not fit raises ``ValueError``."""
    if dtype is not None and p.dtype != dtype:
        p = p.to(dtype)
    if p.numel() == 1:
        return p.reshape(1)
    if not broadcasts_into(p, shape):
        raise ValueError(f"{name} of shape {tuple(p.shape)} does not broadcast to {tuple(shape)}")
    return p.expand(shape).reshape(n)


def param_grad(grad: Tensor, param: Tensor, need: bool) -> Tensor | None:
    """A kernel's per-neuron gradient sum ``[N]`` for ``param`` (``[1]`` or ``[N]``): summed
    to ``[1]`` for a shared parameter, ``None`` when autograd did not ask for it."""
    if not need:
        return None
    return grad.sum().reshape(1) if param.shape[0] == 1 else grad


def recurrent_fn(rec: Tensor | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """A recurrent neuron's ``rec(S)``: one-to-one weights ``V`` (``S·V``) or a layer."""
    if isinstance(rec, Tensor):
        return lambda spk: spk * rec
    return rec
