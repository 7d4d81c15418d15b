"""The fused RSynaptic op in plain torch (any device): same contract and hand-written
backward as ``cpu.py``; state in float32 for half/bfloat16 inputs.

``forward``/``backward`` run the one-to-one ``V·S``; ``scan_forward``/``scan_backward`` take
the recurrence as a pair of callables (``rec(S)`` and its transpose on a gradient), which is
how ``ops/dense`` runs ``nn.Linear`` with the same loops.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..common.torch_rows import compute_dtype as _cd
from ..common.torch_rows import reset_and_fire

Rec = Callable[[Tensor], Tensor]


def forward(
    x, s0, i0, u0, alpha, beta, thr, graded, vrec, reset, delay, store, spk, iseq, useq, vpre
) -> None:
    vw = vrec.to(_cd(x.dtype))
    scan_forward(x, s0, i0, u0, alpha, beta, thr, graded, lambda s: s * vw, reset, delay,
                 store, spk, iseq, useq, vpre)  # fmt: skip


def scan_forward(
    x: Tensor, s0: Tensor, i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor,
    graded: Tensor, rec: Rec, reset: int, delay: bool, store: bool, spk: Tensor, iseq: Tensor,
    useq: Tensor, vpre: Tensor,
) -> None:  # fmt: skip
    """Fill the outputs with ``I_t = α I + X_t + rec(S)``, ``W_t = β U + I_t``."""
    cd = _cd(x.dtype)
    s, cur, u = s0.to(cd), i0.to(cd), u0.to(cd)
    a, b, th, g = (p.to(cd) for p in (alpha, beta, thr, graded))
    for t in range(spk.shape[0]):
        fired = u > th
        cur = a * cur + x[t if x.shape[0] > 1 else 0].to(cd) + rec(s)
        w = b * u + cur
        v, s, u = reset_and_fire(w, fired, th, g, reset, delay, cd)
        spk[t] = s
        if store and not delay:
            vpre[t] = v
        if store:
            iseq[t], useq[t] = cur, u
    if not store:
        iseq[0], useq[0] = cur, u


def backward(
    gs: Tensor, gi: Tensor, gu: Tensor, spk: Tensor, iseq: Tensor, useq: Tensor, vpre: Tensor,
    s0: Tensor, i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor,
    graded: Tensor, vrec: Tensor, spike: Surrogate, reset: int, delay: bool, *outs: Tensor,
) -> None:  # fmt: skip
    vw = vrec.to(_cd(useq.dtype))
    scan_backward(gs, gi, gu, spk, iseq, useq, vpre, s0, i0, u0, alpha, beta, thr, graded,
                  lambda gc: vw * gc, spike, reset, delay, *outs)  # fmt: skip


def scan_backward(
    gs: Tensor, gi: Tensor, gu: Tensor, spk: Tensor, iseq: Tensor, useq: Tensor, vpre: Tensor,
    s0: Tensor, i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor,
    graded: Tensor, rec_back: Rec, spike: Surrogate, reset: int, delay: bool, *outs: Tensor,
) -> None:  # fmt: skip
    """Reverse-time BPTT; ``rec_back(∂L/∂I_t)`` is the gradient reaching ``S_{t−1}``. The V
    gradient (``outs[-1]``) is the one-to-one ``Σ ∂L/∂I_t S_{t−1}`` and left alone if empty."""
    gx, gs0, gi0, gu0, ga, gb, gth, gg, gv_rec = outs
    need_a, need_b, need_th, need_g = (o.shape[0] > 0 for o in (ga, gb, gth, gg))
    cd = _cd(useq.dtype)
    T = useq.shape[0]
    a, b, th, g = (p.to(cd) for p in (alpha, beta, thr, graded))
    cu = torch.zeros(useq.shape[1:], dtype=cd, device=useq.device)
    ci, cs, acc_x, acc_a, acc_b, acc_th, acc_g, acc_v = (torch.zeros_like(cu) for _ in range(8))
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
        gc = gw + ci + (gi[t].to(cd) if gi.shape[0] else 0.0)
        if need_th:
            acc_th += dth - torch.where(fired, gv, 0.0) if reset == 0 else dth
        if need_g:
            acc_g += torch.where(h, gsk, 0.0)
        if need_b:
            acc_b += gw * up
        if need_a:
            acc_a += gc * (i0 if t == 0 else iseq[t - 1]).to(cd)
        if gv_rec.shape[0]:
            acc_v += gc * (s0 if t == 0 else spk[t - 1]).to(cd)
        cu, ci, cs = b * gw, a * gc, rec_back(gc)
        if gx.shape[0] > 1 or T == 1:
            gx[t] = gc
        else:
            acc_x += gc
    if gx.shape[0] == 1 and T > 1:
        gx[0] = acc_x
    pairs = ((gs0, cs), (gi0, ci), (gu0, cu), (ga, acc_a), (gb, acc_b), (gth, acc_th),
             (gg, acc_g), (gv_rec, acc_v))  # fmt: skip
    for out, acc in pairs:
        if out.shape[0]:
            out.copy_(acc)
