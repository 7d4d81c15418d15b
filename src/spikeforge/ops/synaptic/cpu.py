"""Fused Synaptic kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Same layout and blocking as ``ops/leaky/cpu.py``: blocks of ``BLOCK`` neurons walk time
with ``I`` and ``U`` in local arrays; one pass over the data per direction. Small problems
run on one thread (waking the pool costs more than they take).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._numba_rows import param_block, surrogate_row
from .._surrogate_codes import SURROGATE_IDS, surrogate_constants

BLOCK = 512
PARALLEL_MIN_ELEMENTS = 1 << 16  # as in ops/leaky/cpu.py
__all__ = ["SURROGATE_IDS", "surrogate_constants", "synaptic_backward", "synaptic_forward"]


@njit(cache=True, inline="always")
def _forward_block(
    blk, x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk, iseq, useq, vpre
):  # pragma: no cover - compiled
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero, one = consts[0], consts[1]
    j0 = blk * BLOCK
    n = min(BLOCK, N - j0)
    cur = i0[j0 : j0 + n].copy()
    u = u0[j0 : j0 + n].copy()
    a = param_block(alpha, j0, n)
    b = param_block(beta, j0, n)
    th = param_block(thr, j0, n)
    g = param_block(graded, j0, n)
    for t in range(T):
        xr = x[t * tx, j0 : j0 + n]
        sr = spk[t, j0 : j0 + n]
        for k in range(n):
            up, t_ = u[k], th[k]
            fired = up > t_
            c = a[k] * cur[k] + xr[k]
            w = b[k] * up + c
            if reset == 0:
                v = w - (t_ if fired else zero)
            elif reset == 1:
                v = zero if fired else w
            else:
                v = w
            h = v > t_
            sr[k] = g[k] if h else zero
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
                      iseq, useq, vpre):  # fmt: skip  # pragma: no cover
    for blk in prange((spk.shape[1] + BLOCK - 1) // BLOCK):
        _forward_block(blk, x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store,
                       spk, iseq, useq, vpre)  # fmt: skip


@njit(cache=True)
def _forward_serial(x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
                    iseq, useq, vpre):  # fmt: skip  # pragma: no cover
    for blk in range((spk.shape[1] + BLOCK - 1) // BLOCK):
        _forward_block(blk, x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store,
                       spk, iseq, useq, vpre)  # fmt: skip


def _threads(shape: tuple[int, int]) -> bool:
    return shape[1] > BLOCK and shape[0] * shape[1] >= PARALLEL_MIN_ELEMENTS


def synaptic_forward(*args) -> None:
    """(x [Tx, N], i0, u0 [N], alpha, beta, thr, graded [1|N], consts, reset, delay, store,
    spk [T, N], iseq, useq [T|1, N], vpre [T|0, N])."""
    spk = args[11]
    (_forward_parallel if _threads(spk.shape) else _forward_serial)(*args)


@njit(cache=True, inline="always")
def _backward_block(
    blk, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts, kind, reset,
    delay, gx, gi0, gu0, ga, gb, gth, gg,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    has_gi = gi.shape[0] > 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1 or T == 1
    zero, one = consts[0], consts[1]
    j0 = blk * BLOCK
    n = min(BLOCK, N - j0)
    a = param_block(alpha, j0, n)
    b = param_block(beta, j0, n)
    th = param_block(thr, j0, n)
    g = param_block(graded, j0, n)
    cu = np.zeros(n, dtype=u0.dtype)
    ci = np.zeros(n, dtype=u0.dtype)
    acc_x = np.zeros(n, dtype=u0.dtype)
    acc_a = np.zeros(n, dtype=u0.dtype)
    acc_b = np.zeros(n, dtype=u0.dtype)
    acc_th = np.zeros(n, dtype=u0.dtype)
    acc_g = np.zeros(n, dtype=u0.dtype)
    z = np.empty(n, dtype=u0.dtype)
    sg = np.empty(n, dtype=u0.dtype)
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        ir = i0[j0 : j0 + n] if t == 0 else iseq[t - 1, j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - th[k]
        surrogate_row(kind, consts, z, sg, n)
        for k in range(n):
            gsk = gs[t * gs_step, j0 + k] if ts > 0 else zero
            gss = gsk * g[k] * sg[k]
            gut = cu[k] + (gu[t, j0 + k] if has_gu else zero)
            up, t_, v = ur[k], th[k], vr[k]
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
            cu[k] = b[k] * gw
            ci[k] = a[k] * gc
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
                       kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg):  # fmt: skip
    for blk in prange((useq.shape[1] + BLOCK - 1) // BLOCK):
        _backward_block(blk, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded,
                        consts, kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg)  # fmt: skip


@njit(cache=True)
def _backward_serial(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
                     kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg):  # fmt: skip
    for blk in range((useq.shape[1] + BLOCK - 1) // BLOCK):
        _backward_block(blk, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded,
                        consts, kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg)  # fmt: skip


def synaptic_backward(*args) -> None:
    """Reverse-time BPTT of ``synaptic_forward`` (argument order of ``_backward_block``)."""
    useq = args[4]
    (_backward_parallel if _threads(useq.shape) else _backward_serial)(*args)
