"""RSynaptic with a dense recurrence ``rec(S) = S Wᵀ + b`` (``nn.Linear``) as
``torch.library`` ops with a hand-written BPTT (``spikeforge::rsynaptic_dense_fwd`` /
``rsynaptic_dense_bwd``), built like ``ops.rleaky.dense``.

The per-step matrix product rules out an elementwise kernel; this is the ``torch`` backend
only. The forward loops over T with one ``addmm`` per step under no_grad and saves only the
spike and membrane sequences; the backward loops in reverse time with one ``mm`` per step
(``∂L/∂S_{t−1} = ∂L/∂I_t · W``) and forms ``∂L/∂W = Σ_t ∂L/∂I_tᵀ S_{t−1}`` with one product
at the end (``∂L/∂b = Σ ∂L/∂I_t``). Equations otherwise as ``op.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES, surrogate_from
from ..common.args import flat_param, param_grad
from ..common.buffers import pooled_empty
from ..common.torch_rows import compute_dtype
from ..config import NeuronConfig
from . import fallback

__all__ = ["rsynaptic_dense_scan"]

registry.register(
    "rsynaptic_dense", registry.Kernel("torch", 10, lambda: True, registry.torch_why_not)
)


def _grid(p: Tensor, state: Tensor) -> Tensor:
    """A flat ``[1]`` / ``[M·N]`` parameter as ``[1]`` / ``[M, N]``."""
    return p if p.numel() == 1 else p.view(state.shape)


def _shapes(x: Tensor, store: bool, delay: bool):
    T, M, N = x.shape
    keep = (T if store else 1, M, N)
    return (T, M, N), keep, keep, (T if store and not delay else 0, M, N)


@torch.library.custom_op("spikeforge::rsynaptic_dense_fwd", mutates_args=())
def rsynaptic_dense_fwd(
    x: Tensor, spk0: Tensor, syn0: Tensor, mem0: Tensor, weight: Tensor, bias: Tensor,
    alpha: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, reset: int,
    reset_delay: bool, store: bool, surrogate: str, sg_p0: float, sg_p1: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, M, N], states [M, N] -> (spk [T, M, N], syn_seq, mem_seq [T or 1, M, N], v_pre)."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _shapes(x, store, reset_delay)]
    cd = compute_dtype(x.dtype)
    w_t, b = weight.to(cd).t(), bias.to(cd)
    params = [_grid(p, mem0) for p in (alpha, beta, threshold, graded)]
    with torch.no_grad():
        fallback.scan_forward(x.contiguous(), spk0, syn0, mem0, *params,
                              lambda s: torch.addmm(b, s, w_t), reset, reset_delay, store,
                              *outs)  # fmt: skip
    return tuple(outs)


@rsynaptic_dense_fwd.register_fake
def _(x, spk0, syn0, mem0, weight, bias, alpha, beta, thr, graded, reset, delay, store, *rest):
    return tuple(x.new_empty(s) for s in _shapes(x, store, delay))


@torch.library.custom_op("spikeforge::rsynaptic_dense_bwd", mutates_args=())
def rsynaptic_dense_bwd(
    grad_spk: Tensor | None, grad_syn: Tensor | None, grad_mem: Tensor | None, spk: Tensor,
    syn_seq: Tensor, mem_seq: Tensor, v_pre: Tensor, spk0: Tensor, syn0: Tensor, mem0: Tensor,
    weight: Tensor, alpha: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, reset: int,
    reset_delay: bool, surrogate: str, sg_p0: float, sg_p1: float, needs: list[bool],
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip  # noqa: E501
    """Grads of (x, spk0, syn0, mem0, weight, bias, alpha, beta, threshold, graded);
    per-neuron ones as ``[M·N]``, and 0 elements where ``needs`` (all but x) says no."""
    T, M, N = mem_seq.shape
    dt, dev = mem_seq.dtype, mem_seq.device
    cd = compute_dtype(dt)
    gx = pooled_empty((T, M, N), dt, dev)
    n_s0, n_i0, n_u0, n_w, n_b, n_a, n_beta, n_th, n_g = needs
    grid = [torch.empty((M, N) if need else (0,), dtype=dt, device=dev)
            for need in (n_s0, n_i0, n_u0, n_a, n_beta, n_th, n_g)]  # fmt: skip
    empty = mem_seq.new_empty((0, M, N))
    grads = [g.contiguous() if g is not None else empty for g in (grad_spk, grad_syn, grad_mem)]
    w = weight.to(cd)
    params = [_grid(p, mem0) for p in (alpha, beta, threshold, graded)]
    spike = surrogate_from(surrogate, (sg_p0, sg_p1))
    with torch.no_grad():
        fallback.scan_backward(*grads, spk, syn_seq, mem_seq, v_pre, spk0, syn0, mem0, *params,
                               lambda g: g @ w, spike, reset, reset_delay, gx, *grid,
                               mem_seq.new_empty((0,)))  # fmt: skip
        gw = gb = mem_seq.new_empty((0,))
        if n_w:
            g2 = gx.to(cd)
            gw = g2[0].t() @ spk0.to(cd)
            if T > 1:
                gw = gw + g2[1:].reshape(-1, N).t() @ spk[:-1].reshape(-1, N).to(cd)
            gw = gw.to(dt)
        if n_b:
            gb = gx.sum((0, 1))
    gs0, gi0, gu0, ga, gbeta, gth, gg = (g.reshape(-1) for g in grid)
    return gx, gs0, gi0, gu0, gw, gb, ga, gbeta, gth, gg


@rsynaptic_dense_bwd.register_fake
def _(gs, gi, gu, spk, syn_seq, mem_seq, v_pre, spk0, syn0, mem0, weight, alpha, beta, thr,
      graded, reset, delay, kind, p0, p1, needs):  # fmt: skip
    T, M, N = mem_seq.shape
    n_s0, n_i0, n_u0, n_w, n_b, n_a, n_beta, n_th, n_g = needs
    e = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_s0, n_i0, n_u0)]
    p = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_a, n_beta, n_th, n_g)]
    return (mem_seq.new_empty((T, M, N)), *e, mem_seq.new_empty((N, N) if n_w else (0,)),
            mem_seq.new_empty((N,) if n_b else (0,)), *p)  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    _x, spk0, syn0, mem0, weight, _bias, alpha, beta, thr, graded = inputs[:10]
    spk, iseq, useq, vpre = output
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(spk, iseq, useq, vpre, spk0, syn0, mem0, weight, alpha, beta, thr,
                          graded)  # fmt: skip
    reset, delay, store, kind, p0, p1 = inputs[10:]
    ctx.store = store
    ctx.static = (reset, delay, kind, p0, p1)


def _backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
    spk, iseq, useq, vpre, spk0, syn0, mem0, weight, alpha, beta, thr, graded = ctx.saved_tensors
    if not ctx.store and spk.shape[0] > 1:
        raise RuntimeError("spikeforge::rsynaptic_dense_fwd ran with store=False: no gradient")
    needs = ctx.needs_input_grad
    gx, gs0, gi0, gu0, gw, gb, ga, gbeta, gth, gg = torch.ops.spikeforge.rsynaptic_dense_bwd(
        grad_spk, grad_syn, grad_mem, spk, iseq, useq, vpre, spk0, syn0, mem0, weight, alpha,
        beta, thr, graded, *ctx.static, list(needs[1:10]),
    )  # fmt: skip

    state = mem0.shape
    return (
        gx if needs[0] else None,
        gs0.view(state) if needs[1] else None,
        gi0.view(state) if needs[2] else None,
        gu0.view(state) if needs[3] else None,
        gw if needs[4] else None,
        gb if needs[5] else None,
        param_grad(ga, alpha, needs[6]),
        param_grad(gbeta, beta, needs[7]),
        param_grad(gth, thr, needs[8]),
        param_grad(gg, graded, needs[9]),
        *([None] * 6),
    )


rsynaptic_dense_fwd.register_autograd(_backward, setup_context=_setup_context)


def rsynaptic_dense_scan(
    x_seq: Tensor, spk: Tensor, syn: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, linear: torch.nn.Linear, cfg: NeuronConfig,
    need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor, Tensor, Tensor]:  # fmt: skip
    """All T steps of ``x_seq [T, *S, N]``: ``(spk seq, syn seq, mem seq (or None), final
    spk, syn, mem)``."""
    T, shape = x_seq.shape[0], mem.shape
    N = shape[-1] if len(shape) else 1
    M = mem.numel() // N
    n = mem.numel()
    params = [
        flat_param(name, p, shape, n, mem.dtype)
        for name, p in (("alpha", alpha.clamp(0, 1)), ("beta", beta.clamp(0, 1)),
                        ("threshold", threshold), ("graded_spikes_factor", graded))
    ]  # fmt: skip
    states = (spk.reshape(M, N), syn.reshape(M, N), mem.reshape(M, N))
    leaves = (x_seq, *states, linear.weight, linear.bias, *params)
    store = (
        need_seqs or T == 1 or (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))
    )
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    spk_seq, iseq, useq, _ = torch.ops.spikeforge.rsynaptic_dense_fwd(
        x_seq.reshape(T, M, N), *states, linear.weight, linear.bias, *params,
        RESET_CODES[cfg.reset], cfg.reset_delay, store, cfg.spike_fn.kind, sg[0], sg[1],
    )  # fmt: skip
    finals = [s[-1].reshape(shape) for s in (spk_seq, iseq, useq)]
    if T > 1:
        finals = [f.clone() for f in finals]
    seqs = (iseq.view(T, *shape), useq.view(T, *shape)) if need_seqs else (None, None)
    return spk_seq.view(T, *shape), *seqs, *finals
