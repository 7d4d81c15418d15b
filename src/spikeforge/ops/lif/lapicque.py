"""Lapicque's Euler step as the LIF family's model 0.

The reference's ``Ũ_t = X_t·R·(1/τ)·Δt + (1 − Δt/τ) U_{t−1}`` (``τ = R·C``) followed by
the reset is the family's recurrence without a current, a recurrence or Leaky's zero
form, with input ``X'_t = X_t·R·(1/τ)·Δt`` and decay ``b = 1 − Δt/τ``; ``b`` is not
clamped (it is negative when ``Δt > τ``). Both are computed in torch in the reference's
order, so forward values match it, and gradients reach ``R``, ``C`` and ``Δt`` by autograd.
"""

from __future__ import annotations

from torch import Tensor

from ..common.args import broadcasts_into

__all__ = ["lapicque_args"]


def lapicque_args(x: Tensor, state: tuple, params: tuple) -> tuple:
    """The op's ``(x, syn, mem, spk, α, β, v, θ, g)`` for Lapicque's ``(R, C, Δt, θ, g)``."""
    R, C, time_step, threshold, graded = params
    tau = R * C
    for name, p in (("R", R), ("R*C", tau), ("time_step", time_step)):
        if not broadcasts_into(p, x.shape[1:]):
            raise ValueError(
                f"{name} of shape {tuple(p.shape)} does not broadcast to the state "
                f"{tuple(x.shape[1:])}; per-neuron values must match the input's trailing "
                "dimensions"
            )
    x_in = (x * R * (1 / tau) * time_step).to(x.dtype)
    return (x_in, None, state[0], None, None, 1 - time_step / tau, None, threshold, graded)
