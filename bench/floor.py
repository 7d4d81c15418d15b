"""The floor line: the least time a workload can take on this machine.

``floor = bytes / copy bandwidth + flops / matmul rate``, both rates measured here:
copy bandwidth from ``dst.copy_(src)`` on a 256 MiB float32 tensor (read + write bytes per
second), the matmul rate from a 2048x2048 float32 product; each the best of several calls.

Bytes count each large tensor of the workload's dataflow once per read and once per write
for an implementation with a fused neuron (float32, 4 bytes each); small tensors
(parameters, [B, N] currents) are ignored. Per neuron element (E = T*B*N):
forward-only reads the input and writes the spikes (8 B); training also saves the
membrane (4 B) and backward reads it and writes the input gradient (8 B); the gradient
of a sum of spikes is a constant and need not be read, a gradient from a following
layer is (4 B more). Matmul flops: 2*M*K*N per product; training adds the weight
gradient (and the input gradient where the input needs one).
"""

from __future__ import annotations

import time

import torch
from cases import Sizes

F32 = 4


def _best_seconds(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls: a floor needs the best rate the machine
    reaches (a median taken in a slow spell put W1 below its own floor, 0.60x)."""
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return min(samples)


def copy_bandwidth(repeats: int = 7) -> float:
    """Bytes per second (read + write) of a large tensor copy."""
    src = torch.rand(64 << 20)  # 256 MiB
    dst = torch.empty_like(src)
    seconds = _best_seconds(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * F32 / seconds


def matmul_rate(repeats: int = 7, n: int = 2048) -> float:
    """Float32 flops per second of a square matrix product."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    out = torch.empty(n, n)
    seconds = _best_seconds(lambda: torch.mm(a, b, out=out), repeats)
    return 2 * n**3 / seconds


def work(workload: str, s: Sizes) -> dict[str, dict[str, float]]:
    """``{"fwd": {"bytes", "flops"}, "train": {...}}`` for one workload."""
    if workload == "W3":
        e = s.w3_t * s.w3_b * s.w3_n
        return {"fwd": {"bytes": 8 * e, "flops": 0}, "train": {"bytes": 20 * e, "flops": 0}}
    if workload == "W1":
        e = s.w1_t * s.w1_b * s.w1_n
        mm = 2 * e * s.w1_n  # [T*B, 512] x [512, 512]
        # Linear: read x, write cur (8E); LIF as W3. Backward: weight grad reads x and gcur.
        return {
            "fwd": {"bytes": 16 * e, "flops": mm},
            "train": {"bytes": (8 + 12 + 8 + 8) * e, "flops": 2 * mm},
        }
    if workload == "W2":
        t, b = s.w2_t, s.w2_b
        e1 = t * b * 1000
        fc1 = 2 * b * 784 * 1000  # once: the input is constant over time
        fc2 = 2 * t * b * 1000 * 10
        params = 784 * 1000 + 1000 * 10
        # LIF1 writes spikes (4), fc2 reads them (4); training saves mem1 (4), backward
        # reads mem1 and the spike gradient (8), fc2's backward writes that gradient and
        # reads the spikes again for its weight gradient (8). Adam: p, g, m, v read, p, m, v
        # written.
        return {
            "fwd": {"bytes": 8 * e1, "flops": fc1 + fc2},
            "train": {"bytes": 28 * e1 + 7 * F32 * params, "flops": 2 * fc1 + 3 * fc2},
        }
    raise ValueError(f"unknown workload {workload!r}")


def floors(s: Sizes, bandwidth: float, flops_rate: float) -> dict[str, dict[str, dict]]:
    """Floor seconds per workload and mode, with their two parts."""
    out: dict[str, dict[str, dict]] = {}
    for w in ("W1", "W2", "W3"):
        out[w] = {}
        for mode, need in work(w, s).items():
            mem_s, mm_s = need["bytes"] / bandwidth, need["flops"] / flops_rate
            out[w][mode] = {**need, "memory_s": mem_s, "matmul_s": mm_s, "floor_s": mem_s + mm_s}
    return out
