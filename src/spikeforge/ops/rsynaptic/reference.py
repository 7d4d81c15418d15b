"""RSynaptic (current-based LIF with a recurrent spike path), the oracle.

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    I_t = α I_{t-1} + X_t + \\mathrm{rec}(S_{t-1})

    Z_t = β U_{t-1} + I_t

    U_t = Z_t − R_t θ \\quad\\text{(subtract)}, \\qquad
    U_t = (1 − R_t) Z_t \\quad\\text{(zero; } I \\text{ is not reset)}, \\qquad
    U_t = Z_t \\quad\\text{(none)}

    S_t = H(U_t − θ) · g

``α`` and ``β`` are clamped to ``[0, 1]``; ``rec`` is as in ``ops.rleaky.reference``.
``state_quant`` quantises both ``I`` and ``U``. With ``reset_delay=False`` the spike resets
the membrane in the same step as in Leaky (snnTorch 1.0.0 silently skips this).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, immediate_reset, reset_signal, reset_updated


def rsynaptic_step(
    x: Tensor,
    spk: Tensor,
    syn: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    recurrent: Callable[[Tensor], Tensor],
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """One step: ``(X_t, S_{t-1}, I_{t-1}, U_{t-1}) -> (S_t, I_t, U_t)``."""
    reset = reset_signal(mem, threshold, cfg)
    syn = alpha.clamp(0, 1) * syn + x + recurrent(spk)
    mem = beta.clamp(0, 1) * mem + syn
    mem = reset_updated(mem, reset, threshold, cfg)
    if cfg.state_quant is not None:
        syn = cfg.state_quant(syn)
        mem = cfg.state_quant(mem)
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, syn, mem


def rsynaptic_scan(
    x_seq: Tensor,
    spk: Tensor,
    syn: Tensor,
    mem: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    recurrent: Callable[[Tensor], Tensor],
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """All steps of ``x_seq [T, ...]``: returns ``(S, I, U)``, each ``[T, ...]``."""
    out: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for x in x_seq:
        spk, syn, mem = rsynaptic_step(
            x, spk, syn, mem, alpha, beta, threshold, graded, recurrent, cfg
        )
        for seq, value in zip(out, (spk, syn, mem)):
            seq.append(value)
    return torch.stack(out[0]), torch.stack(out[1]), torch.stack(out[2])
