"""The tables that cross into kernels, defined once: reset codes and surrogate ids.

A reset mode travels as an integer (``RESET_CODES``); a surrogate as its id
(``SURROGATE_IDS``) plus two constants in the kernel's dtype (``surrogate_constants``).
The torch kernels turn the id back into a surrogate value (``surrogate_from``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import surrogate as _surrogate

__all__ = [
    "FUSED_SURROGATES",
    "RESET_CODES",
    "RESET_MODES",
    "SURROGATE_IDS",
    "surrogate_constants",
    "surrogate_from",
]

RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}
RESET_MODES: tuple[str, ...] = tuple(RESET_CODES)

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
# Surrogate kinds the fused kernels implement (the random SSO and user callables are not).
FUSED_SURROGATES: tuple[str, ...] = tuple(SURROGATE_IDS)

_SURROGATE_CLASSES = {
    cls.kind: cls
    for cls in vars(_surrogate).values()
    if isinstance(cls, type) and issubclass(cls, _surrogate.Surrogate)
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


def surrogate_from(kind: str, params: tuple[float, ...]) -> _surrogate.Surrogate:
    """The surrogate value of kind ``kind`` with the first of ``params`` it takes."""
    cls = _SURROGATE_CLASSES[kind]
    return cls(*params[: len(cls().params())])
