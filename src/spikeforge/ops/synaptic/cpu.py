"""Fused Synaptic kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Same layout and blocking as ``ops/leaky/cpu.py`` (whose layout functions it uses): each
thread (lane) takes a contiguous run of blocks with one work buffer, and a block walks
time with ``I`` and ``U`` in rows of that buffer; one pass over the data per direction.
Parameters are read through ``block_param`` / ``pick`` (shared ones as scalars). Small
problems run on one thread (waking the pool costs more than they take).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._numba_rows import block_param, pick, shared_scalars, surrogate_row
from .._surrogate_codes import SURROGATE_IDS, surrogate_constants
from ..leaky.cpu import SERIAL_BLOCK, _parallel_layout, _row
from ..leaky.cpu import _worth_threads as _threads

FORWARD_ROWS = 6  # work rows of a forward block: cur, u, alpha, beta, thr, graded
BACKWARD_ROWS = 13  # alpha, beta, thr, graded, 7 carries/sums, z, sg
__all__ = ["SURROGATE_IDS", "surrogate_constants", "synaptic_backward", "synaptic_forward"]


@njit(cache=True, inline="always")
def _forward_block(
    blk, size, work, x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
    iseq, useq, vpre,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    cur = _row(work, 0, size, n)
    cur[:] = i0[j0 : j0 + n]
    u = _row(work, 1, size, n)
    u[:] = u0[j0 : j0 + n]
    a = block_param(alpha, j0, n, _row(work, 2, size, n))
    b = block_param(beta, j0, n, _row(work, 3, size, n))
    th = block_param(thr, j0, n, _row(work, 4, size, n))
    g = block_param(graded, j0, n, _row(work, 5, size, n))
    for t in range(T):
        xr = x[t * tx, j0 : j0 + n]
        sr = spk[t, j0 : j0 + n]
        for k in range(n):
            up, t_ = u[k], pick(th, k)
            fired = up > t_
            c = pick(a, k) * cur[k] + xr[k]
            w = pick(b, k) * up + c
            if reset == 0:
                v = w - (t_ if fired else zero)
            elif reset == 1:
                v = zero if fired else w
            else:
                v = w
            h = v > t_
            sr[k] = pick(g, k) if h else zero
            cur[k] = c
            if delay:
                u[k] = v
            else:
                d = (one if h else zero) - (one if fired else zero)
                if reset == 0:
                    u[k] = v - d * t_
                elif reset == 1:
                    u[k] = v - d * v
                else:
                    u[k] = v
                if store:
                    vpre[t, j0 + k] = v
        if store:
            iseq[t, j0 : j0 + n] = cur
            useq[t, j0 : j0 + n] = u
    if not store:
        iseq[0, j0 : j0 + n] = cur
        useq[0, j0 : j0 + n] = u


@njit(parallel=True, cache=True)
def _forward_parallel(x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
                      iseq, useq, vpre, block, lanes):  # fmt: skip  # pragma: no cover
    # One work buffer per thread (lane), which takes a contiguous run of blocks.
    blocks = (spk.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(FORWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _forward_block(blk, block, work, x, i0, u0, alpha, beta, thr, graded, consts,
                           reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


@njit(cache=True)
def _forward_serial(x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
                    iseq, useq, vpre):  # fmt: skip  # pragma: no cover
    work = np.empty(FORWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((spk.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _forward_block(blk, SERIAL_BLOCK, work, x, i0, u0, alpha, beta, thr, graded, consts,
                       reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


def synaptic_forward(*args) -> None:
    """(x [Tx, N], i0, u0 [N], alpha, beta, thr, graded [1|N], consts, reset, delay, store,
    spk [T, N], iseq, useq [T|1, N], vpre [T|0, N])."""
    args = (*args[:3], *shared_scalars(*args[3:7]), *args[7:])
    spk = args[11]
    if _threads(spk.shape):
        _forward_parallel(*args, *_parallel_layout(spk.shape))
    else:
        _forward_serial(*args)


@njit(cache=True, inline="always")
def _backward_block(
    blk, size, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
    kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    has_gi = gi.shape[0] > 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1 or T == 1
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    a = block_param(alpha, j0, n, _row(work, 0, size, n))
    b = block_param(beta, j0, n, _row(work, 1, size, n))
    th = block_param(thr, j0, n, _row(work, 2, size, n))
    g = block_param(graded, j0, n, _row(work, 3, size, n))
    cu = _row(work, 4, size, n)
    ci = _row(work, 5, size, n)
    acc_x = _row(work, 6, size, n)
    acc_a = _row(work, 7, size, n)
    acc_b = _row(work, 8, size, n)
    acc_th = _row(work, 9, size, n)
    acc_g = _row(work, 10, size, n)
    for i in range(4, 11):
        _row(work, i, size, n)[:] = zero
    z = _row(work, 11, size, n)
    sg = _row(work, 12, size, n)
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        ir = i0[j0 : j0 + n] if t == 0 else iseq[t - 1, j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        for k in range(n):
            gsk = gs[t * gs_step, j0 + k] if ts > 0 else zero
            gss = gsk * pick(g, k) * sg[k]
            gut = cu[k] + (gu[t, j0 + k] if has_gu else zero)
            up, t_, v = ur[k], pick(th, k), vr[k]
            fired = up > t_
            h = z[k] > zero
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
                if reset == 0 and fired:
                    dth -= gv
            gc = gw + ci[k] + (gi[t, j0 + k] if has_gi else zero)
            if h:
                acc_g[k] += gsk
            acc_th[k] += dth
            acc_b[k] += gw * up
            acc_a[k] += gc * ir[k]
            cu[k] = pick(b, k) * gw
            ci[k] = pick(a, k) * gc
            if x_full:
                gx[t, j0 + k] = gc
            else:
                acc_x[k] += gc
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
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


@njit(parallel=True, cache=True)
def _backward_parallel(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
                       kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg, block,
                       lanes):  # fmt: skip  # pragma: no cover - compiled
    blocks = (useq.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(BACKWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _backward_block(blk, block, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha,
                            beta, thr, graded, consts, kind, reset, delay, gx, gi0, gu0, ga,
                            gb, gth, gg)  # fmt: skip


@njit(cache=True)
def _backward_serial(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
                     kind, reset, delay, gx, gi0, gu0, ga, gb, gth,
                     gg):  # fmt: skip  # pragma: no cover - compiled
    work = np.empty(BACKWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((useq.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _backward_block(blk, SERIAL_BLOCK, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha,
                        beta, thr, graded, consts, kind, reset, delay, gx, gi0, gu0, ga, gb,
                        gth, gg)  # fmt: skip


def synaptic_backward(*args) -> None:
    """Reverse-time BPTT of ``synaptic_forward`` (argument order of ``_backward_block``
    after its block, size and work buffer)."""
    args = (*args[:8], *shared_scalars(*args[8:12]), *args[12:])
    useq = args[4]
    if _threads(useq.shape):
        _backward_parallel(*args, *_parallel_layout(useq.shape))
    else:
        _backward_serial(*args)
