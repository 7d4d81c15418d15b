"""Leaky (first-order LIF), the oracle.

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    U_t = β U_{t-1} + X_t − R_t θ \\quad\\text{(subtract)}

    U_t = β (1 − R_t) U_{t-1} + X_t \\quad\\text{(zero)}

    U_t = β U_{t-1} + X_t \\quad\\text{(none)}

    S_t = H(U_t − θ) · g

with ``β`` clamped to ``[0, 1]``. The reset is not multiplied by ``β`` (snnTorch 1.0.0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, immediate_reset, keep_unfired, reset_signal


def leaky_step(
    x: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig
) -> tuple[Tensor, Tensor]:
    """One step: ``(X_t, U_{t-1}) -> (S_t, U_t)``."""
    beta = beta.clamp(0, 1)
    reset = reset_signal(mem, threshold, cfg)
    if cfg.reset == "subtract":
        mem = beta * mem + x - reset * threshold
    elif cfg.reset == "zero":
        mem = beta * keep_unfired(mem, reset) + x
    else:
        mem = beta * mem + x
    if cfg.state_quant is not None:
        mem = cfg.state_quant(mem)
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, mem


def leaky_scan(
    x_seq: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig
) -> tuple[Tensor, Tensor]:
    """All steps of a time-major ``x_seq [T, ...]``: returns ``(S [T, ...], U [T, ...])``."""
    spikes, mems = [], []
    for x in x_seq:
        spk, mem = leaky_step(x, mem, beta, threshold, graded, cfg)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)
