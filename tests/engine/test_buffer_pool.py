"""The CPU output-buffer pool: large buffers are reused once free, never while held."""

from __future__ import annotations

import pytest
import torch

from spikeforge.ops.common import buffers as _buffers
from spikeforge.ops.common.buffers import MIN_BYTES, pooled_empty, release_buffers

LARGE = (MIN_BYTES // 4,)  # float32 elements filling exactly MIN_BYTES
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def empty_pool():
    release_buffers()
    yield
    release_buffers()


def idle_bytes() -> int:
    return sum(s.nbytes() for ss in _buffers._pool.values() for s in ss if _buffers._is_free(s))


def test_freed_buffer_is_handed_out_again():
    first = pooled_empty(LARGE, torch.float32, CPU)
    address = first.data_ptr()
    del first
    again = pooled_empty(LARGE, torch.float32, CPU)
    assert again.data_ptr() == address
    assert again.shape == LARGE and again.dtype == torch.float32


def test_held_buffer_or_view_is_never_handed_out():
    held = pooled_empty(LARGE, torch.float32, CPU)
    view = pooled_empty(LARGE, torch.float32, CPU)[:10]  # the view alone keeps its storage
    other = pooled_empty(LARGE, torch.float32, CPU)
    addresses = {held.data_ptr(), view.data_ptr(), other.data_ptr()}
    assert len(addresses) == 3
    held.fill_(1.0)
    other.fill_(2.0)
    assert held.eq(1.0).all()


def test_least_recently_handed_out_comes_first():
    buffers = [pooled_empty(LARGE, torch.float32, CPU) for _ in range(3)]
    addresses = [b.data_ptr() for b in buffers]
    del buffers
    again = [pooled_empty(LARGE, torch.float32, CPU) for _ in range(3)]
    assert [b.data_ptr() for b in again] == addresses


def test_same_bytes_serve_another_dtype_and_shape():
    first = pooled_empty(LARGE, torch.float32, CPU)
    address = first.data_ptr()
    del first
    halves = pooled_empty((2, MIN_BYTES // 16), torch.float64, CPU)
    assert halves.data_ptr() == address and halves.shape == (2, MIN_BYTES // 16)


def test_small_buffers_bypass_the_pool():
    small = pooled_empty((MIN_BYTES // 4 - 1,), torch.float32, CPU)
    del small
    assert not _buffers._pool


def test_cap_bounds_the_idle_bytes(monkeypatch):
    cap = 2 * MIN_BYTES
    monkeypatch.setenv("SPIKEFORGE_BUFFER_POOL_MB", str(cap >> 20))
    size = (3 * MIN_BYTES // 2 // 4,)  # 1.5 MIN_BYTES each: two do not fit under the cap
    buffers = [pooled_empty(size, torch.float32, CPU) for _ in range(3)]
    del buffers
    assert idle_bytes() == 3 * (3 * MIN_BYTES // 2)  # all were held while allocated: kept
    pooled_empty(LARGE, torch.float32, CPU)  # a new storage evicts idle old ones
    assert idle_bytes() <= cap


def test_zero_cap_disables_the_pool(monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_BUFFER_POOL_MB", "0")
    pooled_empty(LARGE, torch.float32, CPU)
    assert not _buffers._pool


def test_other_devices_allocate_directly():
    t = pooled_empty(LARGE, torch.float32, torch.device("meta"))
    assert t.device.type == "meta" and not _buffers._pool
