"""SLSTM (a spiking LSTM cell), the oracle.

The synaptic current is the LSTM cell state ``C`` and the membrane is its output ``U = h``:

.. math::
    (i, f, g, o) = (σ, σ, \\tanh, σ)(W_{x} X_t + b_{x} + W_{h} U_{t-1} + b_{h})

    C_t = f ⊙ C_{t-1} + i ⊙ g, \\qquad h_t = o ⊙ \\tanh(C_t)

    R_t = H(U_{t-1} − θ)\\ \\text{(detached)}

    U_t = h_t − R_t θ \\quad\\text{(subtract)}, \\qquad
    U_t = (1 − R_t) h_t \\quad\\text{(zero)}, \\qquad
    U_t = h_t \\quad\\text{(none, the default)}

    S_t = H(U_t − θ) · g

``cell`` is any callable with ``nn.LSTMCell``'s signature ``cell(X, (U, C)) -> (h, C)``; the
shell passes its ``nn.LSTMCell``. The state ``(C, U)`` has the hidden size, not the input size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, reset_signal, reset_updated

LSTMCellFn = Callable[[Tensor, tuple[Tensor, Tensor]], tuple[Tensor, Tensor]]


def slstm_step(
    x: Tensor,
    syn: Tensor,
    mem: Tensor,
    cell: LSTMCellFn,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """One step: ``(X_t, C_{t-1}, U_{t-1}) -> (S_t, C_t, U_t)``."""
    reset = reset_signal(mem, threshold, cfg)
    hidden, syn = cell(x, (mem, syn))
    mem = reset_updated(hidden, reset, threshold, cfg)
    if cfg.state_quant is not None:
        syn = cfg.state_quant(syn)
        mem = cfg.state_quant(mem)
    return fire(mem, threshold, graded, cfg), syn, mem


def slstm_scan(
    x_seq: Tensor,
    syn: Tensor,
    mem: Tensor,
    cell: LSTMCellFn,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """All steps of ``x_seq [T, B, input]``: returns ``(S, C, U)``, each ``[T, B, hidden]``."""
    out: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for x in x_seq:
        spk, syn, mem = slstm_step(x, syn, mem, cell, threshold, graded, cfg)
        for seq, value in zip(out, (spk, syn, mem)):
            seq.append(value)
    return torch.stack(out[0]), torch.stack(out[1]), torch.stack(out[2])
