"""Fused Alpha kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Same layout and blocking as ``ops/lif/cpu.py`` (``ops/common/numba_layout.py``): a serial
range kernel walks a run of blocks with one work buffer (large problems run lanes of them
on numba's threads, ``ops/common/numba_lanes.py``), and a block walks
time with ``E``, ``I`` and ``U`` in rows of that buffer; one pass over the data per
direction; parameters are read through ``block_param`` / ``pick`` (shared ones as
scalars); small problems run on one thread. Equations: ``op.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.numba_lanes import run_range
from ..common.numba_layout import row
from ..common.numba_rows import block_param, pick, shared_scalars, surrogate_row

FORWARD_ROWS = 8  # work rows of a forward block: e, i, u, alpha, beta, tau, thr, graded
BACKWARD_ROWS = 17  # 5 parameters, a zero row, 8 carries/sums, z, sg, the gx row
__all__ = ["SURROGATE_IDS", "alpha_backward", "alpha_forward", "surrogate_constants"]


@njit(cache=True, inline="always")
def _forward_block(
    blk, size, work, x, e0, i0, u0, alpha, beta, tau, thr, graded, consts, reset, store_mem,
    store_syn, spk, eseq, iseq, useq,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero = consts[0]
    j0 = blk * size
    n = min(size, N - j0)
    e = row(work, 0, size, n)
    e[:] = e0[j0 : j0 + n]
    i = row(work, 1, size, n)
    i[:] = i0[j0 : j0 + n]
    u = row(work, 2, size, n)
    u[:] = u0[j0 : j0 + n]
    a = block_param(alpha, j0, n, row(work, 3, size, n))
    b = block_param(beta, j0, n, row(work, 4, size, n))
    tu = block_param(tau, j0, n, row(work, 5, size, n))
    th = block_param(thr, j0, n, row(work, 6, size, n))
    g = block_param(graded, j0, n, row(work, 7, size, n))
    for t in range(T):
        xr = x[t * tx, j0 : j0 + n]
        sr = spk[t, j0 : j0 + n]
        for k in range(n):  # selects, not branches: the reset pattern is data-dependent
            t_ = pick(th, k)
            fired = u[k] > t_
            ep = pick(a, k) * e[k] + xr[k]
            ip = pick(b, k) * i[k] - xr[k]
            m = pick(tu, k) * (ep + ip)
            if reset == 0:
                un = m + i[k] if fired else m
                e[k] = ep - t_ if fired else ep
                i[k] = zero if fired else ip
            elif reset == 1:
                un = zero if fired else m
                e[k] = zero if fired else ep
                i[k] = zero if fired else ip
            else:
                un = m
                e[k] = ep
                i[k] = ip
            u[k] = un
            sr[k] = pick(g, k) if un > t_ else zero
        if store_syn:
            eseq[t, j0 : j0 + n] = e
            iseq[t, j0 : j0 + n] = i
        if store_mem:
            useq[t, j0 : j0 + n] = u
    if not store_syn:
        eseq[0, j0 : j0 + n] = e
        iseq[0, j0 : j0 + n] = i
    if not store_mem:
        useq[0, j0 : j0 + n] = u


@njit(cache=True, nogil=True, error_model="numpy")  # no zero checks (see ops/lif/cpu.py)
def _forward_range(j0, j1, size, x, e0, i0, u0, alpha, beta, tau, thr, graded, consts, reset,
                   store_mem, store_syn, spk, eseq, iseq,
                   useq):  # fmt: skip  # pragma: no cover - compiled
    """Neurons ``j0 … j1`` (``j0`` a multiple of ``size``) in blocks of ``size``, one work
    buffer for all of them (``run_lanes``)."""
    work = np.empty(FORWARD_ROWS * size, dtype=u0.dtype)
    for blk in range(j0 // size, (j1 + size - 1) // size):
        _forward_block(blk, size, work, x, e0, i0, u0, alpha, beta, tau, thr, graded, consts,
                       reset, store_mem, store_syn, spk, eseq, iseq, useq)  # fmt: skip


def alpha_forward(*args) -> None:
    """(x [Tx, N], e0, i0, u0 [N], alpha, beta, tau, thr, graded [1|N], consts, reset,
    store_mem, store_syn, spk [T, N], eseq, iseq [T|1, N], useq [T|1, N])."""
    args = (*args[:4], *shared_scalars(*args[4:9]), *args[9:])
    run_range(_forward_range, args[13].shape, args)


@njit(cache=True, inline="always")
def _grad_row(grad, t, T, j0, n, zrow):  # pragma: no cover - compiled
    """Upstream gradient on a state at step ``t``: ``grad`` has T rows, 1 (the final
    state's) or none (then the zero row)."""
    rows = grad.shape[0]
    if rows == T:
        return grad[t, j0 : j0 + n]
    if rows == 1 and t == T - 1:
        return grad[0, j0 : j0 + n]
    return zrow


@njit(cache=True, inline="always")
def _backward_block(
    blk, size, work, gs, ge, gi, gu, eseq, iseq, useq, e0, i0, u0, alpha, beta, tau, thr,
    graded, consts, kind, reset, gx, ge0, gi0, ga, gb, gtau, gth, gg,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    x_full = gx.shape[0] > 1 or T == 1
    need_syn = ga.shape[0] + gb.shape[0] + gtau.shape[0] > 0
    zero = consts[0]
    j0 = blk * size
    n = min(size, N - j0)
    a = block_param(alpha, j0, n, row(work, 0, size, n))
    b = block_param(beta, j0, n, row(work, 1, size, n))
    tu = block_param(tau, j0, n, row(work, 2, size, n))
    th = block_param(thr, j0, n, row(work, 3, size, n))
    g = block_param(graded, j0, n, row(work, 4, size, n))
    zrow = row(work, 5, size, n)
    ce = row(work, 6, size, n)
    ci = row(work, 7, size, n)
    acc_x = row(work, 8, size, n)
    acc_a = row(work, 9, size, n)
    acc_b = row(work, 10, size, n)
    acc_tau = row(work, 11, size, n)
    acc_th = row(work, 12, size, n)
    acc_g = row(work, 13, size, n)
    for r in range(5, 14):
        row(work, r, size, n)[:] = zero
    z = row(work, 14, size, n)
    sg = row(work, 15, size, n)
    gxr = row(work, 16, size, n)
    for t in range(T - 1, -1, -1):
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        vr = useq[t, j0 : j0 + n]
        early = t == 0 or not need_syn  # the sequences may be empty when not needed
        er = e0[j0 : j0 + n] if early else eseq[t - 1, j0 : j0 + n]
        ir = i0[j0 : j0 + n] if early else iseq[t - 1, j0 : j0 + n]
        gsr = gs[t * gs_step, j0 : j0 + n] if ts > 0 else zrow
        gur = _grad_row(gu, t, T, j0, n, zrow)
        ger = _grad_row(ge, t, T, j0, n, zrow)
        gir = _grad_row(gi, t, T, j0, n, zrow)
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        for k in range(n):
            gsk = gsr[k]
            gss = gsk * pick(g, k) * sg[k]
            g_u = gss + gur[k]
            g_e = ce[k] + ger[k]
            g_i = ci[k] + gir[k]
            fired = ur[k] > pick(th, k)
            if reset == 0:
                g_m = g_u
                g_ep = g_e
                g_ip = zero if fired else g_i
                acc_th[k] -= gss + (g_e if fired else zero)
                extra_i = g_u if fired else zero
            elif reset == 1:
                g_m = zero if fired else g_u
                g_ep = zero if fired else g_e
                g_ip = zero if fired else g_i
                acc_th[k] -= gss
                extra_i = zero
            else:
                g_m, g_ep, g_ip = g_u, g_e, g_i
                acc_th[k] -= gss
                extra_i = zero
            g_ep += pick(tu, k) * g_m
            g_ip += pick(tu, k) * g_m
            if need_syn:
                acc_tau[k] += g_m * (pick(a, k) * er[k] + pick(b, k) * ir[k])
                acc_a[k] += g_ep * er[k]
                acc_b[k] += g_ip * ir[k]
            acc_g[k] += gsk if z[k] > zero else zero
            ce[k] = pick(a, k) * g_ep
            ci[k] = pick(b, k) * g_ip + extra_i
            gxr[k] = g_ep - g_ip
        if x_full:
            gx[t, j0 : j0 + n] = gxr
        else:
            acc_x += gxr
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
    if ge0.shape[0] > 0:
        ge0[j0 : j0 + n] = ce
    if gi0.shape[0] > 0:
        gi0[j0 : j0 + n] = ci
    if ga.shape[0] > 0:
        ga[j0 : j0 + n] = acc_a
    if gb.shape[0] > 0:
        gb[j0 : j0 + n] = acc_b
    if gtau.shape[0] > 0:
        gtau[j0 : j0 + n] = acc_tau
    if gth.shape[0] > 0:
        gth[j0 : j0 + n] = acc_th
    if gg.shape[0] > 0:
        gg[j0 : j0 + n] = acc_g


@njit(cache=True, nogil=True, error_model="numpy")
def _backward_range(j0, j1, size, gs, ge, gi, gu, eseq, iseq, useq, e0, i0, u0, alpha, beta,
                    tau, thr, graded, consts, kind, reset, gx, ge0, gi0, ga, gb, gtau, gth,
                    gg):  # fmt: skip  # pragma: no cover - compiled
    """Neurons ``j0 … j1`` of the backward, as ``_forward_range``."""
    work = np.empty(BACKWARD_ROWS * size, dtype=u0.dtype)
    for blk in range(j0 // size, (j1 + size - 1) // size):
        _backward_block(blk, size, work, gs, ge, gi, gu, eseq, iseq, useq, e0, i0, u0, alpha,
                        beta, tau, thr, graded, consts, kind, reset, gx, ge0, gi0, ga, gb,
                        gtau, gth, gg)  # fmt: skip


def alpha_backward(*args) -> None:
    """Reverse-time BPTT of ``alpha_forward`` (argument order of ``_backward_block`` after
    its block, size and work buffer)."""
    args = (*args[:10], *shared_scalars(*args[10:15]), *args[15:])
    run_range(_backward_range, args[6].shape, args)
