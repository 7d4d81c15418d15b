"""The fused RLeaky op in plain torch (any device): same contract and hand-written backward
as ``cpu.py``; state in float32 for half/bfloat16 inputs.

``forward``/``backward`` run the one-to-one ``V·S``; ``scan_forward``/``scan_backward`` take
the recurrence as a pair of callables (``rec(S)`` and its transpose on a gradient), which is
how ``ops/dense`` runs ``nn.Linear`` with the same loops.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..common.torch_rows import compute_dtype, reset_and_fire

Rec = Callable[[Tensor], Tensor]


def forward(x, s0, u0, beta, thr, graded, vrec, reset, delay, store, spk, useq, vpre) -> None:
    vw = vrec.to(compute_dtype(x.dtype))
    scan_forward(x, s0, u0, beta, thr, graded, lambda s: s * vw, reset, delay, store, spk, useq,
                 vpre)  # fmt: skip


def scan_forward(
    x: Tensor, s0: Tensor, u0: Tensor, beta: Tensor, thr: Tensor, graded: Tensor, rec: Rec,
    reset: int, delay: bool, store: bool, spk: Tensor, useq: Tensor, vpre: Tensor,
) -> None:  # fmt: skip
    """Fill ``spk``, ``useq`` (``[T|1, ...]``) and ``vpre`` with ``W_t = β U + X_t + rec(S)``."""
    cd = compute_dtype(x.dtype)
    s, u = s0.to(cd), u0.to(cd)
    b, th, g = (p.to(cd) for p in (beta, thr, graded))
    for t in range(spk.shape[0]):
        fired = u > th
        w = b * u + x[t if x.shape[0] > 1 else 0].to(cd) + rec(s)
        v, s, u = reset_and_fire(w, fired, th, g, reset, delay, cd)
        spk[t] = s
        if store and not delay:
            vpre[t] = v
        if store:
            useq[t] = u
    if not store:
        useq[0] = u


def backward(
    gs: Tensor, gu: Tensor, spk: Tensor, useq: Tensor, vpre: Tensor, s0: Tensor, u0: Tensor,
    beta: Tensor, thr: Tensor, graded: Tensor, vrec: Tensor, spike: Surrogate, reset: int,
    delay: bool, *outs: Tensor,
) -> None:  # fmt: skip
    vw = vrec.to(compute_dtype(useq.dtype))
    scan_backward(gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, lambda gw: vw * gw,
                  spike, reset, delay, *outs)  # fmt: skip


def scan_backward(
    gs: Tensor, gu: Tensor, spk: Tensor, useq: Tensor, vpre: Tensor, s0: Tensor, u0: Tensor,
    beta: Tensor, thr: Tensor, graded: Tensor, rec_back: Rec, spike: Surrogate, reset: int,
    delay: bool, *outs: Tensor,
) -> None:  # fmt: skip
    """Reverse-time BPTT; ``rec_back(∂L/∂W_t)`` is the gradient reaching ``S_{t−1}``. The V
    gradient (``outs[-1]``) is the one-to-one ``Σ ∂L/∂W_t S_{t−1}`` and left alone if empty."""
    gx, gs0, gu0, gb, gth, gg, gv_rec = outs
    need_b, need_th, need_g = (o.shape[0] > 0 for o in (gb, gth, gg))
    cd = compute_dtype(useq.dtype)
    T = useq.shape[0]
    b, th, g = (p.to(cd) for p in (beta, thr, graded))
    cu = torch.zeros(useq.shape[1:], dtype=cd, device=useq.device)
    cs, acc_x, acc_b, acc_th, acc_g, acc_v = (torch.zeros_like(cu) for _ in range(6))
    for t in range(T - 1, -1, -1):
        v = (useq[t] if delay else vpre[t]).to(cd)
        up = (u0 if t == 0 else useq[t - 1]).to(cd)
        z = v - th
        sg = spike.grad(z)
        h, fired = z > 0, up > th
        gsk = cs + gs[t if gs.shape[0] > 1 else 0].to(cd) if gs.shape[0] else cs
        gss = gsk * g * sg
        gut = cu + gu[t].to(cd) if gu.shape[0] else cu
        if delay or reset == 2:
            gv = gut + gss
            dth = -gss if need_th else None
        else:
            d = h.to(cd) - fired.to(cd)
            if reset == 0:
                tsg = th * sg
                gv = gut * (1 - tsg) + gss
                dth = gut * (tsg - d) - gss if need_th else None
            else:
                vsg = v * sg
                gv = gut * (1 - d - vsg) + gss
                dth = gut * vsg - gss if need_th else None
        gw = torch.where(fired, 0.0, gv) if reset == 1 else gv
        if need_th:
            acc_th += dth - torch.where(fired, gv, 0.0) if reset == 0 else dth
        if need_g:
            acc_g += torch.where(h, gsk, 0.0)
        if need_b:
            acc_b += gw * up
        if gv_rec.shape[0]:
            acc_v += gw * (s0 if t == 0 else spk[t - 1]).to(cd)
        cu, cs = b * gw, rec_back(gw)
        if gx.shape[0] > 1 or T == 1:
            gx[t] = gw
        else:
            acc_x += gw
    if gx.shape[0] == 1 and T > 1:
        gx[0] = acc_x
    pairs = ((gs0, cs), (gu0, cu), (gb, acc_b), (gth, acc_th), (gg, acc_g), (gv_rec, acc_v))
    for out, acc in pairs:
        if out.shape[0]:
            out.copy_(acc)
