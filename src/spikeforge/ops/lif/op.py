"""The LIF family as one pair of ``torch.library`` ops: ``spikeforge::lif_fwd`` runs all T
steps of any member (``flags``: synaptic current, one-to-one recurrence, Leaky's zero
reset), ``spikeforge::lif_bwd`` is its hand-written BPTT, wired with ``register_autograd``;
both have fake implementations, so ``torch.compile`` traces through without graph breaks.

Forward, with ``R_t = H(U_{t−1} − θ)`` (detached)::

    C_t = X_t + v S_{t−1}  [REC]          I_t = α I_{t−1} + C_t  [SYN]   (else I_t = C_t)
    V_t = β U_{t−1} + I_t − R_t θ  (subtract) | (1 − R_t)(β U_{t−1} + I_t)  (zero)
        | β (1 − R_t) U_{t−1} + I_t  (zero, KEEP) | β U_{t−1} + I_t  (none)
    S_t = g H(V_t − θ),   U_t = V_t  or, without delay, V_t minus this step's reset

Backward, with carries ``c^U = ∂L/∂U_t``, ``c^I``, ``c^S`` from step ``t+1``::

    ∂L/∂V_t = c^U ∂U_t/∂V_t + g σ'(V_t − θ)(∂L/∂S_t + c^S)
    ∂L/∂I_t = ∂L/∂V_t (1 − R_t)^{[zero, not KEEP]} + c^I  [SYN]
    c^U ← β ∂L/∂V_t (1 − R_t)^{[zero]},  c^I ← α ∂L/∂I_t,  c^S ← v ∂L/∂I_t,  ∂L/∂X_t = ∂L/∂I_t

Only the state sequences are saved (the current with SYN, the spikes with REC, the
pre-reset membrane without delay); spikes and resets are recomputed from them. An input
constant over time (stride 0, ``cur.expand(T, ...)``) is read once per step and its
gradient summed over time in the kernel.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .. import registry
from ..common.args import flat_param, param_grad, time_rows
from ..common.buffers import pooled_empty
from ..common.eager import use_custom_op
from .flags import LEAKY, REC, SYN, SYNAPTIC
from .step_cpu import StepCPU

__all__ = ["lif_fused", "op_tensors"]

OPS = ("leaky", "synaptic", "lapicque", "rleaky", "rsynaptic")


# Every member runs on the kernels registered under "lif" (``cpu``, ``triton``, ``fallback``);
# Leaky and Synaptic's CPU kernel also has the single-step fast path.
registry.register_standard_kernels("lif", __package__, "lif_forward", "lif_backward")
for _op in OPS:
    registry.register_like(_op, "lif")
for _op, _model in (("leaky", LEAKY), ("synaptic", SYNAPTIC)):
    registry.register(_op, replace(registry.kernel(_op, "cpu"), step=StepCPU(_model)))


# -- the two ops ---------------------------------------------------------------------------


def _fwd_shapes(x: Tensor, model: int, store: bool, delay: bool) -> tuple[tuple[int, int], ...]:
    T, N = x.shape
    kept = T if store else 1
    return (T, N), (kept if model & SYN else 0, N), (kept, N), (T if store and not delay else 0, N)


@torch.library.custom_op("spikeforge::lif_fwd", mutates_args=())
def lif_fwd(
    x: Tensor, i0: Tensor, u0: Tensor, s0: Tensor, alpha: Tensor, beta: Tensor, vrec: Tensor,
    threshold: Tensor, graded: Tensor, model: int, reset: int, reset_delay: bool, store: bool,
    surrogate: str, sg_p0: float, sg_p1: float, backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, N], i0/s0 [N] or [0], u0 [N], params [1] or [N] -> (spk [T, N], iseq [T, 1 or 0
    rows], useq [T or 1 rows], vpre [T or 0 rows]); 1 row = the final state (not ``store``)."""
    return _forward(x, i0, u0, s0, alpha, beta, vrec, threshold, graded, model, reset,
                    reset_delay, store, backend)  # fmt: skip


def _forward(x, i0, u0, s0, alpha, beta, vrec, thr, graded, model, reset, delay, store, backend):
    """The forward kernels (the custom op's body, also called by the eager path)."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _fwd_shapes(x, model, store, delay)]
    ins = [time_rows(x)] + [t.contiguous() for t in (i0, u0, s0, alpha, beta, vrec, thr, graded)]
    registry.kernel("lif", backend).forward(ins, (model, reset, delay, store), outs)
    return tuple(outs)


@lif_fwd.register_fake
def _(x, i0, u0, s0, alpha, beta, vrec, thr, graded, model, reset, delay, store, *rest):
    return tuple(x.new_empty(s) for s in _fwd_shapes(x, model, store, delay))


def _backward_kernels(
    grad_spk: Tensor | None, grad_syn: Tensor | None, grad_mem: Tensor | None, spk: Tensor,
    iseq: Tensor, useq: Tensor, vpre: Tensor, i0: Tensor, u0: Tensor, s0: Tensor, alpha: Tensor,
    beta: Tensor, vrec: Tensor, threshold: Tensor, graded: Tensor, x_steps: int, model: int,
    reset: int, reset_delay: bool, surrogate: str, sg_p0: float, sg_p1: float, needs: list[bool],
    backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """``(∂x [x_steps, N], ∂i0, ∂u0, ∂s0 [N], and per-neuron sums [N] for α, β, v, θ, g)``;
    a gradient ``needs`` does not ask for has 0 rows. The ``spikeforge::lif_bwd`` op's body,
    also called by the eager autograd path."""
    N = useq.shape[1]
    dt, dev = useq.dtype, useq.device
    outs = [pooled_empty((x_steps, N), dt, dev)]
    outs += [torch.empty((N if need else 0,), dtype=dt, device=dev) for need in needs]
    empty = useq.new_empty((0, N))
    grads = [
        time_rows(grad_spk) if grad_spk is not None else empty,
        grad_syn.contiguous() if grad_syn is not None else empty,
        grad_mem.contiguous() if grad_mem is not None else empty,
    ]
    params = (i0, u0, s0, alpha, beta, vrec, threshold, graded)
    ins = [*grads, spk, iseq, useq, vpre, *(t.contiguous() for t in params)]
    registry.kernel("lif", backend).backward(
        ins, surrogate, (sg_p0, sg_p1), (model, reset, reset_delay), outs
    )
    return tuple(outs)


lif_bwd = torch.library.custom_op("spikeforge::lif_bwd", mutates_args=())(_backward_kernels)


@lif_bwd.register_fake
def _(gs, gi, gu, spk, iseq, useq, vpre, i0, u0, s0, alpha, beta, vrec, thr, graded, x_steps,
      model, reset, delay, kind, p0, p1, needs, backend):  # fmt: skip
    N = useq.shape[1]
    return (useq.new_empty((x_steps, N)),
            *(useq.new_empty((N if need else 0,)) for need in needs))  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    x, i0, u0, s0, alpha, beta, vrec, thr, graded = inputs[:9]
    model, reset, delay, store, kind, p0, p1, backend = inputs[9:]
    spk, iseq, useq, vpre = output
    ctx.set_materialize_grads(False)
    kept_spk = spk if model & REC else spk.new_empty((0, spk.shape[1]))
    ctx.save_for_backward(kept_spk, iseq, useq, vpre, i0, u0, s0, alpha, beta, vrec, thr, graded)
    ctx.x_shape = x.shape
    ctx.x_broadcast = x.shape[0] > 1 and x.stride(0) == 0
    ctx.store = store
    ctx.static = (model, reset, delay, kind, p0, p1)
    ctx.backend = backend


def _backward_with(bwd, ctx, grad_spk, grad_syn, grad_mem) -> tuple:
    """The autograd backward shared by the registered op and the eager path; ``bwd`` runs
    the backward kernels (the ``lif_bwd`` op, or ``_backward_kernels`` directly)."""
    spk, iseq, useq, vpre, *params = ctx.saved_tensors
    T = ctx.x_shape[0]
    if not ctx.store and T > 1:
        raise RuntimeError("spikeforge::lif_fwd ran with store=False: it cannot be differentiated")
    model = ctx.static[0]
    has = (model & SYN, True, model & REC, model & SYN, True, model & REC, True, True)
    asked = ctx.needs_input_grad
    needs = [asked[0]] + [bool(n and h) for n, h in zip(asked[1:9], has)]
    grads = bwd(
        grad_spk, grad_syn, grad_mem, spk, iseq, useq, vpre, *params,
        1 if ctx.x_broadcast else T, *ctx.static, needs[1:], ctx.backend,
    )  # fmt: skip
    gx = grads[0]
    if ctx.x_broadcast:
        # x is a stride-0 view over time, whose backward sums over time: hand back the
        # time-summed gradient spread evenly, without materialising [T, N].
        gx = (gx / T).expand(ctx.x_shape)
    states = [g if need else None for g, need in zip(grads[1:4], needs[1:4])]
    sums = [param_grad(g, p, need) for g, p, need in zip(grads[4:], params[3:], needs[4:9])]
    return (gx if needs[0] else None, *states, *sums, *([None] * 8))


def _backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
    return _backward_with(torch.ops.spikeforge.lif_bwd, ctx, grad_spk, grad_syn, grad_mem)


lif_fwd.register_autograd(_backward, setup_context=_setup_context)


class _EagerLif(torch.autograd.Function):
    """The eager path of ``spikeforge::lif_fwd``: the same forward and backward kernels,
    without ``torch.library``'s dispatch (``ops/common/eager.py``)."""

    @staticmethod
    def forward(ctx, *args):
        output = _forward(*args[:13], args[-1])
        _setup_context(ctx, args, output)
        ctx.mark_non_differentiable(output[3])
        return output

    @staticmethod
    def backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
        return _backward_with(_backward_kernels, ctx, grad_spk, grad_syn, grad_mem)


def lif_fused(*args):
    """``spikeforge::lif_fwd``'s arguments and outputs, as is (no clamping): the registered
    op under ``torch.compile``, the lean autograd path in eager mode."""
    if use_custom_op():
        return torch.ops.spikeforge.lif_fwd(*args)
    return _EagerLif.apply(*args)


# -- the Python entry the recurrences call ---------------------------------------------------


def op_tensors(model: int, x: Tensor, syn, mem: Tensor, spk, alpha, beta: Tensor, vrec,
               threshold: Tensor, graded: Tensor) -> tuple[Tensor, ...]:  # fmt: skip
    """A member's tensors as the op takes them: ``[T, N]`` input, ``[N]`` states (``[0]``
    when the member has none) and ``[1]``/``[N]`` parameters (0 for an unused one)."""
    shape, n, dtype = mem.shape, mem.numel(), mem.dtype
    none, unused = mem.new_empty(0), mem.new_zeros(1)
    return (
        x.reshape(x.shape[0], n),
        syn.reshape(n) if model & SYN else none,
        mem.reshape(n),
        spk.reshape(n) if model & REC else none,
        flat_param("alpha", alpha, shape, n, dtype) if model & SYN else unused,
        flat_param("beta", beta, shape, n, dtype),
        flat_param("V", vrec, shape, n, dtype) if model & REC else unused,
        flat_param("threshold", threshold, shape, n, dtype),
        flat_param("graded_spikes_factor", graded, shape, n, dtype),
    )
