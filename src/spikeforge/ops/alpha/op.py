"""The fused Alpha recurrence as ``torch.library`` ops (``spikeforge::alpha_fwd`` /
``spikeforge::alpha_bwd``), built like ``ops.lif.op``.

Forward (``reference.py``, ``R_t = H(U_{t−1} − θ)``)::

    E'_t = α E_{t−1} + X_t,   I'_t = β I_{t−1} − X_t,   M_t = τ (E'_t + I'_t)
    subtract: U_t = M_t + R_t I_{t−1},  E_t = E'_t − R_t θ,  I_t = (1 − R_t) I'_t
    zero:     (E_t, I_t, U_t) = (1 − R_t)(E'_t, I'_t, M_t);   none: (E'_t, I'_t, M_t)
    S_t = g H(U_t − θ)

``τ = ln α / (ln β − ln α) + 1`` is computed in torch (as the reference does) and enters the
op as a parameter, so its gradient reaches ``α`` and ``β`` by autograd. The membrane is not
recurrent: ``U_{t−1}`` only sets the (detached) reset ``R_t``, so ``∂L/∂U_0 = 0``. Backward,
with carries ``c^E_t``, ``c^I_t`` and the direct gradients ``ĝ``::

    G^U_t = ĝ^U_t + g σ'(U_t − θ) ∂L/∂S_t,   G^E_t = ĝ^E_t + c^E_t,   G^I_t = ĝ^I_t + c^I_t
    (G^M, G^{E'}, G^{I'}) = (G^U, G^E, (1 − R_t) G^I) [subtract], (1 − R_t)(G^U, G^E, G^I)
    [zero], (G^U, G^E, G^I) [none];  then G^{E'} += τ G^M,  G^{I'} += τ G^M
    ∂L/∂X_t = G^{E'} − G^{I'},   c^E_{t−1} = α G^{E'},   c^I_{t−1} = β G^{I'} + R_t G^U [subtract]
    ∂L/∂α += G^{E'} E_{t−1},  ∂L/∂β += G^{I'} I_{t−1},  ∂L/∂τ += G^M (α E_{t−1} + β I_{t−1})
    ∂L/∂θ −= g σ'_t ∂L/∂S_t + R_t G^E [subtract],   ∂L/∂g += H(U_t − θ) ∂L/∂S_t

Saved for backward: the membrane sequence, and the two current sequences only when ``α``,
``β`` or ``τ`` need a gradient (``store_syn``); spikes and resets are recomputed.
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

__all__ = ["alpha_scan_fused", "alpha_step_fused"]

registry.register_standard_kernels("alpha", __package__, "alpha_forward", "alpha_backward")

_States = tuple[Tensor, Tensor, Tensor]  # (exc, inh, mem)


def _shapes(x: Tensor, store_mem: bool, store_syn: bool):
    T, N = x.shape
    syn = (T if store_syn else 1, N)
    return (T, N), syn, syn, (T if store_mem else 1, N)


@torch.library.custom_op("spikeforge::alpha_fwd", mutates_args=())
def alpha_fwd(
    x: Tensor, exc0: Tensor, inh0: Tensor, mem0: Tensor, alpha: Tensor, beta: Tensor,
    tau: Tensor, threshold: Tensor, graded: Tensor, reset: int, store_mem: bool,
    store_syn: bool, surrogate: str, sg_p0: float, sg_p1: float, backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, N] -> (spk [T, N], exc_seq, inh_seq [T or 1, N], mem_seq [T or 1, N])."""
    return _forward(x, exc0, inh0, mem0, alpha, beta, tau, threshold, graded, reset, store_mem,
                    store_syn, backend)  # fmt: skip


def _forward(x, exc0, inh0, mem0, alpha, beta, tau, threshold, graded, reset, store_mem,
             store_syn, backend):  # fmt: skip
    """The forward kernels (the custom op's body, also called by the eager path)."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _shapes(x, store_mem, store_syn)]
    ins = [time_rows(x)] + [
        t.contiguous() for t in (exc0, inh0, mem0, alpha, beta, tau, threshold, graded)
    ]
    registry.kernel("alpha", backend).forward(ins, (reset, store_mem, store_syn), outs)
    return tuple(outs)


@alpha_fwd.register_fake
def _(x, e0, i0, u0, alpha, beta, tau, thr, graded, reset, store_mem, store_syn, *rest):
    return tuple(x.new_empty(s) for s in _shapes(x, store_mem, store_syn))


@torch.library.custom_op("spikeforge::alpha_bwd", mutates_args=())
def alpha_bwd(
    grad_spk: Tensor | None, grad_exc: Tensor | None, grad_inh: Tensor | None,
    grad_mem: Tensor | None, exc_seq: Tensor, inh_seq: Tensor, mem_seq: Tensor, exc0: Tensor,
    inh0: Tensor, mem0: Tensor, alpha: Tensor, beta: Tensor, tau: Tensor, threshold: Tensor,
    graded: Tensor, x_steps: int, reset: int, surrogate: str, sg_p0: float, sg_p1: float,
    needs: list[bool], backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Grads of x [x_steps, N], exc0, inh0 [N] and per-neuron sums for alpha, beta, tau,
    threshold, graded ([N], or 0 rows where ``needs`` (exc0 … graded) says no)."""
    return _backward_kernels(
        grad_spk, grad_exc, grad_inh, grad_mem, exc_seq, inh_seq, mem_seq, exc0, inh0, mem0,
        alpha, beta, tau, threshold, graded, x_steps, reset, surrogate, sg_p0, sg_p1, needs,
        backend,
    )  # fmt: skip


def _backward_kernels(
    grad_spk, grad_exc, grad_inh, grad_mem, exc_seq, inh_seq, mem_seq, exc0, inh0, mem0, alpha,
    beta, tau, threshold, graded, x_steps, reset, surrogate, sg_p0, sg_p1, needs, backend,
):  # fmt: skip
    """The backward kernels (the custom op's body, also called by the eager path)."""
    N = mem_seq.shape[1]
    dt, dev = mem_seq.dtype, mem_seq.device
    gx = pooled_empty((x_steps, N), dt, dev)
    rest = [torch.empty((N if need else 0,), dtype=dt, device=dev) for need in needs]
    empty = mem_seq.new_empty((0, N))
    grads = [time_rows(grad_spk) if grad_spk is not None else empty] + [
        g.contiguous() if g is not None else empty for g in (grad_exc, grad_inh, grad_mem)
    ]
    ins = [exc_seq, inh_seq, mem_seq] + [
        t.contiguous() for t in (exc0, inh0, mem0, alpha, beta, tau, threshold, graded)
    ]
    outs = [gx, *rest]
    registry.kernel("alpha", backend).backward(
        grads + ins, surrogate, (sg_p0, sg_p1), (reset,), outs
    )
    return tuple(outs)


@alpha_bwd.register_fake
def _(gs, ge, gi, gu, eseq, iseq, useq, e0, i0, u0, alpha, beta, tau, thr, graded, x_steps,
      reset, kind, p0, p1, needs, backend):  # fmt: skip
    N = useq.shape[1]
    return (useq.new_empty((x_steps, N)),
            *(useq.new_empty((N if need else 0,)) for need in needs))  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    x, e0, i0, u0, alpha, beta, tau, thr, graded, reset, store_mem, store_syn, *sg = inputs
    _, eseq, iseq, useq = output
    ctx.set_materialize_grads(False)
    if not any(p.requires_grad for p in (alpha, beta, tau)):
        eseq = iseq = useq.new_empty((0, useq.shape[1]))  # not read by the backward
    ctx.save_for_backward(eseq, iseq, useq, e0, i0, u0, alpha, beta, tau, thr, graded)
    ctx.x_shape = x.shape
    ctx.x_broadcast = x.shape[0] > 1 and x.stride(0) == 0
    ctx.stores = (store_mem, store_syn)
    ctx.static = (reset, *sg)


def _backward_with(bwd, ctx, grad_spk, grad_exc, grad_inh, grad_mem) -> tuple:
    """The autograd backward shared by the registered op and the eager path; ``bwd`` runs the
    backward kernels (the ``alpha_bwd`` op, or ``_backward_kernels`` directly)."""
    eseq, iseq, useq, e0, i0, u0, alpha, beta, tau, thr, graded = ctx.saved_tensors
    T = ctx.x_shape[0]
    needs = ctx.needs_input_grad
    store_mem, store_syn = ctx.stores
    if T > 1 and (not store_mem or (any(needs[4:7]) and not store_syn)):
        raise RuntimeError(
            "spikeforge::alpha_fwd ran without the sequences its backward needs "
            f"(store_mem={store_mem}, store_syn={store_syn}): no gradient"
        )
    reset, kind, p0, p1, backend = ctx.static
    gx, ge0, gi0, ga, gb, gtau, gth, gg = bwd(
        grad_spk, grad_exc, grad_inh, grad_mem, eseq, iseq, useq, e0, i0, u0, alpha, beta,
        tau, thr, graded, 1 if ctx.x_broadcast else T, reset, kind, p0, p1,
        [needs[1], needs[2], *needs[4:9]], backend,
    )  # fmt: skip
    if ctx.x_broadcast:
        gx = (gx / T).expand(ctx.x_shape)  # see ops.lif.op: spread a time-summed gradient

    return (
        gx if needs[0] else None,
        ge0 if needs[1] else None,
        gi0 if needs[2] else None,
        None,  # U_0 only sets the detached reset of step 1
        param_grad(ga, alpha, needs[4]),
        param_grad(gb, beta, needs[5]),
        param_grad(gtau, tau, needs[6]),
        param_grad(gth, thr, needs[7]),
        param_grad(gg, graded, needs[8]),
        *([None] * 7),
    )


def _backward(ctx, grad_spk, grad_exc, grad_inh, grad_mem):
    return _backward_with(torch.ops.spikeforge.alpha_bwd, ctx, grad_spk, grad_exc, grad_inh,
                          grad_mem)  # fmt: skip


alpha_fwd.register_autograd(_backward, setup_context=_setup_context)


def _eager_forward(x, e0, i0, u0, alpha, beta, tau, thr, graded, reset, store_mem, store_syn,
                   _kind, _p0, _p1, backend):  # fmt: skip
    return _forward(x, e0, i0, u0, alpha, beta, tau, thr, graded, reset, store_mem, store_syn,
                    backend)  # fmt: skip


def _eager_backward(ctx, grad_spk, grad_exc, grad_inh, grad_mem):
    return _backward_with(_backward_kernels, ctx, grad_spk, grad_exc, grad_inh, grad_mem)


# Eager mode skips torch.library's dispatch (see ops.common.eager); torch.compile sees the op.
_EagerAlpha = eager_function("_EagerAlpha", _eager_forward, _setup_context, _eager_backward)


# -- the Python entry points the neuron calls -----------------------------------------------


def _call(x2, exc, inh, mem, alpha, beta, threshold, graded, cfg, need_seqs, backend):
    if not cfg.reset_delay:
        raise ValueError("alpha: reset_delay=False is not defined for the Alpha neuron")
    shape, n, dtype = mem.shape, mem.numel(), mem.dtype
    a = flat_param("alpha", alpha.clamp(0, 1), shape, n)
    b = flat_param("beta", beta.clamp(0, 1), shape, n)
    # Elementwise in the parameters' dtype, as the reference computes it.
    tau = torch.log(a) / (torch.log(b) - torch.log(a)) + 1
    params = tuple(
        p.to(dtype)
        for p in (a, b, tau, flat_param("threshold", threshold, shape, n),
                  flat_param("graded_spikes_factor", graded, shape, n))
    )  # fmt: skip
    states = (exc.reshape(n), inh.reshape(n), mem.reshape(n))
    grad = torch.is_grad_enabled()
    full = need_seqs or x2.shape[0] == 1
    store_syn = full or (grad and any(p.requires_grad for p in params[:3]))
    store_mem = full or (grad and any(t.requires_grad for t in (x2, *states, *params)))
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    return call_fused(
        torch.ops.spikeforge.alpha_fwd, _EagerAlpha, x2, *states, *params,
        RESET_CODES[cfg.reset], store_mem, store_syn, cfg.spike_fn.kind, sg[0], sg[1], backend,
    )  # fmt: skip


def alpha_scan_fused(
    x_seq: Tensor, syn_exc: Tensor, syn_inh: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, cfg: NeuronConfig, backend: str, need_seqs: bool = True,
) -> tuple[Tensor, _States | None, _States]:  # fmt: skip
    """All T steps: ``(spk [T, *S], (exc, inh, mem) sequences or None, final states)``.
    Same numbers as ``reference.alpha_scan``."""
    T, shape = x_seq.shape[0], mem.shape
    spk, eseq, iseq, useq = _call(x_seq.reshape(T, mem.numel()), syn_exc, syn_inh, mem, alpha,
                                  beta, threshold, graded, cfg, need_seqs, backend)  # fmt: skip
    finals = []
    for s in (eseq, iseq, useq):
        final = s[-1].reshape(shape)
        finals.append(final.clone() if s.shape[0] == T and T > 1 else final)
    seqs = tuple(s.view(T, *shape) for s in (eseq, iseq, useq)) if need_seqs else None
    return spk.view(T, *shape), seqs, tuple(finals)


def alpha_step_fused(
    x: Tensor, syn_exc: Tensor, syn_inh: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, cfg: NeuronConfig, backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """One step (one op forward, one backward): ``(S_t, E_t, I_t, U_t)``."""
    shape = mem.shape
    spk, e, i, u = _call(x.reshape(1, mem.numel()), syn_exc, syn_inh, mem, alpha, beta,
                         threshold, graded, cfg, True, backend)  # fmt: skip
    return spk.view(shape), e.view(shape), i.view(shape), u.view(shape)
