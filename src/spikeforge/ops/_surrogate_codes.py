"""How surrogates cross into kernels: an integer id and two constants in the kernel dtype."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SURROGATE_IDS", "surrogate_constants"]

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
    """``[0, 1, c0, c1]`` in the kernel's dtype, so no arithmetic is promoted to float64.

    atan: ``c0 = α/2, c1 = π/2·α``; spike-rate escape: ``(β, k)``; sparse fast sigmoid:
    ``(k, B)``; others: their single parameter in ``c0``.
    """
    c0, c1 = 0.0, 0.0
    if kind == "atan":
        c0, c1 = params[0] / 2, math.pi / 2 * params[0]
    elif kind == "spike_rate_escape" or kind == "sfs":
        c0, c1 = params[0], params[1]
    elif params:
        c0 = params[0]
    return np.array([0.0, 1.0, c0, c1], dtype=dtype)
