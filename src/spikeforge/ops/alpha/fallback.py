"""The fused Alpha op in plain torch (any device): same contract and hand-written backward as
``cpu.py`` (see ``op.py`` for the equations); state in float32 for half/bfloat16 inputs."""

from __future__ import annotations

import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..common.torch_rows import compute_dtype


def forward(
    x: Tensor, e0: Tensor, i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, tau: Tensor,
    thr: Tensor, graded: Tensor, reset: int, store_mem: bool, store_syn: bool,
    spk: Tensor, eseq: Tensor, iseq: Tensor, useq: Tensor,
) -> None:  # fmt: skip
    """Fill ``spk [T, N]``, ``eseq``/``iseq`` ([T, N] if ``store_syn`` else the final [1, N])
    and ``useq`` ([T, N] if ``store_mem`` else the final [1, N])."""
    cd = compute_dtype(x.dtype)
    e, i, u = e0.to(cd), i0.to(cd), u0.to(cd)
    a, b, tu, th, g = (p.to(cd) for p in (alpha, beta, tau, thr, graded))
    for t in range(spk.shape[0]):
        fired = u > th
        xt = x[t if x.shape[0] > 1 else 0].to(cd)
        ep = a * e + xt
        ip = b * i - xt
        m = tu * (ep + ip)
        if reset == 0:
            u = torch.where(fired, m + i, m)
            e = torch.where(fired, ep - th, ep)
            i = torch.where(fired, 0.0, ip)
        elif reset == 1:
            u, e, i = (torch.where(fired, 0.0, s) for s in (m, ep, ip))
        else:
            u, e, i = m, ep, ip
        spk[t] = torch.where(u > th, g, 0.0)
        if store_syn:
            eseq[t], iseq[t] = e, i
        if store_mem:
            useq[t] = u
    if not store_syn:
        eseq[0], iseq[0] = e, i
    if not store_mem:
        useq[0] = u


def _direct(grad: Tensor, t: int, T: int) -> Tensor | float:
    """The upstream gradient on a state at step ``t``: ``grad`` has T rows, 1 row (the final
    state only) or none."""
    rows = grad.shape[0]
    if rows == T:
        return grad[t]
    if rows == 1 and t == T - 1:
        return grad[0]
    return 0.0


def backward(
    gs: Tensor, ge: Tensor, gi: Tensor, gu: Tensor, eseq: Tensor, iseq: Tensor, useq: Tensor,
    e0: Tensor, i0: Tensor, u0: Tensor, alpha: Tensor, beta: Tensor, tau: Tensor, thr: Tensor,
    graded: Tensor, spike: Surrogate, reset: int, *outs: Tensor,
) -> None:  # fmt: skip
    """Reverse-time BPTT, filling ``outs = (gx, ge0, gi0, ga, gb, gtau, gth, gg)``."""
    gx, ge0, gi0, ga, gb, gtau, gth, gg = outs
    cd = compute_dtype(useq.dtype)
    T = useq.shape[0]
    a, b, tu, th, g = (p.to(cd) for p in (alpha, beta, tau, thr, graded))
    ce = torch.zeros(useq.shape[1], dtype=cd, device=useq.device)
    ci, acc_x, acc_a, acc_b, acc_tau, acc_th, acc_g = (torch.zeros_like(ce) for _ in range(7))
    need_syn = ga.shape[0] + gb.shape[0] + gtau.shape[0] > 0
    for t in range(T - 1, -1, -1):
        up = (u0 if t == 0 else useq[t - 1]).to(cd)
        z = useq[t].to(cd) - th
        sg = spike.grad(z)
        fired = up > th
        gsk = gs[t if gs.shape[0] > 1 else 0].to(cd) if gs.shape[0] else torch.zeros_like(ce)
        gss = gsk * g * sg
        g_u = gss + _direct(gu, t, T)
        g_e = ce + _direct(ge, t, T)
        g_i = ci + _direct(gi, t, T)
        dth = -gss
        extra_i = 0.0
        if reset == 0:
            g_m, g_ep, g_ip = g_u, g_e, torch.where(fired, 0.0, g_i)
            dth = dth - torch.where(fired, g_e, 0.0)
            extra_i = torch.where(fired, g_u, 0.0)
        elif reset == 1:
            g_m, g_ep, g_ip = (torch.where(fired, 0.0, s) for s in (g_u, g_e, g_i))
        else:
            g_m, g_ep, g_ip = g_u, g_e, g_i
        g_ep = g_ep + tu * g_m
        g_ip = g_ip + tu * g_m
        if need_syn:
            ep = (e0 if t == 0 else eseq[t - 1]).to(cd)
            ip = (i0 if t == 0 else iseq[t - 1]).to(cd)
            acc_tau += g_m * (a * ep + b * ip)
            acc_a += g_ep * ep
            acc_b += g_ip * ip
        acc_th += dth
        acc_g += torch.where(z > 0, gsk, 0.0)
        ce = a * g_ep
        ci = b * g_ip + extra_i
        if gx.shape[0] > 1 or T == 1:
            gx[t] = g_ep - g_ip
        else:
            acc_x += g_ep - g_ip
    if gx.shape[0] == 1 and T > 1:
        gx[0] = acc_x
    pairs = ((ge0, ce), (gi0, ci), (ga, acc_a), (gb, acc_b), (gtau, acc_tau), (gth, acc_th),
             (gg, acc_g))  # fmt: skip
    for out, acc in pairs:
        if out.shape[0]:
            out.copy_(acc)
