"""StateLeaky's membrane, the oracle: a causal exponential filter without reset.

.. math::
    U_t = \\sum_{k=0}^{\\min(t, K-1)} e^{-k/τ} X_{t-k}, \\qquad τ = \\frac{1}{1 - β + 10^{-12}}

per channel (``τ`` a scalar or one value per channel, the last input dimension), ``K`` the
optional kernel truncation (all ``T`` taps when None). snnTorch 1.0.0 computes it as a
T-tap depthwise convolution; this reference writes the same sum as a lower-triangular
Toeplitz matrix applied along time, O(T²) time and memory.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["as_channel_tau", "decay_filter_reference", "decay_rate", "tap_weights"]


def decay_rate(beta: Tensor) -> Tensor:
    """``τ = 1 / (1 − β + 1e−12)``, snnTorch's parametrisation (``β = 1`` stays finite)."""
    return 1 / (1 - beta + 1e-12)


def tap_weights(lags: Tensor, tau: Tensor) -> Tensor:
    """``e^{−lag/τ}`` for integer lags ``[...]``: shape ``[...]`` for a scalar ``τ``,
    ``[..., C]`` for a per-channel ``τ [C]``."""
    if tau.dim() == 0:
        return torch.exp(-lags / tau)
    return torch.exp(-lags.unsqueeze(-1) / tau)


def as_channel_tau(tau: Tensor, like: Tensor) -> Tensor:
    """``τ`` on the input's device and dtype, 0-d (shared) or ``[C]`` (per channel)."""
    tau = tau.to(device=like.device, dtype=like.dtype)
    return tau.reshape(()) if tau.numel() == 1 else tau.reshape(-1)


def decay_filter_reference(x: Tensor, tau: Tensor, truncation: int | None = None) -> Tensor:
    """``U [T, B, C]`` from ``X [T, B, C]``; ``tau`` is ``[]``, ``[1]`` or ``[C]``."""
    steps = x.shape[0]
    taps = steps if truncation is None else min(truncation, steps)
    tau = as_channel_tau(tau, x)
    time = torch.arange(steps, device=x.device, dtype=x.dtype)
    lags = time[:, None] - time[None, :]  # [T, S]: t − s
    inside = (lags >= 0) & (lags < taps)
    weights = tap_weights(lags.clamp(min=0), tau)
    if tau.dim() == 0:
        weights = weights * inside
        return torch.einsum("ts,sbc->tbc", weights, x)
    weights = weights * inside.unsqueeze(-1)
    return torch.einsum("tsc,sbc->tbc", weights, x)
