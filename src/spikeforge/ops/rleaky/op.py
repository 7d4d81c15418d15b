"""The fused one-to-one RLeaky recurrence as ``torch.library`` ops
(``spikeforge::rleaky_fwd`` / ``spikeforge::rleaky_bwd``), built like ``ops.leaky.op``.

Forward (``reference.py`` with ``rec(S) = V·S``): ``W_t = β U_{t−1} + X_t + V S_{t−1}``,
``V_t = W_t − R_t θ`` (subtract) / ``(1 − R_t) W_t`` (zero) / ``W_t``, ``S_t = g H(V_t − θ)``,
``U_t = V_t`` or the immediate reset of ``V_t``. Backward, with carries ``c^U_t = ∂L/∂U_t``
and ``c^S_t = ∂L/∂S_t`` (the recurrent spike keeps its surrogate gradient)::

    ∂L/∂S_t = (direct) + c^S_t
    ∂L/∂V_t = c^U_t ∂U_t/∂V_t + g σ'_t ∂L/∂S_t,   ∂L/∂W_t = (1 − R_t)^{[zero]} ∂L/∂V_t
    ∂L/∂X_t = ∂L/∂W_t,   c^U_{t−1} = β ∂L/∂W_t,   c^S_{t−1} = V ∂L/∂W_t
    ∂L/∂β += ∂L/∂W_t U_{t−1},   ∂L/∂V += ∂L/∂W_t S_{t−1},   ∂L/∂g += H(V_t − θ) ∂L/∂S_t

Saved for backward: the spike and membrane sequences (plus the pre-reset membrane when
``reset_delay=False``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES
from ..common.args import flat_param, param_grad, time_rows
from ..common.buffers import pooled_empty
from ..config import NeuronConfig

__all__ = ["rleaky_scan_fused", "rleaky_step_fused"]

registry.register_standard_kernels("rleaky", __package__, "rleaky_forward", "rleaky_backward")


def _shapes(x: Tensor, store: bool, delay: bool):
    T, N = x.shape
    return (T, N), (T if store else 1, N), (T if store and not delay else 0, N)


@torch.library.custom_op("spikeforge::rleaky_fwd", mutates_args=())
def rleaky_fwd(
    x: Tensor, spk0: Tensor, mem0: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    V: Tensor, reset: int, reset_delay: bool, store: bool, surrogate: str, sg_p0: float,
    sg_p1: float, backend: str,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, N] -> (spk [T, N], mem_seq [T or 1, N], v_pre [T or 0, N])."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _shapes(x, store, reset_delay)]
    ins = [time_rows(x)] + [t.contiguous() for t in (spk0, mem0, beta, threshold, graded, V)]
    registry.kernel("rleaky", backend).forward(ins, (reset, reset_delay, store), outs)
    return tuple(outs)


@rleaky_fwd.register_fake
def _(x, spk0, mem0, beta, thr, graded, V, reset, delay, store, *rest):
    return tuple(x.new_empty(s) for s in _shapes(x, store, delay))


@torch.library.custom_op("spikeforge::rleaky_bwd", mutates_args=())
def rleaky_bwd(
    grad_spk: Tensor | None, grad_mem: Tensor | None, spk: Tensor, mem_seq: Tensor,
    v_pre: Tensor, spk0: Tensor, mem0: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    V: Tensor, x_steps: int, reset: int, reset_delay: bool, surrogate: str, sg_p0: float,
    sg_p1: float, needs: list[bool], backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Grads of x [x_steps, N], spk0, mem0 [N] and per-neuron sums for beta, threshold,
    graded, V ([N], or 0 rows when ``needs`` says no)."""
    N = mem_seq.shape[1]
    dt, dev = mem_seq.dtype, mem_seq.device
    gx = pooled_empty((x_steps, N), dt, dev)
    rest = [torch.empty((N if need else 0,), dtype=dt, device=dev) for need in needs]
    empty = mem_seq.new_empty((0, N))
    grads = [
        time_rows(grad_spk) if grad_spk is not None else empty,
        grad_mem.contiguous() if grad_mem is not None else empty,
    ]
    ins = [spk.contiguous(), mem_seq, v_pre] + [
        t.contiguous() for t in (spk0, mem0, beta, threshold, graded, V)
    ]
    outs = [gx, *rest]
    registry.kernel("rleaky", backend).backward(
        grads + ins,
        surrogate,
        (sg_p0, sg_p1),
        (
            reset,
            reset_delay,
        ),
        outs,
    )
    return tuple(outs)


@rleaky_bwd.register_fake
def _(gs, gu, spk, mem_seq, v_pre, spk0, mem0, beta, thr, graded, V, x_steps, reset, delay,
      kind, p0, p1, needs, backend):  # fmt: skip
    N = mem_seq.shape[1]
    return (mem_seq.new_empty((x_steps, N)),
            *(mem_seq.new_empty((N if need else 0,)) for need in needs))  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    x, spk0, mem0, beta, thr, graded, V = inputs[:7]
    reset, delay, store, kind, p0, p1, backend = inputs[7:]
    spk, useq, vpre = output
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(spk, useq, vpre, spk0, mem0, beta, thr, graded, V)
    ctx.x_shape = x.shape
    ctx.x_broadcast = x.shape[0] > 1 and x.stride(0) == 0
    ctx.store = store
    ctx.static = (reset, delay, kind, p0, p1, backend)


def _backward(ctx, grad_spk, grad_mem, _grad_vpre):
    spk, useq, vpre, spk0, mem0, beta, thr, graded, V = ctx.saved_tensors
    T = ctx.x_shape[0]
    if not ctx.store and T > 1:
        raise RuntimeError("spikeforge::rleaky_fwd ran with store=False: no gradient")
    reset, delay, kind, p0, p1, backend = ctx.static
    needs = ctx.needs_input_grad
    gx, gs0, gu0, gb, gth, gg, gv = torch.ops.spikeforge.rleaky_bwd(
        grad_spk, grad_mem, spk, useq, vpre, spk0, mem0, beta, thr, graded, V,
        1 if ctx.x_broadcast else T, reset, delay, kind, p0, p1, list(needs[1:7]), backend,
    )  # fmt: skip
    if ctx.x_broadcast:
        gx = (gx / T).expand(ctx.x_shape)  # see ops.leaky.op: spread a time-summed gradient

    return (
        gx if needs[0] else None,
        gs0 if needs[1] else None,
        gu0 if needs[2] else None,
        param_grad(gb, beta, needs[3]),
        param_grad(gth, thr, needs[4]),
        param_grad(gg, graded, needs[5]),
        param_grad(gv, V, needs[6]),
        *([None] * 7),
    )


rleaky_fwd.register_autograd(_backward, setup_context=_setup_context)


def _call(x2, spk, mem, beta, threshold, graded, V, cfg, backend, store):
    shape, n, dtype = mem.shape, mem.numel(), mem.dtype
    params = (
        flat_param("beta", beta.clamp(0, 1), shape, n, dtype),
        flat_param("threshold", threshold, shape, n, dtype),
        flat_param("graded_spikes_factor", graded, shape, n, dtype),
        flat_param("V", V, shape, n, dtype),
    )
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    states = (spk.reshape(n), mem.reshape(n))
    if store is None:
        store = torch.is_grad_enabled() and any(
            t.requires_grad for t in (x2, *states, *params)
        )  # fmt: skip
    return torch.ops.spikeforge.rleaky_fwd(
        x2, *states, *params, RESET_CODES[cfg.reset], cfg.reset_delay, store,
        cfg.spike_fn.kind, sg[0], sg[1], backend,
    )  # fmt: skip


def rleaky_scan_fused(
    x_seq: Tensor, spk: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    V: Tensor, cfg: NeuronConfig, backend: str, need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:  # fmt: skip
    """All T steps: ``(spk [T, *S], mem_seq [T, *S] (or None), final spk, final mem)``."""
    T, shape = x_seq.shape[0], mem.shape
    store = True if (need_seqs or T == 1) else None
    spk_seq, useq, _ = _call(x_seq.reshape(T, mem.numel()), spk, mem, beta, threshold, graded,
                             V, cfg, backend, store)  # fmt: skip
    finals = [s[-1].reshape(shape) for s in (spk_seq, useq)]
    if T > 1:
        finals = [f.clone() for f in finals]  # do not keep the sequences alive via the state
    mem_seq = useq.view(T, *shape) if need_seqs else None
    return spk_seq.view(T, *shape), mem_seq, *finals


def rleaky_step_fused(
    x: Tensor, spk: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    V: Tensor, cfg: NeuronConfig, backend: str,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One step (one op forward, one backward): ``(S_t, U_t)``."""
    shape = mem.shape
    spk, useq, _ = _call(x.reshape(1, mem.numel()), spk, mem, beta, threshold, graded, V, cfg,
                         backend, True)  # fmt: skip
    return spk.view(shape), useq.view(shape)
