"""Keep freed memory in the process (glibc), so a training step reuses its pages.

A CPU training step allocates and frees the same large tensors every batch (a conv net at
T = 25: ~160 MB of activations, gradients and pooling indices). glibc serves a block over
its mmap threshold (128 KiB, rising to at most 32 MiB) with a fresh ``mmap`` and unmaps it
on ``free``, so every batch the kernel faults in and zeroes those pages again (~40,000
minor faults per batch; about a fifth of the step's CPU time on the conv net). With
``M_MMAP_MAX = 0`` every block comes from the heap, and a high ``M_TRIM_THRESHOLD`` keeps
freed heap memory for the next batch: the process holds its peak footprint until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 1 << 30  # return heap memory to the system only above 1 GiB free

_applied = False


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from the heap and keep them once freed.

    Process-wide and lasting; does nothing off Linux or without glibc's ``mallopt``.
    Returns whether the settings are in force.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _applied
