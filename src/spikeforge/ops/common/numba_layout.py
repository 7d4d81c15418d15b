"""How the numba kernels split neurons into blocks and threads (shared by every neuron).

A kernel walks time per block of neurons, keeping the block's state in rows of a small
work buffer; a range kernel uses one buffer for all of its blocks, and on numba's threads
each lane (``numba_lanes.py``) takes a contiguous run of blocks.
"""

from __future__ import annotations

from numba import njit

__all__ = [
    "BLOCK",
    "MAX_BLOCK",
    "PARALLEL_MIN_ELEMENTS",
    "SERIAL_BLOCK",
    "STEP_BLOCK",
    "parallel_layout",
    "row",
    "worth_threads",
]

BLOCK = 512  # the smallest parallel block (``parallel_layout`` picks the size)
MAX_BLOCK = 4096
STEP_BLOCK = 1024  # the longest block for a single step (T = 1)
SERIAL_BLOCK = 2048  # one thread: larger blocks, one work buffer for all of them
# Below this many elements one thread beats waking the pool; 2^16 beat 2^18 on the W2 step
# loop ([128, 1000] per step, 3 runs each, noisy shared machine).
PARALLEL_MIN_ELEMENTS = 1 << 16


@njit(cache=True, inline="always")
def row(work, i, size, n):  # pragma: no cover - compiled
    """Row ``i`` (first ``n`` entries) of a flat ``[rows · size]`` work buffer."""
    return work[i * size : i * size + n]


def worth_threads(shape: tuple[int, int]) -> bool:
    """Whether ``shape = (T, N)`` is large enough for threads (waking them costs
    more than small problems take)."""
    T, N = shape
    return N > BLOCK and T * N >= PARALLEL_MIN_ELEMENTS


def parallel_layout(shape: tuple[int, int]) -> tuple[int, int]:
    """``(block, lanes)``: neurons per block and threads (lanes) for ``shape = (T, N)``.
    Over many steps long blocks stream better; a single step is faster with blocks whose
    work rows stay in L1 (bench/README.md, "Kernel tuning"). Every thread should get
    several blocks."""
    from numba import get_num_threads

    steps, n = shape
    lanes = get_num_threads()
    per_block = -(-n // (4 * lanes))
    longest = MAX_BLOCK if steps > 1 else STEP_BLOCK
    block = min(longest, max(BLOCK, -(-per_block // 64) * 64))
    return block, min(lanes, -(-n // block))
