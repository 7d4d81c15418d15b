"""Synaptic (current-based, second-order LIF), the oracle.

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    I_t = α I_{t-1} + X_t

    U_t = β U_{t-1} + I_t − R_t θ \\quad\\text{(subtract)}

    U_t = (1 − R_t)(β U_{t-1} + I_t) \\quad\\text{(zero: the current } I \\text{ is not reset)}

    U_t = β U_{t-1} + I_t \\quad\\text{(none)}

    S_t = H(U_t − θ) · g

with ``α`` and ``β`` clamped to ``[0, 1]``. ``state_quant`` quantises both ``I`` and ``U``.
Unlike Leaky's zero mode, the reset multiplies the *updated* membrane, so the input of the
spiking step is dropped too (snnTorch 1.0.0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, immediate_reset, reset_signal, reset_updated


def synaptic_step(
    x: Tensor,
    syn: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """One step: ``(X_t, I_{t-1}, U_{t-1}) -> (S_t, I_t, U_t)``."""
    alpha = alpha.clamp(0, 1)
    beta = beta.clamp(0, 1)
    reset = reset_signal(mem, threshold, cfg)
    syn = alpha * syn + x
    mem = beta * mem + syn
    mem = reset_updated(mem, reset, threshold, cfg)
    if cfg.state_quant is not None:
        mem = cfg.state_quant(mem)
        syn = cfg.state_quant(syn)
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, syn, mem


def synaptic_scan(
    x_seq: Tensor,
    syn: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """All steps of a time-major ``x_seq [T, ...]``: returns ``(S, I, U)``, each ``[T, ...]``."""
    spikes, syns, mems = [], [], []
    for x in x_seq:
        spk, syn, mem = synaptic_step(x, syn, mem, alpha, beta, threshold, graded, cfg)
        spikes.append(spk)
        syns.append(syn)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(syns), torch.stack(mems)
