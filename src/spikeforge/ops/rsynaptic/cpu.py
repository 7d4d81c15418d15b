"""Fused RSynaptic kernels (one-to-one recurrence ``V·S``) for the CPU, compiled with numba
(imported lazily; cached on disk).

Same layout and blocking as ``ops/leaky/cpu.py`` (``ops/common/numba_layout.py``): each
thread (lane) takes a contiguous run of blocks with one work buffer, and a block walks
time with ``S``, ``I`` and ``U`` in rows of that buffer; one pass over the data per
direction. Parameters are read through ``block_param`` / ``pick`` (shared ones as
scalars). Small problems run on one thread (waking the pool costs more than they take).
As in ``ops/rleaky/cpu.py``, every (reset, reset_delay) mode compiles to its own
branch-free loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.numba_layout import SERIAL_BLOCK, parallel_layout, row, worth_threads
from ..common.numba_rows import block_param, pick, shared_scalars, surrogate_row

FORWARD_ROWS = 9  # work rows of a forward block: s, cur, u, 5 parameters, scratch
BACKWARD_ROWS = 18  # 5 parameters, a zero row, 3 carries, 6 sums, z, sg, scratch
__all__ = ["SURROGATE_IDS", "rsynaptic_backward", "rsynaptic_forward", "surrogate_constants"]


@njit(cache=True, inline="always")
def _forward_row(
    reset, delay, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero, one
):  # pragma: no cover
    """One step of a block: ``s``, ``cur``, ``u`` in place; spikes into ``sr``, ``V_t`` into
    ``vr``."""
    for k in range(u.shape[0]):
        up, t_ = u[k], pick(th, k)
        fired = up > t_
        c = pick(a, k) * cur[k] + xr[k] + s[k] * pick(vw, k)
        w = pick(b, k) * up + c
        if reset == 0:
            v = w - (t_ if fired else zero)
        elif reset == 1:
            v = zero if fired else w
        else:
            v = w
        h = v > t_
        sk = pick(g, k) if h else zero
        s[k] = sk
        sr[k] = sk
        cur[k] = c
        vr[k] = v
        if delay or reset == 2:
            u[k] = v
        else:
            d = (one if h else zero) - (one if fired else zero)
            u[k] = v - d * t_ if reset == 0 else v - d * v


@njit(cache=True, inline="always")
def _forward_block(
    blk, size, work, x, s0, i0, u0, alpha, beta, thr, graded, vrec, consts, reset, delay,
    store, spk, iseq, useq, vpre,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    s = row(work, 0, size, n)
    s[:] = s0[j0 : j0 + n]
    cur = row(work, 1, size, n)
    cur[:] = i0[j0 : j0 + n]
    u = row(work, 2, size, n)
    u[:] = u0[j0 : j0 + n]
    a = block_param(alpha, j0, n, row(work, 3, size, n))
    b = block_param(beta, j0, n, row(work, 4, size, n))
    th = block_param(thr, j0, n, row(work, 5, size, n))
    g = block_param(graded, j0, n, row(work, 6, size, n))
    vw = block_param(vrec, j0, n, row(work, 7, size, n))
    scratch = row(work, 8, size, n)
    for t in range(T):
        xr = x[t * tx, j0 : j0 + n]
        sr = spk[t, j0 : j0 + n]
        vr = vpre[t, j0 : j0 + n] if store and not delay else scratch
        if delay:
            if reset == 0:
                _forward_row(0, True, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero,
                             one)  # fmt: skip
            elif reset == 1:
                _forward_row(1, True, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero,
                             one)  # fmt: skip
            else:
                _forward_row(2, True, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero,
                             one)  # fmt: skip
        elif reset == 0:
            _forward_row(0, False, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero, one)  # fmt: skip
        elif reset == 1:
            _forward_row(1, False, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero, one)  # fmt: skip
        else:
            _forward_row(2, False, xr, s, cur, u, a, b, th, g, vw, sr, vr, zero, one)  # fmt: skip
        if store:
            iseq[t, j0 : j0 + n] = cur
            useq[t, j0 : j0 + n] = u
    if not store:
        iseq[0, j0 : j0 + n] = cur
        useq[0, j0 : j0 + n] = u


@njit(parallel=True, cache=True)
def _forward_parallel(x, s0, i0, u0, alpha, beta, thr, graded, vrec, consts, reset, delay, store,
                      spk, iseq, useq, vpre, block, lanes):  # fmt: skip  # pragma: no cover
    # One work buffer per thread (lane), which takes a contiguous run of blocks.
    blocks = (spk.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(FORWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _forward_block(blk, block, work, x, s0, i0, u0, alpha, beta, thr, graded, vrec,
                           consts, reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


@njit(cache=True)
def _forward_serial(x, s0, i0, u0, alpha, beta, thr, graded, vrec, consts, reset, delay, store,
                    spk, iseq, useq, vpre):  # fmt: skip  # pragma: no cover
    work = np.empty(FORWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((spk.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _forward_block(blk, SERIAL_BLOCK, work, x, s0, i0, u0, alpha, beta, thr, graded, vrec,
                       consts, reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


def rsynaptic_forward(*args) -> None:
    """(x [Tx, N], s0, i0, u0 [N], alpha, beta, thr, graded, V [1|N], consts, reset, delay,
    store, spk [T, N], iseq, useq [T|1, N], vpre [T|0, N])."""
    args = (*args[:4], *shared_scalars(*args[4:9]), *args[9:])
    spk = args[13]
    if worth_threads(spk.shape):
        _forward_parallel(*args, *parallel_layout(spk.shape))
    else:
        _forward_serial(*args)


@njit(cache=True, inline="always")
def _backward_row(
    reset, delay, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g, vw, cu, ci, cs, gxr, acc_a,
    acc_b, acc_th, acc_g, acc_v, zero, one,
):  # fmt: skip  # pragma: no cover - compiled
    """One reverse step of a block: carries ``cu``, ``ci``, ``cs`` and the sums in place."""
    for k in range(cu.shape[0]):
        gsk = cs[k] + gsr[k]
        gss = gsk * pick(g, k) * sg[k]
        gut = cu[k] + gur[k]
        up, t_, v = ur[k], pick(th, k), vr[k]
        fired = up > t_
        h = v > t_
        if delay or reset == 2:
            gv = gut + gss
            dth = -gss
        else:
            d = (one if h else zero) - (one if fired else zero)
            if reset == 0:
                gv = gut * (one - t_ * sg[k]) + gss
                dth = gut * (t_ * sg[k] - d) - gss
            else:
                gv = gut * (one - d - v * sg[k]) + gss
                dth = gut * v * sg[k] - gss
        if reset == 1:
            gw = zero if fired else gv
        else:
            gw = gv
            if reset == 0:
                dth -= gv if fired else zero
        gc = gw + ci[k] + gir[k]
        acc_g[k] += gsk if h else zero
        acc_th[k] += dth
        acc_b[k] += gw * up
        acc_a[k] += gc * ir[k]
        acc_v[k] += gc * sp[k]
        cu[k] = pick(b, k) * gw
        ci[k] = pick(a, k) * gc
        cs[k] = pick(vw, k) * gc
        gxr[k] = gc


@njit(cache=True, inline="always")
def _backward_block(
    blk, work, gs, gi, gu, spk, iseq, useq, vpre, s0, i0, u0, alpha, beta, thr, graded,
    vrec, consts, kind, reset, delay, gx, gs0, gi0, gu0, ga, gb, gth, gg, gvr,
):  # fmt: skip  # pragma: no cover - compiled
    # The block size is the work buffer's row length, not an argument: a call with more than
    # 30 arguments compiles to CPython's ``f(*args)`` form, which numba cannot inline.
    size = work.shape[0] // BACKWARD_ROWS
    T, N = useq.shape
    gs_step = 1 if gs.shape[0] > 1 else 0
    x_full = gx.shape[0] > 1 or T == 1
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    a = block_param(alpha, j0, n, row(work, 0, size, n))
    b = block_param(beta, j0, n, row(work, 1, size, n))
    th = block_param(thr, j0, n, row(work, 2, size, n))
    g = block_param(graded, j0, n, row(work, 3, size, n))
    vw = block_param(vrec, j0, n, row(work, 4, size, n))
    zeros = row(work, 5, size, n)
    cu = row(work, 6, size, n)
    ci = row(work, 7, size, n)
    cs = row(work, 8, size, n)
    acc_x = row(work, 9, size, n)
    acc_a = row(work, 10, size, n)
    acc_b = row(work, 11, size, n)
    acc_th = row(work, 12, size, n)
    acc_g = row(work, 13, size, n)
    acc_v = row(work, 14, size, n)
    for r in range(5, 15):
        row(work, r, size, n)[:] = zero
    z = row(work, 15, size, n)
    sg = row(work, 16, size, n)
    scratch = row(work, 17, size, n)
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        ir = i0[j0 : j0 + n] if t == 0 else iseq[t - 1, j0 : j0 + n]
        sp = s0[j0 : j0 + n] if t == 0 else spk[t - 1, j0 : j0 + n]
        gsr = gs[t * gs_step, j0 : j0 + n] if gs.shape[0] > 0 else zeros
        gir = gi[t, j0 : j0 + n] if gi.shape[0] > 0 else zeros
        gur = gu[t, j0 : j0 + n] if gu.shape[0] > 0 else zeros
        gxr = gx[t, j0 : j0 + n] if x_full else scratch
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        if delay or reset == 2:
            if reset == 0:
                _backward_row(0, True, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g,
                              vw, cu, ci, cs, gxr, acc_a, acc_b, acc_th, acc_g, acc_v,
                              zero, one)  # fmt: skip
            elif reset == 1:
                _backward_row(1, True, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g,
                              vw, cu, ci, cs, gxr, acc_a, acc_b, acc_th, acc_g, acc_v,
                              zero, one)  # fmt: skip
            else:
                _backward_row(2, True, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g,
                              vw, cu, ci, cs, gxr, acc_a, acc_b, acc_th, acc_g, acc_v,
                              zero, one)  # fmt: skip
        elif reset == 0:
            _backward_row(0, False, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g,
                          vw, cu, ci, cs, gxr, acc_a, acc_b, acc_th, acc_g, acc_v,
                          zero, one)  # fmt: skip
        else:
            _backward_row(1, False, gsr, gir, gur, vr, ur, ir, sp, sg, a, b, th, g,
                          vw, cu, ci, cs, gxr, acc_a, acc_b, acc_th, acc_g, acc_v,
                          zero, one)  # fmt: skip
        if not x_full:
            acc_x += scratch
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
    if gs0.shape[0] > 0:
        gs0[j0 : j0 + n] = cs
    if gi0.shape[0] > 0:
        gi0[j0 : j0 + n] = ci
    if gu0.shape[0] > 0:
        gu0[j0 : j0 + n] = cu
    if ga.shape[0] > 0:
        ga[j0 : j0 + n] = acc_a
    if gb.shape[0] > 0:
        gb[j0 : j0 + n] = acc_b
    if gth.shape[0] > 0:
        gth[j0 : j0 + n] = acc_th
    if gg.shape[0] > 0:
        gg[j0 : j0 + n] = acc_g
    if gvr.shape[0] > 0:
        gvr[j0 : j0 + n] = acc_v


@njit(parallel=True, cache=True)
def _backward_parallel(gs, gi, gu, spk, iseq, useq, vpre, s0, i0, u0, alpha, beta, thr, graded,
                       vrec, consts, kind, reset, delay, gx, gs0, gi0, gu0, ga, gb, gth, gg,
                       gvr, block, lanes):  # fmt: skip  # pragma: no cover
    blocks = (useq.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(BACKWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _backward_block(blk, work, gs, gi, gu, spk, iseq, useq, vpre, s0, i0, u0,
                            alpha, beta, thr, graded, vrec, consts, kind, reset, delay, gx,
                            gs0, gi0, gu0, ga, gb, gth, gg, gvr)  # fmt: skip


@njit(cache=True)
def _backward_serial(gs, gi, gu, spk, iseq, useq, vpre, s0, i0, u0, alpha, beta, thr, graded,
                     vrec, consts, kind, reset, delay, gx, gs0, gi0, gu0, ga, gb, gth, gg,
                     gvr):  # fmt: skip  # pragma: no cover
    work = np.empty(BACKWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((useq.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _backward_block(blk, work, gs, gi, gu, spk, iseq, useq, vpre, s0, i0,
                        u0, alpha, beta, thr, graded, vrec, consts, kind, reset, delay, gx,
                        gs0, gi0, gu0, ga, gb, gth, gg, gvr)  # fmt: skip


def rsynaptic_backward(*args) -> None:
    """Reverse-time BPTT of ``rsynaptic_forward`` (argument order of ``_backward_block``
    after its block and work buffer)."""
    args = (*args[:10], *shared_scalars(*args[10:15]), *args[15:])
    useq = args[5]
    if worth_threads(useq.shape):
        _backward_parallel(*args, *parallel_layout(useq.shape))
    else:
        _backward_serial(*args)
