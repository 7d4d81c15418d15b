"""Reusable CPU output buffers for the fused kernels.

On a CPU, a fresh large tensor costs more than the kernel that fills it: glibc serves
allocations above its mmap threshold with fresh pages, and faulting them in runs at a
fraction of memory bandwidth. The fused ops therefore take their large outputs from this
pool. A pooled storage is handed out again only when nothing but the pool references it
(its storage use count is 1), so a tensor a caller still holds is never overwritten.

Small tensors (below ``MIN_BYTES``) and non-CPU devices go straight to ``torch.empty``.
The pool keeps at most ``SPIKEFORGE_BUFFER_POOL_MB`` (environment, default 2048) MiB of
idle storages and drops the least recently used beyond it; ``release_buffers()`` empties it.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict

import torch
from torch import Tensor

__all__ = ["MIN_BYTES", "pooled_empty", "release_buffers"]

# 4 MiB: below this, malloc recycles memory well enough (bench/README.md, "Kernel tuning").
MIN_BYTES = 1 << 22

_lock = threading.Lock()
_pool: OrderedDict[int, list[torch.UntypedStorage]] = OrderedDict()


def _cap_bytes() -> int:
    return int(os.environ.get("SPIKEFORGE_BUFFER_POOL_MB", "2048")) << 20


def _is_free(storage: torch.UntypedStorage) -> bool:
    # One reference from the pool's Python object; anything more means someone holds it.
    return torch._C._storage_Use_Count(storage._cdata) == 1


def pooled_empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """``torch.empty(shape)``, served from a free pooled storage when large and on CPU.

    Storages of one size are kept least recently handed out first, and a storage handed out
    moves to the back: a training loop frees its step buffers before it asks for them again,
    so the first one checked is free and a request costs O(1) however many are pooled."""
    nbytes = math.prod(shape) * dtype.itemsize
    if device.type != "cpu" or nbytes < MIN_BYTES or _cap_bytes() <= 0:
        return torch.empty(shape, dtype=dtype, device=device)
    with _lock:
        storages = _pool.setdefault(nbytes, [])
        _pool.move_to_end(nbytes)
        index = next((i for i, s in enumerate(storages) if _is_free(s)), None)
        if index is None:
            storage = torch.empty(nbytes, dtype=torch.uint8).untyped_storage()
            storages.append(storage)
            _evict(keep=storage)
        else:
            storage = storages.pop(index)
            storages.append(storage)
    return torch.empty(0, dtype=dtype).set_(storage, 0, shape)


def _evict(keep: torch.UntypedStorage) -> None:
    """Drop idle storages, least recently used size first, until the pool fits its cap."""
    total = sum(s.nbytes() for storages in _pool.values() for s in storages)
    cap = _cap_bytes()
    for nbytes in list(_pool):
        if total <= cap:
            return
        storages = _pool[nbytes]
        for s in list(storages):
            if s is not keep and _is_free(s) and total > cap:
                storages.remove(s)
                total -= s.nbytes()
        if not storages:
            del _pool[nbytes]


def release_buffers() -> None:
    """Forget every pooled storage (tensors still in use stay valid)."""
    with _lock:
        _pool.clear()
