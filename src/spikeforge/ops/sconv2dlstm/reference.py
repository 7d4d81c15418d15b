"""SConv2dLSTM (a spiking convolutional LSTM cell), the oracle.

One convolution over the channel-concatenation of input and membrane produces the four gates:

.. math::
    (a_i, a_f, a_o, a_g) = \\mathrm{split}_{4}\\big(\\mathrm{conv}([X_t, U_{t-1}])\\big)

    C_t = σ(a_f) ⊙ C_{t-1} + σ(a_i) ⊙ \\tanh(a_g), \\qquad h_t = σ(a_o) ⊙ \\tanh(C_t)

    R_t = H(U_{t-1} − θ)\\ \\text{(detached, full resolution)}

    U_t = h_t − R_t θ \\quad\\text{(subtract)}, \\qquad
    U_t = (1 − R_t) h_t \\quad\\text{(zero)}, \\qquad
    U_t = h_t \\quad\\text{(none, the default)}

    S_t = H(\\mathrm{pool}(U_t) − θ) · g

The gate order along the conv's output channels is ``i, f, o, g``. ``conv`` maps
``in + hidden`` channels to ``4 · hidden`` with ``padding = k // 2`` so ``H, W`` are kept;
``pool`` is an optional max or average pooling applied only to the fired spikes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..config import NeuronConfig, fire, reset_signal, reset_updated

Fn = Callable[[Tensor], Tensor]


def conv_lstm_cell(x: Tensor, syn: Tensor, mem: Tensor, conv: Fn) -> tuple[Tensor, Tensor]:
    """The ConvLSTM update without spiking: returns ``(h_t, C_t)``."""
    gates = conv(torch.cat([x, mem], dim=1))
    a_i, a_f, a_o, a_g = torch.split(gates, mem.shape[1], dim=1)
    syn = torch.sigmoid(a_f) * syn + torch.sigmoid(a_i) * torch.tanh(a_g)
    return torch.sigmoid(a_o) * torch.tanh(syn), syn


def sconv2dlstm_step(
    x: Tensor,
    syn: Tensor,
    mem: Tensor,
    conv: Fn,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
    pool: Fn | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One step: ``(X_t, C_{t-1}, U_{t-1}) -> (S_t, C_t, U_t)``; ``S`` is pooled if asked."""
    reset = reset_signal(mem, threshold, cfg)
    hidden, syn = conv_lstm_cell(x, syn, mem, conv)
    mem = reset_updated(hidden, reset, threshold, cfg)
    if cfg.state_quant is not None:
        syn = cfg.state_quant(syn)
        mem = cfg.state_quant(mem)
    spk = fire(mem if pool is None else pool(mem), threshold, graded, cfg)
    return spk, syn, mem


def sconv2dlstm_scan(
    x_seq: Tensor,
    syn: Tensor,
    mem: Tensor,
    conv: Fn,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
    pool: Fn | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """All steps of ``x_seq [T, B, C_in, H, W]``: returns stacked ``(S, C, U)``."""
    out: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for x in x_seq:
        spk, syn, mem = sconv2dlstm_step(x, syn, mem, conv, threshold, graded, cfg, pool)
        for seq, value in zip(out, (spk, syn, mem)):
            seq.append(value)
    return torch.stack(out[0]), torch.stack(out[1]), torch.stack(out[2])
