"""RLeaky (first-order LIF with a recurrent spike path), the oracle.

.. math::
    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    Z_t = β U_{t-1} + X_t + \\mathrm{rec}(S_{t-1})

    U_t = Z_t − R_t θ \\quad\\text{(subtract)}, \\qquad
    U_t = (1 − R_t) Z_t \\quad\\text{(zero)}, \\qquad
    U_t = Z_t \\quad\\text{(none)}

    S_t = H(U_t − θ) · g

``β`` is clamped to ``[0, 1]``. ``rec`` is any callable on the previous spikes: a dense
``nn.Linear``, an ``nn.Conv2d`` with ``padding = k // 2``, or the one-to-one ``S ↦ V·S``.
The previous spikes ``S_{t-1}`` (graded factor included) are part of the state and keep their
surrogate gradient. Unlike Leaky, the zero reset also clears this step's input (snnTorch 1.0.0).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, immediate_reset, reset_signal, reset_updated

Recurrent = Callable[[Tensor], Tensor]


def rleaky_step(
    x: Tensor,
    spk: Tensor,
    mem: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    recurrent: Recurrent,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor]:
    """One step: ``(X_t, S_{t-1}, U_{t-1}) -> (S_t, U_t)``."""
    reset = reset_signal(mem, threshold, cfg)
    mem = beta.clamp(0, 1) * mem + x + recurrent(spk)
    mem = reset_updated(mem, reset, threshold, cfg)
    if cfg.state_quant is not None:
        mem = cfg.state_quant(mem)
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, mem


def rleaky_scan(
    x_seq: Tensor,
    spk: Tensor,
    mem: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    recurrent: Recurrent,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor]:
    """All steps of a time-major ``x_seq [T, ...]``: returns ``(S [T, ...], U [T, ...])``."""
    spikes, mems = [], []
    for x in x_seq:
        spk, mem = rleaky_step(x, spk, mem, beta, threshold, graded, recurrent, cfg)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)
