"""The fused Lapicque recurrence, run on the Leaky and Synaptic ops with transformed arguments.

The Euler step of ``reference.py`` is ``Ũ_t = X'_t + b U_{t−1}`` with the input
``X'_t = X_t·R·(1/τ)·Δt`` and the decay ``b = 1 − Δt/τ`` (``τ = R·C``), followed by the
reset. So:

* subtract and none: ``U_t = b U_{t−1} + X'_t − R_t θ`` is Leaky's recurrence exactly
  (``spikeforge::leaky_fwd`` with input ``X'`` and decay ``b``);
* zero: ``U_t = (1 − R_t)(b U_{t−1} + X'_t)`` drops the input of a step that resets, which
  Leaky's zero mode (``b (1 − R_t) U_{t−1} + X_t``) does not; it is Synaptic's zero mode with
  ``α = 0`` and ``I_0 = 0`` (then ``I_t = X'_t``), so it runs ``spikeforge::synaptic_fwd``.

The ops are called directly (``leaky_fused`` / ``synaptic_fused``: their lean eager path, or
the registered op under ``torch.compile``), not through ``leaky_scan_fused``, whose Python
wrapper clamps the decay to ``[0, 1]``: Lapicque's ``1 − Δt/(RC)`` is negative when
``Δt > RC``.
``X'`` and ``b`` are computed in torch with the reference's operation order, so the forward
values are the reference's; gradients reach ``R``, ``C``, ``Δt`` and a learnable ``β``
(through ``R`` or ``C``) by autograd through that transform.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES
from ..common.args import broadcasts_into, flat_param
from ..config import NeuronConfig
from ..leaky.op import leaky_fused
from ..synaptic.op import synaptic_fused

__all__ = ["lapicque_scan_fused", "lapicque_step_fused"]

registry.register_like("lapicque", "leaky")  # it runs on the leaky and synaptic ops


def _transformed_input(x: Tensor, R: Tensor, tau: Tensor, time_step: Tensor) -> Tensor:
    """``X·R·(1/τ)·Δt`` in the reference's order; per-neuron factors must not widen ``x``."""
    for name, p in (("R", R), ("R*C", tau), ("time_step", time_step)):
        if not broadcasts_into(p, x.shape[1:]):
            raise ValueError(
                f"{name} of shape {tuple(p.shape)} does not broadcast to the state "
                f"{tuple(x.shape[1:])}; per-neuron values must match the input's trailing "
                "dimensions"
            )
    return (x * R * (1 / tau) * time_step).to(x.dtype)


def _run(x, mem, R, C, time_step, threshold, graded, cfg, backend, store):
    """``x [T, *S]`` -> the raw op's ``(spk [T, N], mem_seq [T or 1, N])``."""
    T, shape, n, dtype = x.shape[0], mem.shape, mem.numel(), mem.dtype
    tau = R * C
    x_in = _transformed_input(x, R, tau, time_step).reshape(T, n)
    decay = flat_param("1 - time_step/(R*C)", 1 - time_step / tau, shape, n, dtype)
    th = flat_param("threshold", threshold, shape, n, dtype)
    g = flat_param("graded_spikes_factor", graded, shape, n, dtype)
    mem0 = mem.reshape(n)
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    if store is None:
        store = torch.is_grad_enabled() and any(
            t.requires_grad for t in (x_in, mem0, decay, th, g)
        )  # fmt: skip
    static = (RESET_CODES[cfg.reset], cfg.reset_delay, store, cfg.spike_fn.kind, sg[0], sg[1])
    if cfg.reset == "zero":
        no_current = mem0.new_zeros(n)
        no_decay = mem0.new_zeros(1)
        spk, _, useq, _ = synaptic_fused(
            x_in, no_current, mem0, no_decay, decay, th, g, *static, backend,
        )  # fmt: skip
    else:
        spk, useq, _ = leaky_fused(
            x_in, mem0, decay, th, g, *static, backend,
        )  # fmt: skip
    return spk, useq


def lapicque_scan_fused(
    x_seq: Tensor, mem: Tensor, R: Tensor, C: Tensor, time_step: Tensor, threshold: Tensor,
    graded: Tensor, cfg: NeuronConfig, backend: str, need_mem_seq: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor]:  # fmt: skip
    """All T steps of ``x_seq [T, *S]``: ``(spk [T, *S], mem_seq [T, *S] or None, final mem)``.
    Same numbers as ``reference.lapicque_scan``."""
    T, shape = x_seq.shape[0], mem.shape
    store = True if (need_mem_seq or T == 1) else None
    spk, useq = _run(x_seq, mem, R, C, time_step, threshold, graded, cfg, backend, store)
    final = useq[-1].reshape(shape)
    if useq.shape[0] == T and T > 1:
        final = final.clone()  # do not keep the whole sequence alive through the state
    mem_seq = useq.view(T, *shape) if need_mem_seq else None
    return spk.view(T, *shape), mem_seq, final


def lapicque_step_fused(
    x: Tensor, mem: Tensor, R: Tensor, C: Tensor, time_step: Tensor, threshold: Tensor,
    graded: Tensor, cfg: NeuronConfig, backend: str,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One step (one op forward, one backward): ``(X_t, U_{t−1}) -> (S_t, U_t)``."""
    shape = mem.shape
    spk, useq = _run(x.unsqueeze(0), mem, R, C, time_step, threshold, graded, cfg, backend, True)
    return spk.view(shape), useq.view(shape)
