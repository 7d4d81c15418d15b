"""Alpha (alpha-kernel synapse: excitatory minus inhibitory current), the oracle.

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    E_t = α E_{t-1} + X_t, \\qquad I_t = β I_{t-1} − X_t

    τ_α = \\frac{\\ln α}{\\ln β − \\ln α} + 1

    U_t = τ_α (E_t + I_t)

    S_t = H(U_t − θ) · g

with ``α`` and ``β`` clamped to ``[0, 1]`` (the shell requires ``α > β`` and ``β ≠ 1``).
Resets act on all three states after the update:

* zero (Alpha's default): ``E_t, I_t, U_t`` are each multiplied by ``(1 − R_t)``;
* subtract (snnTorch 1.0.0's own rule): ``E_t −= R_t θ``, ``I_t ← (1 − R_t) I_t`` and
  ``U_t += R_t I_{t-1}`` (the *previous* inhibitory current), with ``U_t`` computed from the
  currents before their reset;
* none: no reset.

``state_quant`` quantises all three states. There is no immediate reset (``reset_delay``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, keep_unfired, reset_signal


def alpha_step(
    x: Tensor,
    syn_exc: Tensor,
    syn_inh: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step: ``(X_t, E_{t-1}, I_{t-1}, U_{t-1}) -> (S_t, E_t, I_t, U_t)``."""
    if not cfg.reset_delay:
        raise ValueError("alpha_step: reset_delay=False is not defined for the Alpha neuron")
    alpha = alpha.clamp(0, 1)
    beta = beta.clamp(0, 1)
    reset = reset_signal(mem, threshold, cfg)
    exc = alpha * syn_exc + x
    inh = beta * syn_inh - x
    tau_alpha = torch.log(alpha) / (torch.log(beta) - torch.log(alpha)) + 1
    new_mem = tau_alpha * (exc + inh)
    if cfg.reset == "subtract":
        new_mem = new_mem + reset * syn_inh
        exc = exc - reset * threshold
        inh = keep_unfired(inh, reset)
    elif cfg.reset == "zero":
        exc = keep_unfired(exc, reset)
        inh = keep_unfired(inh, reset)
        new_mem = keep_unfired(new_mem, reset)
    if cfg.state_quant is not None:
        exc = cfg.state_quant(exc)
        inh = cfg.state_quant(inh)
        new_mem = cfg.state_quant(new_mem)
    spk = fire(new_mem, threshold, graded, cfg)
    return spk, exc, inh, new_mem


def alpha_scan(
    x_seq: Tensor,
    syn_exc: Tensor,
    syn_inh: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """All steps of a time-major ``x_seq [T, ...]``: returns ``(S, E, I, U)``, each ``[T, ...]``."""
    outs: tuple[list[Tensor], ...] = ([], [], [], [])
    for x in x_seq:
        spk, syn_exc, syn_inh, mem = alpha_step(
            x, syn_exc, syn_inh, mem, alpha, beta, threshold, graded, cfg
        )
        for seq, value in zip(outs, (spk, syn_exc, syn_inh, mem)):
            seq.append(value)
    spikes, excs, inhs, mems = (torch.stack(seq) for seq in outs)
    return spikes, excs, inhs, mems
