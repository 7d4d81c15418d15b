"""The fused Synaptic op in plain torch (any device): same contract and hand-written
backward as ``cpu.py``; state in float32 for half/bfloat16 inputs."""

from __future__ import annotations

import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..common.torch_rows import compute_dtype, reset_and_fire


def forward(x, i0, u0, alpha, beta, thr, graded, reset, delay, store, spk, iseq, useq, vpre):
    cd = compute_dtype(x.dtype)
    cur, u = i0.to(cd), u0.to(cd)
    a, b, th, g = (p.to(cd) for p in (alpha, beta, thr, graded))
    for t in range(spk.shape[0]):
        fired = u > th
        cur = a * cur + x[t if x.shape[0] > 1 else 0].to(cd)
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
    gs: Tensor, gi: Tensor, gu: Tensor, iseq: Tensor, useq: Tensor, vpre: Tensor,
    i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, thr: Tensor, graded: Tensor,
    spike: Surrogate, reset: int, delay: bool, *outs: Tensor,
) -> None:  # fmt: skip
    gx, gi0, gu0, ga, gb, gth, gg = outs
    cd = compute_dtype(useq.dtype)
    T = useq.shape[0]
    a, b, th, g = (p.to(cd) for p in (alpha, beta, thr, graded))
    cu = torch.zeros(useq.shape[1], dtype=cd, device=useq.device)
    ci, acc_x, acc_a, acc_b, acc_th, acc_g = (torch.zeros_like(cu) for _ in range(6))
    for t in range(T - 1, -1, -1):
        v = (useq[t] if delay else vpre[t]).to(cd)
        up = (u0 if t == 0 else useq[t - 1]).to(cd)
        ip = (i0 if t == 0 else iseq[t - 1]).to(cd)
        z = v - th
        sg = spike.grad(z)
        h, fired = z > 0, up > th
        gsk = gs[t if gs.shape[0] > 1 else 0].to(cd) if gs.shape[0] else torch.zeros_like(cu)
        gss = gsk * g * sg
        gut = cu + gu[t].to(cd) if gu.shape[0] else cu
        if delay or reset == 2:
            gv, dth = gut + gss, -gss
        else:
            d = h.to(cd) - fired.to(cd)
            if reset == 0:
                gv, dth = gut * (1 - th * sg) + gss, gut * (th * sg - d) - gss
            else:
                gv, dth = gut * (1 - d - v * sg) + gss, gut * v * sg - gss
        gw = torch.where(fired, 0.0, gv) if reset == 1 else gv
        if reset == 0:
            dth = dth - torch.where(fired, gv, 0.0)
        gc = gw + ci + (gi[t].to(cd) if gi.shape[0] else 0.0)
        acc_g += torch.where(h, gsk, 0.0)
        acc_th += dth
        acc_b += gw * up
        acc_a += gc * ip
        cu, ci = b * gw, a * gc
        if gx.shape[0] > 1 or T == 1:
            gx[t] = gc
        else:
            acc_x += gc
    if gx.shape[0] == 1 and T > 1:
        gx[0] = acc_x
    for out, acc in ((gi0, ci), (gu0, cu), (ga, acc_a), (gb, acc_b), (gth, acc_th), (gg, acc_g)):
        if out.shape[0]:
            out.copy_(acc)
