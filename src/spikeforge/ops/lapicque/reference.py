"""Lapicque (RC-circuit LIF, forward Euler), the oracle.

With ``τ = R·C`` and time step ``Δt``, the Euler step of ``τ dU/dt = −U + R·X`` is

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    \\tilde U_t = X_t · R · \\frac{1}{τ} · Δt + \\left(1 − \\frac{Δt}{τ}\\right) U_{t-1}

    U_t = \\tilde U_t − R_t θ \\quad\\text{(subtract)}, \\qquad
    U_t = (1 − R_t)\\tilde U_t \\quad\\text{(zero)}, \\qquad
    U_t = \\tilde U_t \\quad\\text{(none)}

    S_t = H(U_t − θ) · g

so the input gain is ``Δt/C`` and the per-step decay ``1 − Δt/(RC)`` (``beta`` only serves
to derive a missing ``R`` or ``C``; see ``spikeforge.Lapicque``). With ``reset_delay=False``
the spike resets the membrane in the same step, as for Leaky.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, immediate_reset, reset_signal, reset_updated


def lapicque_step(
    x: Tensor,
    mem: Tensor,
    R: Tensor,
    C: Tensor,
    time_step: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor]:
    """One step: ``(X_t, U_{t-1}) -> (S_t, U_t)``."""
    tau = R * C
    reset = reset_signal(mem, threshold, cfg)
    mem = x * R * (1 / tau) * time_step + (1 - time_step / tau) * mem
    mem = reset_updated(mem, reset, threshold, cfg)
    if cfg.state_quant is not None:
        mem = cfg.state_quant(mem)
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, mem


def lapicque_scan(
    x_seq: Tensor,
    mem: Tensor,
    R: Tensor,
    C: Tensor,
    time_step: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor]:
    """All steps of a time-major ``x_seq [T, ...]``: returns ``(S [T, ...], U [T, ...])``."""
    spikes, mems = [], []
    for x in x_seq:
        spk, mem = lapicque_step(x, mem, R, C, time_step, threshold, graded, cfg)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)
