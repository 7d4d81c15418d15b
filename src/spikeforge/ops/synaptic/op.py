"""The fused Synaptic recurrence as ``torch.library`` ops (``spikeforge::synaptic_fwd`` /
``spikeforge::synaptic_bwd``), built like ``ops.leaky.op``.

Forward (``reference.py``): ``I_t = α I_{t−1} + X_t``, ``W_t = β U_{t−1} + I_t``,
``V_t = W_t − R_t θ`` (subtract) / ``(1 − R_t) W_t`` (zero) / ``W_t``, ``S_t = g H(V_t − θ)``,
``U_t = V_t`` or the immediate reset of ``V_t``. Backward, with carries ``c^U_t = ∂L/∂U_t``
and ``c^I_t = ∂L/∂I_t``::

    ∂L/∂V_t = c^U_t ∂U_t/∂V_t + g σ'_t ∂L/∂S_t,   ∂L/∂W_t = (1 − R_t)^{[zero]} ∂L/∂V_t
    ∂L/∂I_t = ∂L/∂W_t + c^I_{t+1} + (direct),      ∂L/∂X_t = ∂L/∂I_t
    c^U_{t−1} = β ∂L/∂W_t,   c^I_{t−1} = α ∂L/∂I_t
    ∂L/∂β += ∂L/∂W_t U_{t−1},   ∂L/∂α += ∂L/∂I_t I_{t−1}

Saved for backward: the current and membrane sequences (plus the pre-reset membrane when
``reset_delay=False``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES
from ..common.args import flat_param, param_grad, time_rows
from ..common.buffers import pooled_empty
from ..common.eager import call_fused, eager_function
from ..config import NeuronConfig

__all__ = ["synaptic_fused", "synaptic_scan_fused", "synaptic_step_fused"]

registry.register_standard_kernels("synaptic", __package__, "synaptic_forward", "synaptic_backward")


def _shapes(x: Tensor, store: bool, delay: bool):
    T, N = x.shape
    return (
        (T, N),
        (T if store else 1, N),
        (T if store else 1, N),
        (T if store and not delay else 0, N),
    )


@torch.library.custom_op("spikeforge::synaptic_fwd", mutates_args=())
def synaptic_fwd(
    x: Tensor, syn0: Tensor, mem0: Tensor, alpha: Tensor, beta: Tensor, threshold: Tensor,
    graded: Tensor, reset: int, reset_delay: bool, store: bool, surrogate: str, sg_p0: float,
    sg_p1: float, backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, N] -> (spk [T, N], syn_seq, mem_seq [T or 1, N], v_pre [T or 0, N])."""
    return _forward(x, syn0, mem0, alpha, beta, threshold, graded, reset, reset_delay, store,
                    backend)  # fmt: skip


def _forward(x, syn0, mem0, alpha, beta, threshold, graded, reset, reset_delay, store, backend):
    """The forward kernels (the custom op's body, also called by the eager path)."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _shapes(x, store, reset_delay)]
    ins = [time_rows(x)] + [t.contiguous() for t in (syn0, mem0, alpha, beta, threshold, graded)]
    registry.kernel("synaptic", backend).forward(ins, (reset, reset_delay, store), outs)
    return tuple(outs)


@synaptic_fwd.register_fake
def _(x, syn0, mem0, alpha, beta, thr, graded, reset, delay, store, *rest):
    return tuple(x.new_empty(s) for s in _shapes(x, store, delay))


def _backward_kernels(
    grad_spk: Tensor | None, grad_syn: Tensor | None, grad_mem: Tensor | None, syn_seq: Tensor,
    mem_seq: Tensor, v_pre: Tensor, syn0: Tensor, mem0: Tensor, alpha: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, x_steps: int, reset: int, reset_delay: bool,
    surrogate: str, sg_p0: float, sg_p1: float, needs: list[bool], backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Grads of x [x_steps, N], syn0, mem0 [N] and per-neuron sums for alpha, beta,
    threshold, graded ([N], or 0 rows when ``needs`` says no). The body of the
    ``spikeforge::synaptic_bwd`` op, also called directly by the eager autograd path."""
    N = mem_seq.shape[1]
    dt, dev = mem_seq.dtype, mem_seq.device
    gx = pooled_empty((x_steps, N), dt, dev)
    rest = [torch.empty((N if need else 0,), dtype=dt, device=dev) for need in needs]
    empty = mem_seq.new_empty((0, N))
    grads = [
        time_rows(grad_spk) if grad_spk is not None else empty,
        grad_syn.contiguous() if grad_syn is not None else empty,
        grad_mem.contiguous() if grad_mem is not None else empty,
    ]
    ins = [syn_seq, mem_seq, v_pre] + [
        t.contiguous() for t in (syn0, mem0, alpha, beta, threshold, graded)
    ]
    outs = [gx, *rest]
    registry.kernel("synaptic", backend).backward(
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


synaptic_bwd = torch.library.custom_op("spikeforge::synaptic_bwd", mutates_args=())(
    _backward_kernels
)


@synaptic_bwd.register_fake
def _(gs, gi, gu, syn_seq, mem_seq, v_pre, syn0, mem0, alpha, beta, thr, graded, x_steps,
      reset, delay, kind, p0, p1, needs, backend):  # fmt: skip
    N = mem_seq.shape[1]
    return (mem_seq.new_empty((x_steps, N)),
            *(mem_seq.new_empty((N if need else 0,)) for need in needs))  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    x, syn0, mem0, alpha, beta, thr, graded, reset, delay, store, kind, p0, p1, backend = inputs
    _, iseq, useq, vpre = output
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(iseq, useq, vpre, syn0, mem0, alpha, beta, thr, graded)
    ctx.x_shape = x.shape
    ctx.x_broadcast = x.shape[0] > 1 and x.stride(0) == 0
    ctx.store = store
    ctx.static = (reset, delay, kind, p0, p1, backend)


def _backward_with(bwd, ctx, grad_spk, grad_syn, grad_mem) -> tuple:
    """The autograd backward shared by the registered op and the eager path."""
    iseq, useq, vpre, syn0, mem0, alpha, beta, thr, graded = ctx.saved_tensors
    T = ctx.x_shape[0]
    if not ctx.store and T > 1:
        raise RuntimeError("spikeforge::synaptic_fwd ran with store=False: no gradient")
    reset, delay, kind, p0, p1, backend = ctx.static
    needs = ctx.needs_input_grad
    gx, gi0, gu0, ga, gb, gth, gg = bwd(
        grad_spk, grad_syn, grad_mem, iseq, useq, vpre, syn0, mem0, alpha, beta, thr, graded,
        1 if ctx.x_broadcast else T, reset, delay, kind, p0, p1, list(needs[1:7]), backend,
    )  # fmt: skip
    if ctx.x_broadcast:
        gx = (gx / T).expand(ctx.x_shape)  # see ops.leaky.op: spread a time-summed gradient

    return (
        gx if needs[0] else None,
        gi0 if needs[1] else None,
        gu0 if needs[2] else None,
        param_grad(ga, alpha, needs[3]),
        param_grad(gb, beta, needs[4]),
        param_grad(gth, thr, needs[5]),
        param_grad(gg, graded, needs[6]),
        *([None] * 7),
    )


def _backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
    return _backward_with(torch.ops.spikeforge.synaptic_bwd, ctx, grad_spk, grad_syn, grad_mem)


synaptic_fwd.register_autograd(_backward, setup_context=_setup_context)


def _eager_forward(x, syn0, mem0, alpha, beta, thr, graded, reset, delay, store, *rest):
    return _forward(x, syn0, mem0, alpha, beta, thr, graded, reset, delay, store, rest[-1])


def _eager_backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
    return _backward_with(_backward_kernels, ctx, grad_spk, grad_syn, grad_mem)


_EagerSynaptic = eager_function(
    "_EagerSynaptic", _eager_forward, _setup_context, _eager_backward, non_differentiable=(3,)
)


def synaptic_fused(*args):
    """``spikeforge::synaptic_fwd``'s arguments and outputs, as is (no clamping of α, β):
    the registered op under torch.compile, the lean autograd path in eager mode."""
    return call_fused(torch.ops.spikeforge.synaptic_fwd, _EagerSynaptic, *args)


def _call(x2, syn, mem, alpha, beta, threshold, graded, cfg, backend, store):
    shape, n, dtype = mem.shape, mem.numel(), mem.dtype
    params = (
        flat_param("alpha", alpha.clamp(0, 1), shape, n, dtype),
        flat_param("beta", beta.clamp(0, 1), shape, n, dtype),
        flat_param("threshold", threshold, shape, n, dtype),
        flat_param("graded_spikes_factor", graded, shape, n, dtype),
    )
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    if store is None:
        store = torch.is_grad_enabled() and any(
            t.requires_grad for t in (x2, syn, mem, *params)
        )  # fmt: skip
    return synaptic_fused(
        x2, syn.reshape(n), mem.reshape(n), *params, RESET_CODES[cfg.reset], cfg.reset_delay,
        store, cfg.spike_fn.kind, sg[0], sg[1], backend,
    )  # fmt: skip


def synaptic_scan_fused(
    x_seq: Tensor, syn: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor, threshold: Tensor,
    graded: Tensor, cfg: NeuronConfig, backend: str, need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor, Tensor]:  # fmt: skip
    """All T steps: ``(spk [T, *S], syn_seq, mem_seq (or None), final syn, final mem)``."""
    T, shape = x_seq.shape[0], mem.shape
    store = True if (need_seqs or T == 1) else None
    spk, iseq, useq, _ = _call(x_seq.reshape(T, mem.numel()), syn, mem, alpha, beta,
                               threshold, graded, cfg, backend, store)  # fmt: skip
    finals = [s[-1].reshape(shape) for s in (iseq, useq)]
    if iseq.shape[0] == T and T > 1:
        finals = [f.clone() for f in finals]  # do not keep the sequences alive via the state
    seqs = (iseq.view(T, *shape), useq.view(T, *shape)) if need_seqs else (None, None)
    return spk.view(T, *shape), *seqs, *finals


def synaptic_step_fused(
    x: Tensor, syn: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor, threshold: Tensor,
    graded: Tensor, cfg: NeuronConfig, backend: str,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """One step (one op forward, one backward): ``(S_t, I_t, U_t)``."""
    shape = mem.shape
    spk, iseq, useq, _ = _call(x.reshape(1, mem.numel()), syn, mem, alpha, beta, threshold,
                               graded, cfg, backend, True)  # fmt: skip
    return spk.view(shape), iseq.view(shape), useq.view(shape)
