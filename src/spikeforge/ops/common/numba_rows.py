"""Row helpers shared by the numba kernels (compiled lazily, cached on disk, inlined)."""

from __future__ import annotations

import math

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["array_at", "block_param", "pick", "shared_scalars", "surrogate_row"]


def pick(p, k):
    """``p[k]`` for a per-neuron array, ``p`` itself for a shared scalar. Compiled code
    specialises on the type, so a row loop over shared parameters reads no parameter array
    (fewer arrays per loop: LLVM vectorises it without run-time overlap checks)."""
    return p[k] if isinstance(p, np.ndarray) else p


@overload(pick, inline="always")
def _pick_compiled(p, k):  # pragma: no cover - compile-time dispatch
    if isinstance(p, types.Array):
        return lambda p, k: p[k]
    return lambda p, k: p


def block_param(p, j0, n, out):
    """Neurons ``j0 … j0+n`` of parameter ``p``: a shared scalar as is; an array (``[1]`` or
    ``[N]``) copied into ``out[:n]``, which is returned."""
    if not isinstance(p, np.ndarray):
        return p
    out[:n] = p[0] if p.shape[0] == 1 else p[j0 : j0 + n]
    return out[:n]


@overload(block_param, inline="always")
def _block_param_compiled(p, j0, n, out):  # pragma: no cover - compile-time dispatch
    if not isinstance(p, types.Array):
        return lambda p, j0, n, out: p

    def copy(p, j0, n, out):
        if p.shape[0] == 1:
            out[:n] = p[0]
        else:
            out[:n] = p[j0 : j0 + n]
        return out[:n]

    return copy


@intrinsic
def _pointer_at(typingctx, address):  # pragma: no cover - compile-time
    """The integer ``address`` (a tensor's ``data_ptr()``) as an untyped pointer."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@njit(cache=True, inline="always")
def array_at(address, shape, like):  # pragma: no cover - compiled
    """A C-contiguous array of ``shape`` and ``like``'s dtype over the memory at ``address``.

    Passing ``tensor.data_ptr()`` instead of ``tensor.numpy()`` saves the per-array
    conversion and argument typing (a few µs each), which matters for one small step. The
    caller guarantees the memory is contiguous, of that dtype, and holds ``prod(shape)``
    elements (an empty shape may take address 0).
    """
    return carray(_pointer_at(address), shape, like.dtype)


def shared_scalars(*params: np.ndarray) -> tuple:
    """The parameters as numpy scalars when every one is shared (``[1]``), else unchanged:
    kernels are compiled once for each of the two cases, never for mixtures."""
    if all(p.shape[0] == 1 for p in params):
        return tuple(p[0] for p in params)
    return params


@njit(cache=True, inline="always")
def surrogate_row(kind, consts, z, out, n):  # pragma: no cover - compiled
    """``out[k] = dS/dz`` at ``z[k]`` (ids of ``ops.codes.SURROGATE_IDS``); the kind branch sits
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
