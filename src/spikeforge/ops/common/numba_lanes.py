"""Numba threads for serial range kernels (shared by every neuron's CPU kernels).

A range kernel ``kernel(j0, j1, block, *args)`` walks neurons ``j0 … j1`` in blocks on one
thread (``nogil``). ``run_lanes`` splits the neurons into contiguous lanes of whole blocks
and runs them on numba's threads with one small ``parallel=True`` loop, ``_lanes``, which
calls the kernel by address (a first-class function). So one compiled ``_lanes`` per
argument types, cached on disk, serves every kernel and configuration; the kernel is not
compiled again inside it; and a problem too small for threads compiles no parallel code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit, prange, typeof
from numba import types as numba_types
from numba._dispatcher import compute_fingerprint
from numba.core.types.function_type import WrapperAddressProtocol

from .numba_layout import SERIAL_BLOCK, parallel_layout, worth_threads

__all__ = ["lane_ends", "run_lanes", "run_range"]


class _Address(WrapperAddressProtocol):
    """A serial range kernel compiled for ``argtypes``, as a first-class function: ``_lanes``
    calls it by address, so one compiled ``_lanes`` (per argument types, cached on disk)
    serves every configuration, and no kernel is compiled a second time inside it."""

    def __init__(self, kernel: Callable, argtypes: tuple) -> None:
        self._signature = numba_types.void(*(numba_types.int64,) * 3, *argtypes)
        kernel.compile(self._signature.args)
        done = kernel.get_compile_result(self._signature)
        self._address = done.library.get_pointer_to_function(done.fndesc.llvm_cfunc_wrapper_name)

    def __wrapper_address__(self) -> int:
        return self._address

    def signature(self):
        return self._signature


_ADDRESSES: dict[tuple, _Address] = {}


def _address(kernel: Callable, args: tuple) -> _Address:
    """``kernel`` compiled for the types of ``args``, found by numba's type fingerprint of
    the tuple (well under a microsecond; ``numba.typeof`` of each argument took 45 us)."""
    key = (kernel, compute_fingerprint(args))
    fn = _ADDRESSES.get(key)
    if fn is None:
        fn = _ADDRESSES[key] = _Address(kernel, tuple(typeof(a) for a in args))
    return fn


@njit(cache=True, nogil=True, parallel=True)
def _lanes(kernel, ends, size, args):  # pragma: no cover - compiled
    """Lane ``l`` (one of numba's threads) runs ``kernel(ends[l], ends[l+1], size, *args)``."""
    for lane in prange(ends.shape[0] - 1):
        kernel(ends[lane], ends[lane + 1], size, *args)


def lane_ends(n: int, block: int, lanes: int) -> np.ndarray:
    """Where each of ``lanes`` contiguous runs of whole ``block``-sized blocks of ``n``
    neurons starts, then ``n`` (``lanes + 1`` entries)."""
    blocks = -(-n // block)
    ends = [min(n, (lane * blocks // lanes) * block) for lane in range(lanes)]
    return np.array([*ends, n], dtype=np.int64)


def run_lanes(kernel: Callable, n: int, block: int, lanes: int, args: tuple) -> None:
    """``kernel(j0, j1, block, *args)`` over the ``n`` neurons: on this thread when
    ``lanes == 1``, else over ``lanes`` contiguous runs of blocks on numba's threads."""
    if lanes <= 1:
        kernel(0, n, block, *args)
        return
    _lanes(_address(kernel, args), lane_ends(n, block, lanes), block, args)


def run_range(kernel: Callable, shape: tuple[int, int], args: tuple) -> None:
    """A ``(T, N)`` problem: lanes on numba's threads when it is large enough for them
    (``numba_layout.worth_threads``), else one call over all ``N`` neurons."""
    if worth_threads(shape):
        run_lanes(kernel, shape[1], *parallel_layout(shape), args)
    else:
        kernel(0, shape[1], SERIAL_BLOCK, *args)
