"""Row helpers shared by the numba kernels (compiled lazily, cached on disk, inlined)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["param_block", "surrogate_row"]


@njit(cache=True, inline="always")
def param_block(p, j0, n):  # pragma: no cover - compiled
    """The parameter of neurons ``j0 … j0+n`` (shared ``[1]`` or ``[N]``) as a new array."""
    if p.shape[0] == 1:
        return np.full(n, p[0])
    return p[j0 : j0 + n].copy()


@njit(cache=True, inline="always")
def surrogate_row(kind, consts, z, out, n):  # pragma: no cover - compiled
    """``out[k] = dS/dz`` at ``z[k]`` (ids of ``_surrogate_codes``); the kind branch sits
    outside the loops, so each loop vectorises."""
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
