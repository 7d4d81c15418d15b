"""RLeaky and RSynaptic with a dense recurrence ``rec(S) = S Wᵀ + b`` (``nn.Linear``) as one
pair of ``torch.library`` ops with a hand-written BPTT (``spikeforge::dense_recurrence_fwd``
/ ``dense_recurrence_bwd``); ``synaptic`` selects the neuron.

RLeaky:    ``W_t = β U_{t−1} + X_t + rec(S_{t−1})``;
RSynaptic: ``I_t = α I_{t−1} + X_t + rec(S_{t−1})``, ``W_t = β U_{t−1} + I_t``;
then reset and fire as ``ops/lif/op.py``.

The per-step matrix product rules out an elementwise kernel; this is the ``torch`` backend
only. The forward loops over T with one ``addmm`` per step and saves only the state
sequences; the backward loops in reverse time with one ``mm`` per step
(``∂L/∂S_{t−1} = G_t · W``, ``G_t`` the gradient of the recurrent input), both under
no_grad on one intra-op thread, and forms ``∂L/∂W = Σ_t G_tᵀ S_{t−1}`` with one product at
the end (``∂L/∂b = Σ_t G_t``). The loops are the LIF family's torch kernel (``ops.lif.fallback``)
with ``rec`` in place of the one-to-one ``v S``. Timing against
autograd through the reference: bench/README.md, "Kernel tuning".
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES, surrogate_from
from ..common.args import flat_param, param_grad
from ..common.buffers import pooled_empty
from ..common.torch_rows import compute_dtype
from ..config import NeuronConfig
from ..lif import fallback
from ..lif.flags import REC, SYN

__all__ = ["rleaky_dense_scan", "rsynaptic_dense_scan"]

for _op in ("rleaky_dense", "rsynaptic_dense"):
    registry.register(_op, registry.Kernel("torch", 10, lambda: True, registry.torch_why_not))


def _rows(t: Tensor) -> Tensor:
    """A ``[T, M, N]`` sequence as ``[T, M·N]`` rows, a state or parameter flat."""
    return t.flatten(1) if t.dim() == 3 else t.reshape(-1)


@contextmanager
def _one_thread(device: torch.device):
    """Run the step loops on one intra-op thread (CPU): a step's ``[M, N] × [N, N]``
    product is too small to share, and on a loaded machine waking a second thread for each
    one cost 10× (bench/README.md, "Kernel tuning"). The previous count is restored after."""
    n = torch.get_num_threads()
    if device.type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _shapes(x: Tensor, store: bool, delay: bool, synaptic: bool):
    """Shapes of (spk, syn_seq, mem_seq, v_pre); ``syn_seq`` has 0 rows for RLeaky."""
    T, M, N = x.shape
    keep = (T if store else 1, M, N)
    return (T, M, N), keep if synaptic else (0, M, N), keep, (T if store and not delay else 0, M, N)


@torch.library.custom_op("spikeforge::dense_recurrence_fwd", mutates_args=())
def dense_recurrence_fwd(
    x: Tensor, spk0: Tensor, syn0: Tensor, mem0: Tensor, weight: Tensor, bias: Tensor,
    alpha: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, reset: int,
    reset_delay: bool, store: bool, synaptic: bool, surrogate: str, sg_p0: float, sg_p1: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """x [T, M, N], states [M, N] (``syn0``, ``alpha`` empty for RLeaky) -> (spk [T, M, N],
    syn_seq, mem_seq [T or 1, M, N], v_pre)."""
    spk, iseq, useq, vpre = (pooled_empty(s, x.dtype, x.device)
                             for s in _shapes(x, store, reset_delay, synaptic))  # fmt: skip
    cd = compute_dtype(x.dtype)
    w_t, b = weight.to(cd).t(), bias.to(cd)
    M, N = mem0.shape
    rec = lambda s: torch.addmm(b, s.view(M, N), w_t).view(-1)  # noqa: E731
    model = (SYN if synaptic else 0) | REC
    ins = (x, syn0, mem0, spk0, alpha, beta, mem0.new_zeros(1), threshold, graded)
    with torch.no_grad(), _one_thread(x.device):
        fallback.forward(*map(_rows, ins), model, reset, reset_delay, store,
                         *map(_rows, (spk, iseq, useq, vpre)), rec=rec)  # fmt: skip
    return spk, iseq, useq, vpre


@dense_recurrence_fwd.register_fake
def _(x, spk0, syn0, mem0, weight, bias, alpha, beta, thr, graded, reset, delay, store,
      synaptic, *rest):  # fmt: skip
    return tuple(x.new_empty(s) for s in _shapes(x, store, delay, synaptic))


@torch.library.custom_op("spikeforge::dense_recurrence_bwd", mutates_args=())
def dense_recurrence_bwd(
    grad_spk: Tensor | None, grad_syn: Tensor | None, grad_mem: Tensor | None, spk: Tensor,
    syn_seq: Tensor, mem_seq: Tensor, v_pre: Tensor, spk0: Tensor, syn0: Tensor, mem0: Tensor,
    weight: Tensor, alpha: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, reset: int,
    reset_delay: bool, synaptic: bool, surrogate: str, sg_p0: float, sg_p1: float,
    needs: list[bool],
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
    gs0, gi0, gu0, ga, *gparams = grid
    empty = mem_seq.new_empty((0, M, N))
    gs, gi, gu = (
        g.contiguous() if g is not None else empty for g in (grad_spk, grad_syn, grad_mem)
    )
    w = weight.to(cd)
    spike = surrogate_from(surrogate, (sg_p0, sg_p1))
    no_v = mem_seq.new_empty((0,))
    back = lambda g: (g.view(M, N) @ w).view(-1)  # noqa: E731
    model = (SYN if synaptic else 0) | REC
    ins = (gs, gi, gu, spk, syn_seq, mem_seq, v_pre, syn0, mem0, spk0, alpha, beta, no_v,
           threshold, graded)  # fmt: skip
    outs = (gx, gi0, gu0, gs0, ga, gparams[0], no_v, *gparams[1:])
    with torch.no_grad(), _one_thread(dev):
        fallback.backward(*map(_rows, ins), spike, model, reset, reset_delay,
                          *map(_rows, outs), rec_t=back)  # fmt: skip
    with torch.no_grad():
        gw = gb = no_v
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


@dense_recurrence_bwd.register_fake
def _(gs, gi, gu, spk, syn_seq, mem_seq, v_pre, spk0, syn0, mem0, weight, alpha, beta, thr,
      graded, reset, delay, synaptic, kind, p0, p1, needs):  # fmt: skip
    T, M, N = mem_seq.shape
    n_s0, n_i0, n_u0, n_w, n_b, n_a, n_beta, n_th, n_g = needs
    e = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_s0, n_i0, n_u0)]
    p = [mem_seq.new_empty((M * N if n else 0,)) for n in (n_a, n_beta, n_th, n_g)]
    return (mem_seq.new_empty((T, M, N)), *e, mem_seq.new_empty((N, N) if n_w else (0,)),
            mem_seq.new_empty((N,) if n_b else (0,)), *p)  # fmt: skip


def _setup_context(ctx, inputs, output) -> None:
    _x, spk0, syn0, mem0, weight, _bias, alpha, beta, thr, graded = inputs[:10]
    reset, delay, store, synaptic, kind, p0, p1 = inputs[10:]
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(*output, spk0, syn0, mem0, weight, alpha, beta, thr, graded)
    ctx.store = store
    ctx.static = (reset, delay, synaptic, kind, p0, p1)


def _backward(ctx, grad_spk, grad_syn, grad_mem, _grad_vpre):
    spk, iseq, useq, vpre, spk0, syn0, mem0, weight, alpha, beta, thr, graded = ctx.saved_tensors
    if not ctx.store and spk.shape[0] > 1:
        raise RuntimeError("spikeforge::dense_recurrence_fwd ran with store=False: no gradient")
    needs = ctx.needs_input_grad
    gx, gs0, gi0, gu0, gw, gb, ga, gbeta, gth, gg = torch.ops.spikeforge.dense_recurrence_bwd(
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
        *([None] * 7),
    )


dense_recurrence_fwd.register_autograd(_backward, setup_context=_setup_context)


def _dense_scan(
    x_seq: Tensor, states: tuple[Tensor, ...], decays: tuple[Tensor, ...], threshold: Tensor,
    graded: Tensor, linear: torch.nn.Linear, cfg: NeuronConfig, need_seqs: bool,
) -> tuple[Tensor | None, ...]:  # fmt: skip
    """``states`` (spk, mem) with ``decays`` (β,) runs RLeaky, (spk, syn, mem) with (α, β)
    RSynaptic: ``(spk seq, *state seqs or None, *final states)``."""
    synaptic = len(states) == 3
    mem = states[-1]
    T, shape = x_seq.shape[0], mem.shape
    N = shape[-1] if len(shape) else 1
    M = mem.numel() // N
    n = mem.numel()
    named = (*zip(("alpha", "beta")[-len(decays) :], (d.clamp(0, 1) for d in decays)),
             ("threshold", threshold), ("graded_spikes_factor", graded))  # fmt: skip
    params = [flat_param(name, p, shape, n, mem.dtype) for name, p in named]
    flat = [s.reshape(M, N) for s in states]
    leaves = (x_seq, *flat, linear.weight, linear.bias, *params)
    store = (
        need_seqs or T == 1 or (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))
    )
    if not synaptic:  # no current: empty syn0 and alpha
        flat.insert(1, mem.new_empty((0,)))
        params.insert(0, mem.new_empty((0,)))
    sg = (*cfg.spike_fn.params(), 0.0, 0.0)
    spk_seq, iseq, useq, _ = torch.ops.spikeforge.dense_recurrence_fwd(
        x_seq.reshape(T, M, N), *flat, linear.weight, linear.bias, *params,
        RESET_CODES[cfg.reset], cfg.reset_delay, store, synaptic, cfg.spike_fn.kind, sg[0], sg[1],
    )  # fmt: skip
    seqs = (iseq, useq) if synaptic else (useq,)
    finals = [s[-1].reshape(shape) for s in (spk_seq, *seqs)]
    if T > 1:
        finals = [f.clone() for f in finals]
    views = [s.view(T, *shape) if need_seqs else None for s in seqs]
    return spk_seq.view(T, *shape), *views, *finals


def rleaky_dense_scan(
    x_seq: Tensor, spk: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor,
    linear: torch.nn.Linear, cfg: NeuronConfig, need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:  # fmt: skip
    """All T steps of ``x_seq [T, *S, N]``: ``(spk seq, mem seq or None, final spk, mem)``."""
    return _dense_scan(x_seq, (spk, mem), (beta,), threshold, graded, linear, cfg, need_seqs)


def rsynaptic_dense_scan(
    x_seq: Tensor, spk: Tensor, syn: Tensor, mem: Tensor, alpha: Tensor, beta: Tensor,
    threshold: Tensor, graded: Tensor, linear: torch.nn.Linear, cfg: NeuronConfig,
    need_seqs: bool = True,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor, Tensor, Tensor]:  # fmt: skip
    """All T steps of ``x_seq [T, *S, N]``: ``(spk seq, syn seq, mem seq (or None), final
    spk, syn, mem)``."""
    return _dense_scan(x_seq, (spk, syn, mem), (alpha, beta), threshold, graded, linear, cfg,
                       need_seqs)  # fmt: skip
