"""The LIF family's oracles: one readable pure-PyTorch step per member, run step by step.

Notation: ``R_t = H(U_{t−1} − θ)`` the detached reset signal, ``g`` the graded-spike
factor, ``S_t = g H(U_t − θ)``; decays ``α``, ``β`` clamped to ``[0, 1]`` (Lapicque's
``1 − Δt/τ`` is not). With ``reset_delay=False`` the spike resets the membrane in the same
step (``config.immediate_reset``). ``state_quant`` quantises every state after its update.

Leaky (and IAF, ``β = 1``)::

    U_t = β U_{t−1} + X_t − R_t θ   (subtract)   | β (1 − R_t) U_{t−1} + X_t   (zero)
        | β U_{t−1} + X_t           (none)          -- the reset is not multiplied by β

Synaptic (the zero reset drops the step's input too; ``I`` is not reset)::

    I_t = α I_{t−1} + X_t,   U_t = reset(β U_{t−1} + I_t)

Lapicque (RC circuit, forward Euler, ``τ = R·C``)::

    U_t = reset(X_t·R·(1/τ)·Δt + (1 − Δt/τ) U_{t−1})

RLeaky / RSynaptic (``rec``: one-to-one ``V·S``, an ``nn.Linear`` or a same-padded
``nn.Conv2d`` on the previous spikes, which keep their surrogate gradient)::

    U_t = reset(β U_{t−1} + X_t + rec(S_{t−1}))
    I_t = α I_{t−1} + X_t + rec(S_{t−1}),   U_t = reset(β U_{t−1} + I_t)

where ``reset(W) = W − R_t θ`` (subtract), ``(1 − R_t) W`` (zero), ``W`` (none).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..config import (
    NeuronConfig,
    fire,
    immediate_reset,
    keep_unfired,
    reset_signal,
    reset_updated,
)

__all__ = [
    "lapicque_scan",
    "lapicque_step",
    "leaky_scan",
    "leaky_step",
    "rleaky_scan",
    "rleaky_step",
    "rsynaptic_scan",
    "rsynaptic_step",
    "synaptic_scan",
    "synaptic_step",
]

Recurrent = Callable[[Tensor], Tensor]


def _fire_and_reset(mem, reset, threshold, graded, cfg) -> tuple[Tensor, Tensor]:
    """``S_t`` from the updated membrane, then the immediate reset when not delayed."""
    spk = fire(mem, threshold, graded, cfg)
    if not cfg.reset_delay:
        mem = immediate_reset(mem, spk, reset, threshold, graded, cfg)
    return spk, mem


def _quantised(cfg: NeuronConfig, *states: Tensor) -> tuple[Tensor, ...]:
    if cfg.state_quant is None:
        return states
    return tuple(cfg.state_quant(s) for s in states)


def leaky_step(x, mem, beta, threshold, graded, cfg) -> tuple[Tensor, Tensor]:
    """One step: ``(X_t, U_{t−1}) -> (S_t, U_t)``."""
    beta = beta.clamp(0, 1)
    reset = reset_signal(mem, threshold, cfg)
    if cfg.reset == "subtract":
        mem = beta * mem + x - reset * threshold
    elif cfg.reset == "zero":
        mem = beta * keep_unfired(mem, reset) + x
    else:
        mem = beta * mem + x
    (mem,) = _quantised(cfg, mem)
    return _fire_and_reset(mem, reset, threshold, graded, cfg)


def synaptic_step(x, syn, mem, alpha, beta, threshold, graded, cfg):
    """One step: ``(X_t, I_{t−1}, U_{t−1}) -> (S_t, I_t, U_t)``."""
    return rsynaptic_step(x, None, syn, mem, alpha, beta, threshold, graded, None, cfg)


def lapicque_step(x, mem, R, C, time_step, threshold, graded, cfg) -> tuple[Tensor, Tensor]:
    """One step: ``(X_t, U_{t−1}) -> (S_t, U_t)``."""
    tau = R * C
    reset = reset_signal(mem, threshold, cfg)
    mem = x * R * (1 / tau) * time_step + (1 - time_step / tau) * mem
    mem = reset_updated(mem, reset, threshold, cfg)
    (mem,) = _quantised(cfg, mem)
    return _fire_and_reset(mem, reset, threshold, graded, cfg)


def rleaky_step(x, spk, mem, beta, threshold, graded, recurrent: Recurrent, cfg):
    """One step: ``(X_t, S_{t−1}, U_{t−1}) -> (S_t, U_t)``."""
    reset = reset_signal(mem, threshold, cfg)
    mem = beta.clamp(0, 1) * mem + x + recurrent(spk)
    mem = reset_updated(mem, reset, threshold, cfg)
    (mem,) = _quantised(cfg, mem)
    return _fire_and_reset(mem, reset, threshold, graded, cfg)


def rsynaptic_step(x, spk, syn, mem, alpha, beta, threshold, graded, recurrent, cfg):
    """One step: ``(X_t, S_{t−1}, I_{t−1}, U_{t−1}) -> (S_t, I_t, U_t)``; without
    ``recurrent`` (None) it is Synaptic's step."""
    reset = reset_signal(mem, threshold, cfg)
    syn = alpha.clamp(0, 1) * syn + x
    if recurrent is not None:
        syn = syn + recurrent(spk)
    mem = beta.clamp(0, 1) * mem + syn
    mem = reset_updated(mem, reset, threshold, cfg)
    syn, mem = _quantised(cfg, syn, mem)
    spk, mem = _fire_and_reset(mem, reset, threshold, graded, cfg)
    return spk, syn, mem


def _scan(step: Callable[..., tuple], x_seq: Tensor, state: list, n_carried: int, *args):
    """Run ``step(x, *state, *args)`` over ``x_seq [T, ...]``; its last ``n_carried`` outputs
    become the next state. Returns every output stacked over time."""
    outputs: list[list[Tensor]] = []
    for x in x_seq:
        out = step(x, *state, *args)
        outputs.append(out)
        state = list(out[-n_carried:])
    return tuple(torch.stack(seq) for seq in zip(*outputs))


def leaky_scan(x_seq, mem, beta, threshold, graded, cfg):
    """All steps of ``x_seq [T, ...]``: ``(S, U)``, each ``[T, ...]``."""
    return _scan(leaky_step, x_seq, [mem], 1, beta, threshold, graded, cfg)


def synaptic_scan(x_seq, syn, mem, alpha, beta, threshold, graded, cfg):
    """All steps: ``(S, I, U)``."""
    return _scan(synaptic_step, x_seq, [syn, mem], 2, alpha, beta, threshold, graded, cfg)


def lapicque_scan(x_seq, mem, R, C, time_step, threshold, graded, cfg):
    """All steps: ``(S, U)``."""
    return _scan(lapicque_step, x_seq, [mem], 1, R, C, time_step, threshold, graded, cfg)


def rleaky_scan(x_seq, spk, mem, beta, threshold, graded, recurrent, cfg):
    """All steps: ``(S, U)``."""
    return _scan(rleaky_step, x_seq, [spk, mem], 2, beta, threshold, graded, recurrent, cfg)


def rsynaptic_scan(x_seq, spk, syn, mem, alpha, beta, threshold, graded, recurrent, cfg):
    """All steps: ``(S, I, U)``."""
    args = (alpha, beta, threshold, graded, recurrent, cfg)
    return _scan(rsynaptic_step, x_seq, [spk, syn, mem], 3, *args)
