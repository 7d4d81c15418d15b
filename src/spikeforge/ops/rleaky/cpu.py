"""Fused RLeaky kernels (one-to-one recurrence ``V·S``) for the CPU, compiled with numba
(imported lazily; cached on disk).

Same layout and blocking as ``ops/leaky/cpu.py``: blocks of ``BLOCK`` neurons walk time
with ``S`` and ``U`` in local arrays; one pass over the data per direction. Small problems
run on one thread (waking the pool costs more than they take).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._surrogate_codes import SURROGATE_IDS, surrogate_constants

BLOCK = 512
PARALLEL_MIN_ELEMENTS = 1 << 16  # as in ops/leaky/cpu.py
__all__ = ["SURROGATE_IDS", "rleaky_backward", "rleaky_forward", "surrogate_constants"]


@njit(cache=True, inline="always")
def _param(p, j0, n):  # pragma: no cover - compiled
    if p.shape[0] == 1:
        return np.full(n, p[0])
    return p[j0 : j0 + n].copy()


@njit(cache=True, inline="always")
def _surrogate_row(kind, consts, z, out, n):  # pragma: no cover - compiled
    """``out[k] = dS/dz`` at ``z[k]`` (ids of ``_surrogate_codes``)."""
    zero, one, c0, c1 = consts[0], consts[1], consts[2], consts[3]
    for k in range(n):
        x = z[k]
        if kind == 0:
            a = c1 * x
            out[k] = c0 / (one + a * a)
        elif kind == 1:
            d = c0 * abs(x) + one
            out[k] = one / (d * d)
        elif kind == 2:
            s = one / (one + math.exp(-c0 * x))
            out[k] = c0 * s * (one - s)
        elif kind == 3:
            out[k] = one
        elif kind == 4:
            out[k] = -c0 if x >= zero else c0
        elif kind == 5:
            out[k] = one if x > zero else zero
        elif kind == 6:
            out[k] = c1 * math.exp(-c0 * abs(x - one))
        elif kind == 7:
            out[k] = one if x > zero else c0
        elif kind == 8:
            d = c0 * abs(x) + one
            out[k] = (one if x > c1 else zero) / (d * d)
        else:
            out[k] = zero


@njit(cache=True, inline="always")
def _forward_block(
    blk, x, s0, u0, beta, thr, graded, vrec, consts, reset, delay, store, spk, useq, vpre,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero, one = consts[0], consts[1]
    j0 = blk * BLOCK
    n = min(BLOCK, N - j0)
    s = s0[j0 : j0 + n].copy()
    u = u0[j0 : j0 + n].copy()
    b = _param(beta, j0, n)
    th = _param(thr, j0, n)
    g = _param(graded, j0, n)
    vr = _param(vrec, j0, n)
    for t in range(T):
        xr = x[t * tx, j0 : j0 + n]
        sr = spk[t, j0 : j0 + n]
        for k in range(n):
            up, t_ = u[k], th[k]
            fired = up > t_
            w = b[k] * up + xr[k] + s[k] * vr[k]
            if reset == 0:
                v = w - (t_ if fired else zero)
            elif reset == 1:
                v = zero if fired else w
            else:
                v = w
            h = v > t_
            s[k] = g[k] if h else zero
            sr[k] = s[k]
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
            useq[t, j0 : j0 + n] = u
    if not store:
        useq[0, j0 : j0 + n] = u


@njit(parallel=True, cache=True)
def _forward_parallel(x, s0, u0, beta, thr, graded, vrec, consts, reset, delay, store, spk,
                      useq, vpre):  # fmt: skip  # pragma: no cover
    for blk in prange((spk.shape[1] + BLOCK - 1) // BLOCK):
        _forward_block(blk, x, s0, u0, beta, thr, graded, vrec, consts, reset, delay, store,
                       spk, useq, vpre)  # fmt: skip


@njit(cache=True)
def _forward_serial(x, s0, u0, beta, thr, graded, vrec, consts, reset, delay, store, spk,
                    useq, vpre):  # fmt: skip  # pragma: no cover
    for blk in range((spk.shape[1] + BLOCK - 1) // BLOCK):
        _forward_block(blk, x, s0, u0, beta, thr, graded, vrec, consts, reset, delay, store,
                       spk, useq, vpre)  # fmt: skip


def _threads(shape: tuple[int, int]) -> bool:
    return shape[1] > BLOCK and shape[0] * shape[1] >= PARALLEL_MIN_ELEMENTS


def rleaky_forward(*args) -> None:
    """(x [Tx, N], s0, u0 [N], beta, thr, graded, V [1|N], consts, reset, delay, store,
    spk [T, N], useq [T|1, N], vpre [T|0, N])."""
    spk = args[11]
    (_forward_parallel if _threads(spk.shape) else _forward_serial)(*args)


@njit(cache=True, inline="always")
def _backward_block(
    blk, gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, vrec, consts, kind, reset, delay,
    gx, gs0, gu0, gb, gth, gg, gvr,
):  # fmt: skip  # pragma: no cover - compiled
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1 or T == 1
    zero, one = consts[0], consts[1]
    j0 = blk * BLOCK
    n = min(BLOCK, N - j0)
    b = _param(beta, j0, n)
    th = _param(thr, j0, n)
    g = _param(graded, j0, n)
    vw = _param(vrec, j0, n)
    cu = np.zeros(n, dtype=u0.dtype)
    cs = np.zeros(n, dtype=u0.dtype)
    acc_x = np.zeros(n, dtype=u0.dtype)
    acc_b = np.zeros(n, dtype=u0.dtype)
    acc_th = np.zeros(n, dtype=u0.dtype)
    acc_g = np.zeros(n, dtype=u0.dtype)
    acc_v = np.zeros(n, dtype=u0.dtype)
    z = np.empty(n, dtype=u0.dtype)
    sg = np.empty(n, dtype=u0.dtype)
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        sp = s0[j0 : j0 + n] if t == 0 else spk[t - 1, j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - th[k]
        _surrogate_row(kind, consts, z, sg, n)
        for k in range(n):
            gsk = cs[k] + (gs[t * gs_step, j0 + k] if ts > 0 else zero)
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
            if h:
                acc_g[k] += gsk
            acc_th[k] += dth
            acc_b[k] += gw * up
            acc_v[k] += gw * sp[k]
            cu[k] = b[k] * gw
            cs[k] = vw[k] * gw
            if x_full:
                gx[t, j0 + k] = gw
            else:
                acc_x[k] += gw
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
    if gs0.shape[0] > 0:
        gs0[j0 : j0 + n] = cs
    if gu0.shape[0] > 0:
        gu0[j0 : j0 + n] = cu
    if gb.shape[0] > 0:
        gb[j0 : j0 + n] = acc_b
    if gth.shape[0] > 0:
        gth[j0 : j0 + n] = acc_th
    if gg.shape[0] > 0:
        gg[j0 : j0 + n] = acc_g
    if gvr.shape[0] > 0:
        gvr[j0 : j0 + n] = acc_v


@njit(parallel=True, cache=True)
def _backward_parallel(gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, vrec, consts, kind,
                       reset, delay, gx, gs0, gu0, gb, gth, gg, gvr):  # fmt: skip
    for blk in prange((useq.shape[1] + BLOCK - 1) // BLOCK):
        _backward_block(blk, gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, vrec, consts,
                        kind, reset, delay, gx, gs0, gu0, gb, gth, gg, gvr)  # fmt: skip


@njit(cache=True)
def _backward_serial(gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, vrec, consts, kind,
                     reset, delay, gx, gs0, gu0, gb, gth, gg, gvr):  # fmt: skip
    for blk in range((useq.shape[1] + BLOCK - 1) // BLOCK):
        _backward_block(blk, gs, gu, spk, useq, vpre, s0, u0, beta, thr, graded, vrec, consts,
                        kind, reset, delay, gx, gs0, gu0, gb, gth, gg, gvr)  # fmt: skip


def rleaky_backward(*args) -> None:
    """Reverse-time BPTT of ``rleaky_forward`` (argument order of ``_backward_block``)."""
    useq = args[3]
    (_backward_parallel if _threads(useq.shape) else _backward_serial)(*args)
