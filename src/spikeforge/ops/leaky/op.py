"""The fused Leaky recurrence as ``torch.library`` ops: ``spikeforge::leaky_fwd`` runs all
T steps, ``spikeforge::leaky_bwd`` is its hand-written BPTT (reverse time), wired together
with ``register_autograd``; both have fake (meta) implementations so ``torch.compile``
traces through them without graph breaks.

Backward, with ``V_t`` the pre-reset membrane (``= U_t`` when ``reset_delay``),
``σ'_t = surrogate'(V_t − θ)``, ``R_t = H(U_{t−1} − θ)`` and ``c_t = ∂L/∂U_t`` carried back
in time::

    ∂L/∂V_t = c_t ∂U_t/∂V_t + g σ'_t ∂L/∂S_t          (∂U_t/∂V_t = 1 when reset_delay)
    ∂L/∂X_t = ∂L/∂V_t
    c_{t−1} = ∂L/∂U_{t−1} (direct) + β (1 − R_t)^{[zero]} ∂L/∂V_t
    ∂L/∂β  += ∂L/∂V_t (1 − R_t)^{[zero]} U_{t−1},   ∂L/∂θ −= R_t ∂L/∂V_t [subtract] + g σ'_t ∂L/∂S_t
    ∂L/∂g  += H(V_t − θ) ∂L/∂S_t

Only the membrane sequence (plus the pre-reset one when ``reset_delay=False``) is saved:
spikes and reset signals are recomputed from it. Large CPU outputs come from the buffer
pool (``ops.common.buffers``). An input constant over time (stride 0 on the time axis, e.g.
``cur.expand(T, ...)``) is read once per step without being materialised, and its
gradient is summed over time inside the kernel (the expanded view itself then sees that
sum spread evenly over the steps, which is exact for the tensor it was expanded from).
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
from . import step_cpu

__all__ = ["leaky_fused", "leaky_scan_fused", "leaky_step_fused"]

registry.register_standard_kernels(
    "leaky", __package__, "leaky_forward", "leaky_backward", cpu_step=step_cpu
)


# -- the two ops ---------------------------------------------------------------------------


def _fwd_shapes(x: Tensor, store: bool, reset_delay: bool) -> tuple[tuple[int, int], ...]:
    T, N = x.shape
    return (T, N), (T if store else 1, N), (T if store and not reset_delay else 0, N)


@torch.library.custom_op("spikeforge::leaky_fwd", mutates_args=())
def leaky_fwd(
    x: Tensor,
    mem0: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    reset: int,
    reset_delay: bool,
    store: bool,
    surrogate: str,
    sg_p0: float,
    sg_p1: float,
    backend: str,
) -> tuple[Tensor, Tensor, Tensor]:
    """x [T, N], mem0 [N], beta/threshold/graded [1] or [N] -> (spk [T, N], mem_seq
    [T, N] (or [1, N] holding the final state when not ``store``), v_pre [T, N] or [0, N])."""
    return _forward(x, mem0, beta, threshold, graded, reset, reset_delay, store, backend)


def _forward(
    x: Tensor,
    mem0: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    reset: int,
    reset_delay: bool,
    store: bool,
    backend: str,
) -> tuple[Tensor, Tensor, Tensor]:
    """The forward kernels, called by the custom op and by the eager autograd path."""
    shapes = _fwd_shapes(x, store, reset_delay)
    spk, useq, vpre = (pooled_empty(s, x.dtype, x.device) for s in shapes)
    xr = time_rows(x)
    ins = (xr, mem0.contiguous(), beta.contiguous(), threshold.contiguous(), graded.contiguous())
    registry.kernel("leaky", backend).forward(ins, (reset, reset_delay, store), (spk, useq, vpre))
    return spk, useq, vpre


@leaky_fwd.register_fake
def _(x, mem0, beta, threshold, graded, reset, reset_delay, store, surrogate, p0, p1, backend):
    return tuple(x.new_empty(s) for s in _fwd_shapes(x, store, reset_delay))


def _backward_kernels(
    grad_spk: Tensor | None,
    grad_mem: Tensor | None,
    mem_seq: Tensor,
    v_pre: Tensor,
    mem0: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    x_steps: int,
    reset: int,
    reset_delay: bool,
    surrogate: str,
    sg_p0: float,
    sg_p1: float,
    need_mem0: bool,
    need_beta: bool,
    need_threshold: bool,
    need_graded: bool,
    backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients (x [x_steps, N], mem0 [N], and per-neuron sums [N] for beta, threshold,
    graded); a gradient not asked for comes back with 0 rows. The body of the
    ``spikeforge::leaky_bwd`` op, also called directly by the eager autograd path."""
    N = mem_seq.shape[1]
    dt, dev = mem_seq.dtype, mem_seq.device
    gx = pooled_empty((x_steps, N), dt, dev)
    gu0, gb, gth, gg = (
        torch.empty((N if need else 0,), dtype=dt, device=dev)
        for need in (need_mem0, need_beta, need_threshold, need_graded)
    )
    gs = time_rows(grad_spk) if grad_spk is not None else mem_seq.new_empty((0, N))
    gu = grad_mem.contiguous() if grad_mem is not None else mem_seq.new_empty((0, N))
    params = (mem0.contiguous(), beta.contiguous(), threshold.contiguous(), graded.contiguous())
    outs = (gx, gu0, gb, gth, gg)
    registry.kernel("leaky", backend).backward(
        (gs, gu, mem_seq, v_pre, *params), surrogate, (sg_p0, sg_p1), (reset, reset_delay), outs
    )
    return outs


leaky_bwd = torch.library.custom_op("spikeforge::leaky_bwd", mutates_args=())(_backward_kernels)


@leaky_bwd.register_fake
def _(gs, gu, mem_seq, v_pre, mem0, beta, thr, graded, x_steps, *rest):
    need_mem0, need_beta, need_threshold, need_graded = rest[5:9]
    N = mem_seq.shape[1]
    outs = [mem_seq.new_empty((x_steps, N))]
    for need in (need_mem0, need_beta, need_threshold, need_graded):
        outs.append(mem_seq.new_empty((N if need else 0,)))
    return tuple(outs)


def _setup_context(ctx, inputs, output) -> None:
    x, mem0, beta, thr, graded, reset, delay, store, kind, p0, p1, backend = inputs
    _, useq, vpre = output
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(useq, vpre, mem0, beta, thr, graded)
    ctx.x_shape = x.shape
    ctx.x_broadcast = x.shape[0] > 1 and x.stride(0) == 0
    ctx.store = store
    ctx.static = (reset, delay, kind, p0, p1)
    ctx.backend = backend


def _backward_with(bwd, ctx, grad_spk, grad_mem) -> tuple:
    """The autograd backward shared by the custom op and the eager path; ``bwd`` runs the
    backward kernels (the ``leaky_bwd`` op, or ``_backward_kernels`` directly)."""
    useq, vpre, mem0, beta, thr, graded = ctx.saved_tensors
    T = ctx.x_shape[0]
    if not ctx.store and T > 1:
        raise RuntimeError(
            "spikeforge::leaky_fwd ran with store=False: it cannot be differentiated"
        )
    reset, delay, kind, p0, p1 = ctx.static
    needs = ctx.needs_input_grad
    gx, gu0, gb, gth, gg = bwd(
        grad_spk, grad_mem, useq, vpre, mem0, beta, thr, graded,
        1 if ctx.x_broadcast else T, reset, delay, kind, p0, p1,
        needs[1], needs[2], needs[3], needs[4], ctx.backend,
    )  # fmt: skip
    if ctx.x_broadcast:
        # x is a stride-0 view over time (expand/broadcast), whose backward sums over time:
        # hand back the time-summed gradient spread evenly, without materialising [T, N].
        gx = (gx / T).expand(ctx.x_shape)

    return (
        gx if needs[0] else None,
        gu0 if needs[1] else None,
        param_grad(gb, beta, needs[2]),
        param_grad(gth, thr, needs[3]),
        param_grad(gg, graded, needs[4]),
        *([None] * 7),
    )


def _backward(ctx, grad_spk, grad_mem, _grad_vpre):
    return _backward_with(torch.ops.spikeforge.leaky_bwd, ctx, grad_spk, grad_mem)


leaky_fwd.register_autograd(_backward, setup_context=_setup_context)


def _eager_forward(x, mem0, beta, thr, graded, reset, delay, store, _kind, _p0, _p1, backend):
    return _forward(x, mem0, beta, thr, graded, reset, delay, store, backend)


def _eager_backward(ctx, grad_spk, grad_mem, _grad_vpre):
    return _backward_with(_backward_kernels, ctx, grad_spk, grad_mem)


_EagerLeaky = eager_function(
    "_EagerLeaky", _eager_forward, _setup_context, _eager_backward, non_differentiable=(2,)
)


def leaky_fused(*args):
    """``spikeforge::leaky_fwd``'s arguments and outputs, as is (no clamping of β): the
    registered op under torch.compile, the lean autograd path in eager mode."""
    return call_fused(torch.ops.spikeforge.leaky_fwd, _EagerLeaky, *args)


# -- the Python entry points the neurons call -------------------------------------------------


def _surrogate_args(cfg: NeuronConfig) -> tuple[str, float, float]:
    params = (*cfg.spike_fn.params(), 0.0, 0.0)
    return cfg.spike_fn.kind, params[0], params[1]


def _op_args(
    mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig
) -> tuple:
    shape, n, dtype = mem.shape, mem.numel(), mem.dtype
    return (
        mem.reshape(n),
        flat_param("beta", beta.clamp(0, 1), shape, n, dtype),
        flat_param("threshold", threshold, shape, n, dtype),
        flat_param("graded_spikes_factor", graded, shape, n, dtype),
        RESET_CODES[cfg.reset],
        cfg.reset_delay,
    )


def leaky_scan_fused(
    x_seq: Tensor,
    mem: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
    backend: str,
    need_mem_seq: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor]:
    """All T steps of ``x_seq [T, *S]`` from ``mem [*S]``: ``(spk [T, *S], mem_seq [T, *S] or
    None, final mem [*S])``. Same numbers as ``reference.leaky_scan``."""
    T, shape = x_seq.shape[0], mem.shape
    mem0, b, th, g, reset, delay = _op_args(mem, beta, threshold, graded, cfg)
    store = (
        need_mem_seq
        or T == 1
        or (torch.is_grad_enabled() and any(t.requires_grad for t in (x_seq, mem0, b, th, g)))
    )
    spk, useq, _ = leaky_fused(
        x_seq.reshape(T, mem0.shape[0]), mem0, b, th, g, reset, delay, store,
        *_surrogate_args(cfg), backend,
    )  # fmt: skip
    final = useq[-1].reshape(shape)
    if store and T > 1:
        final = final.clone()  # do not keep the whole sequence alive through the state
    mem_seq = useq.view(T, *shape) if need_mem_seq else None
    return spk.view(T, *shape), mem_seq, final


def leaky_step_fused(
    x: Tensor,
    mem: Tensor,
    beta: Tensor,
    threshold: Tensor,
    graded: Tensor,
    cfg: NeuronConfig,
    backend: str,
) -> tuple[Tensor, Tensor]:
    """One step (one op forward, one op backward): ``(X_t, U_{t−1}) -> (S_t, U_t)``."""
    fast = registry.fast_step("leaky", backend)
    if fast is not None:
        plan = fast.plan_step(x, mem, (beta, threshold, graded), cfg)
        if plan is not None:
            return fast.run(x, mem, plan)
    shape = mem.shape
    mem0, b, th, g, reset, delay = _op_args(mem, beta, threshold, graded, cfg)
    spk, useq, _ = leaky_fused(
        x.reshape(1, mem0.shape[0]), mem0, b, th, g, reset, delay, True,
        *_surrogate_args(cfg), backend,
    )  # fmt: skip
    return spk.view(shape), useq.view(shape)
