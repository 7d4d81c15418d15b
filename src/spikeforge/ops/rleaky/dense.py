"""RLeaky with a dense recurrence ``rec(S) = S Wᵀ + b`` (``nn.Linear``) as ``torch.library``
ops with a hand-written BPTT (``spikeforge::rleaky_dense_fwd`` / ``rleaky_dense_bwd``).

The per-step matrix product rules out an elementwise kernel; this is the ``torch`` backend
only. The forward loops over T with one ``addmm`` per step under no_grad and saves only the
spike and membrane sequences; the backward loops in reverse time with one ``mm`` per step
(``∂L/∂S_{t−1} = ∂L/∂W_t · W``) and forms ``∂L/∂W = Σ_t ∂L/∂W_tᵀ S_{t−1}`` with one product
at the end (``∂L/∂b = Σ ∂L/∂W_t``). Equations otherwise as ``op.py``. Its timing against
autograd through the reference: bench/README.md, "Kernel tuning".
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES, surrogate_from
from ..common.args import flat_param, param_grad
from ..common.buffers import pooled_empty
from ..config import NeuronConfig
from . import fallback

__all__ = ["rleaky_dense_scan"]

registry.register(
    "rleaky_dense", registry.Kernel("torch", 10, lambda: True, registry.torch_why_not)
)


def _grid(p: Tensor, state: Tensor) -> Tensor:
    """A flat ``[1]`` / ``[M·N]`` parameter as ``[1]`` / ``[M, N]``."""
    return p if p.numel() == 1 else p.view(state.shape)


def _shapes(x: Tensor, store: bool, delay: bool):
    T, M, N = x.shape
    return (T, M, N), (T if store else 1, M, N), (T if store and not delay else 0, M, N)


@torch.library.custom_op("spikeforge::rleaky_dense_fwd", mutates_args=())
def rleaky_dense_fwd(
    x: Tensor, spk0: Tensor, mem0: Tensor, weight: Tensor, bias: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, reset: int, reset_delay: bool, store: bool,
    surrogate: str, sg_p0: float, sg_p1: float,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, M, N], spk0/mem0 [M, N] -> (spk [T, M, N], mem_seq [T or 1, M, N], v_pre)."""
    outs = [pooled_empty(s, x.dtype, x.device) for s in _shapes(x, store, reset_delay)]
    cd = fallback.compute_dtype(x.dtype)
    w_t, b = weight.to(cd).t(), bias.to(cd)
    params = [_grid(p, mem0) for p in (beta, threshold, graded)]
    with torch.no_grad():
        fallback.scan_forward(x.contiguous(), spk0, mem0, *params, lambda s: torch.addmm(b, s, w_t),
                              reset, reset_delay, store, *outs)  # fmt: skip
    return tuple(outs)


@rleaky_dense_fwd.register_fake
def _(x, spk0, mem0, weight, bias, beta, thr, graded, reset, delay, store, *rest):
    return tuple(x.new_empty(s) for s in _shapes(x, store, delay))


@torch.library.custom_op("spikeforge::rleaky_dense_bwd", mutates_args=())
def rleaky_dense_bwd(
    grad_spk: Tensor | None, grad_mem: Tensor | None, spk: Tensor, mem_seq: Tensor,
    v_pre: Tensor, spk0: Tensor, mem0: Tensor, weight: Tensor, beta: Tensor, threshold: Tensor,
    graded: Tensor, reset: int, reset_delay: bool, surrogate: str, sg_p0: float, sg_p1: float,
    needs: list[bool],
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Grads of (x, spk0, mem0, weight, bias, beta, threshold, graded); per-neuron ones as
    ``[M·N]``, and 0 elements where ``needs`` (all but x) says no."""
    T, M, N = mem_seq.shape
    dt, dev = mem_seq.dtype, mem_seq.device
    cd = fallback.compute_dtype(dt)
    gx = pooled_empty((T, M, N), dt, dev)
    n_s0, n_u0, n_w, n_b, n_beta, n_th, n_g = needs
    grid = [torch.empty((M, N) if need else (0,), dtype=dt, device=dev)
            for need in (n_s0, n_u0, n_beta, n_th, n_g)]  # fmt: skip
    empty = mem_seq.new_empty((0, M, N))
    gs = grad_spk.contiguous() if grad_spk is not None else empty
    gu = grad_mem.contiguous() if grad_mem is not None else empty
    w = weight.to(cd)
    params = [_grid(p, mem0) for p in (beta, threshold, graded)]
    spike = surrogate_from(surrogate, (sg_p0, sg_p1))
    with torch.no_grad():
        fallback.scan_backward(gs, gu, spk, mem_seq, v_pre, spk0, mem0, *params,
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
    gs0, gu0, gbeta, gth, gg = (g.reshape(-1) for g in grid)
    return gx, gs0, gu0, gw, gb, gbeta, gth, gg


@rleaky_dense_bwd.register_fake
def _(gs, gu, spk, mem_seq, v_pre, spk0, mem0, weight, beta, thr, graded, reset, delay, kind,
      p0, p1, needs):  # fmt: skip
    T, M, N = mem_seq.shape
    n_s0, n_u0, n_w, n_b, n_beta, n_th, n_g = needs
    e = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_s0, n_u0)]
    p = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_beta, n_th, n_g)]
    return (mem_seq.new_empty((T, M, N)), *e, mem_seq.new_empty((N, N) if n_w else (0,)),
            mem_seq.new_empty((N,) if n_b else (0,)), *p)  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    _x, spk0, mem0, weight, _bias, beta, thr, graded = inputs[:8]
    reset, delay, store, kind, p0, p1 = inputs[8:]
    spk, useq, vpre = output
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(spk, useq, vpre, spk0, mem0, weight, beta, thr, graded)
    ctx.store = store
    ctx.static = (reset, delay, kind, p0, p1)


def _backward(ctx, grad_spk, grad_mem, _grad_vpre):
    spk, useq, vpre, spk0, mem0, weight, beta, thr, graded = ctx.saved_tensors
    if not ctx.store and spk.shape[0] > 1:
        raise RuntimeError("spikeforge::rleaky_dense_fwd ran with store=False: no gradient")
    needs = ctx.needs_input_grad
    gx, gs0, gu0, gw, gb, gbeta, gth, gg = torch.ops.spikeforge.rleaky_dense_bwd(
        grad_spk, grad_mem, spk, useq, vpre, spk0, mem0, weight, beta, thr, graded,
        *ctx.static, list(needs[1:8]),
    )  # fmt: skip

    state = mem0.shape
    return (
        gx if needs[0] else None,
        gs0.view(state) if needs[1] else None,
        gu0.view(state) if needs[2] else None,
        gw if needs[3] else None,
        gb if needs[4] else None,
        param_grad(gbeta, beta, needs[5]),
        param_grad(gth, thr, needs[6]),
        param_grad(gg, graded, needs[7]),
        *([None] * 6),
    )


rleaky_dense_fwd.register_autograd(_backward, setup_context=_setup_context)


def rleaky_dense_scan(
    x_seq: Tensor, spk: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    linear: torch.nn.Linear, cfg: NeuronConfig, need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:  # fmt: skip
    """All T steps of ``x_seq [T, *S, N]``: ``(spk seq, mem seq or None, final spk, mem)``."""
    T, shape = x_seq.shape[0], mem.shape
    N = shape[-1] if len(shape) else 1
    M = mem.numel() // N
    n = mem.numel()
    params = [
        flat_param(name, p, shape, n, mem.dtype)
        for name, p in (("beta", beta.clamp(0, 1)), ("threshold", threshold),
                        ("graded_spikes_factor", graded))
    ]  # fmt: skip
    states = (spk.reshape(M, N), mem.reshape(M, N))
    leaves = (x_seq, *states, linear.weight, linear.bias, *params)
    store = (
        need_seqs or T == 1 or (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))
    )
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    spk_seq, useq, _ = torch.ops.spikeforge.rleaky_dense_fwd(
        x_seq.reshape(T, M, N), *states, linear.weight, linear.bias, *params,
        RESET_CODES[cfg.reset], cfg.reset_delay, store, cfg.spike_fn.kind, sg[0], sg[1],
    )  # fmt: skip
    finals = [s[-1].reshape(shape) for s in (spk_seq, useq)]
    if T > 1:
        finals = [f.clone() for f in finals]
    mem_seq = useq.view(T, *shape) if need_seqs else None
    return spk_seq.view(T, *shape), mem_seq, *finals
