"""Fused Leaky kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Layout: every ``[T, N]`` array is row-major (time, neuron). Threads take blocks of
``BLOCK`` neurons; a block's state lives in small local arrays while the block walks
time, so each kernel reads and writes every element once per direction. The equations
are those of ``reference.py``; the backward is BPTT in reverse time (see ``op.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

BLOCK = 512
SURROGATE_IDS = {
    "atan": 0,
    "fast_sigmoid": 1,
    "sigmoid": 2,
    "straight_through": 3,
    "triangular": 4,
    "heaviside": 5,
    "spike_rate_escape": 6,
    "lso": 7,
    "sfs": 8,
    "disabled": 9,
}


def surrogate_constants(kind: str, params: tuple[float, ...], dtype: np.dtype) -> np.ndarray:
    """``[0, 1, c0, c1]`` in the kernel's dtype, so no arithmetic is promoted to float64."""
    c0, c1 = 0.0, 0.0
    if kind == "atan":
        c0, c1 = params[0] / 2, math.pi / 2 * params[0]
    elif kind == "spike_rate_escape" or kind == "sfs":
        c0, c1 = params[0], params[1]
    elif params:
        c0 = params[0]
    return np.array([0.0, 1.0, c0, c1], dtype=dtype)


@njit(cache=True, inline="always")
def _surrogate_row(kind, consts, z, out, n):  # pragma: no cover - compiled
    """``out[k] = dS/dz`` at ``z[k]``; the kind branch sits outside the loops."""
    zero, one, c0, c1 = consts[0], consts[1], consts[2], consts[3]
    if kind == 0:  # atan: (α/2) / (1 + (π/2·α·z)²)
        for k in range(n):
            a = c1 * z[k]
            out[k] = c0 / (one + a * a)
    elif kind == 1:  # fast sigmoid: 1 / (k|z| + 1)²
        for k in range(n):
            d = c0 * abs(z[k]) + one
            out[k] = one / (d * d)
    elif kind == 2:  # sigmoid: k σ(kz)(1 − σ(kz))
        for k in range(n):
            s = one / (one + math.exp(-c0 * z[k]))
            out[k] = c0 * s * (one - s)
    elif kind == 3:  # straight through
        for k in range(n):
            out[k] = one
    elif kind == 4:  # triangular: −p for z ≥ 0, p below
        for k in range(n):
            out[k] = -c0 if z[k] >= zero else c0
    elif kind == 5:  # heaviside
        for k in range(n):
            out[k] = one if z[k] > zero else zero
    elif kind == 6:  # spike-rate escape: k exp(−β|z − 1|)
        for k in range(n):
            out[k] = c1 * math.exp(-c0 * abs(z[k] - one))
    elif kind == 7:  # leaky spike operator
        for k in range(n):
            out[k] = one if z[k] > zero else c0
    elif kind == 8:  # sparse fast sigmoid: H(z − B) / (k|z| + 1)²
        for k in range(n):
            d = c0 * abs(z[k]) + one
            out[k] = (one if z[k] > c1 else zero) / (d * d)
    else:  # disabled
        for k in range(n):
            out[k] = zero


@njit(cache=True, inline="always")
def _block_param(p, j0, n):  # pragma: no cover - compiled
    if p.shape[0] == 1:
        return np.full(n, p[0])
    return p[j0 : j0 + n].copy()


@njit(parallel=True, cache=True)
def leaky_forward(
    x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre
):  # pragma: no cover
    """x: [Tx, N] (Tx 1 = same input every step); u0: [N]; beta/thr/graded: [1] or [N].

    Writes spk [T, N]; useq [T, N] (store) or [1, N] (final state only); vpre [T, N] the
    pre-reset membrane when store and not delay.
    """
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    zero, one = consts[0], consts[1]
    nblocks = (N + BLOCK - 1) // BLOCK
    for blk in prange(nblocks):
        j0 = blk * BLOCK
        n = min(BLOCK, N - j0)
        u = u0[j0 : j0 + n].copy()
        b = _block_param(beta, j0, n)
        th = _block_param(thr, j0, n)
        g = _block_param(graded, j0, n)
        for t in range(T):
            xr = x[t * tx, j0 : j0 + n]
            sr = spk[t, j0 : j0 + n]
            for k in range(n):
                up = u[k]
                fired = up > th[k]
                if reset == 0:
                    v = b[k] * up + xr[k] - (th[k] if fired else zero)
                elif reset == 1:
                    v = b[k] * (zero if fired else up) + xr[k]
                else:
                    v = b[k] * up + xr[k]
                h = v > th[k]
                sr[k] = g[k] if h else zero
                if delay:
                    u[k] = v
                else:
                    d = (one if h else zero) - (one if fired else zero)
                    if reset == 0:
                        u[k] = v - d * th[k]
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
def leaky_backward(
    gs, gu, useq, vpre, u0, beta, thr, graded, consts, kind, reset, delay, gx, gu0, gb, gth, gg
):  # pragma: no cover
    """Reverse-time BPTT of ``leaky_forward``.

    gs: [Ts, N] upstream grad of spikes (Ts 0 none, 1 same every step, T); gu: [Tu, N]
    upstream grad of the membrane sequence (Tu 0 none, T). Writes gx [Tx, N] (Tx 1: summed
    over time), gu0 [N] or [0]; gb, gth, gg: per-neuron sums [N], or [0] when not needed.
    """
    T, N = useq.shape
    ts = gs.shape[0]
    has_gs = ts > 0
    gs_step = 1 if ts > 1 else 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1
    need_u0 = gu0.shape[0] > 0
    need_b = gb.shape[0] > 0
    need_th = gth.shape[0] > 0
    need_g = gg.shape[0] > 0
    zero, one = consts[0], consts[1]
    nblocks = (N + BLOCK - 1) // BLOCK
    for blk in prange(nblocks):
        j0 = blk * BLOCK
        n = min(BLOCK, N - j0)
        b = _block_param(beta, j0, n)
        th = _block_param(thr, j0, n)
        g = _block_param(graded, j0, n)
        carry = np.zeros(n, dtype=u0.dtype)
        acc_x = np.zeros(n, dtype=u0.dtype)
        acc_b = np.zeros(n, dtype=u0.dtype)
        acc_th = np.zeros(n, dtype=u0.dtype)
        acc_g = np.zeros(n, dtype=u0.dtype)
        z = np.empty(n, dtype=u0.dtype)
        sg = np.empty(n, dtype=u0.dtype)
        for t in range(T - 1, -1, -1):
            vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
            ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
            for k in range(n):
                z[k] = vr[k] - th[k]
            _surrogate_row(kind, consts, z, sg, n)
            for k in range(n):
                gut = carry[k]
                if has_gu:
                    gut += gu[t, j0 + k]
                gsk = gs[t * gs_step, j0 + k] if has_gs else zero
                gss = gsk * g[k] * sg[k]
                h = z[k] > zero
                up = ur[k]
                fired = up > th[k]
                if delay or reset == 2:
                    gv = gut + gss
                    dth = -gss
                else:
                    d = (one if h else zero) - (one if fired else zero)
                    if reset == 0:
                        gv = gut * (one - th[k] * sg[k]) + gss
                        dth = gut * (th[k] * sg[k] - d) - gss
                    else:
                        gv = gut * (one - d - vr[k] * sg[k]) + gss
                        dth = gut * vr[k] * sg[k] - gss
                if need_g and h:
                    acc_g[k] += gsk
                if x_full:
                    gx[t, j0 + k] = gv
                else:
                    acc_x[k] += gv
                if reset == 0:
                    acc_b[k] += gv * up
                    if fired:
                        dth -= gv
                    carry[k] = b[k] * gv
                elif reset == 1:
                    if fired:
                        carry[k] = zero
                    else:
                        acc_b[k] += gv * up
                        carry[k] = b[k] * gv
                else:
                    acc_b[k] += gv * up
                    carry[k] = b[k] * gv
                acc_th[k] += dth
        if not x_full:
            gx[0, j0 : j0 + n] = acc_x
        if need_u0:
            gu0[j0 : j0 + n] = carry
        if need_b:
            gb[j0 : j0 + n] = acc_b
        if need_th:
            gth[j0 : j0 + n] = acc_th
        if need_g:
            gg[j0 : j0 + n] = acc_g
