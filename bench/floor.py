"""The floor line: the least time a workload can take on this machine.

``floor = bytes / copy bandwidth + flops / matmul rate``, both rates measured here:
copy bandwidth from ``dst.copy_(src)`` on a 256 MiB float32 tensor (read + write bytes per
second), the matmul rate from a 2048x2048 float32 product: medians of samples taken in the
same timing rounds as the workload (``RateProbe``).

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

import statistics
import time

import stateleaky_cases
import torch
from cases import Sizes

F32 = 4


class RateProbe:
    """Times one 256 MiB copy and one 2048x2048 float32 product per ``sample()`` call.

    ``run.py`` samples it once per timing round, beside the libraries, so the floor's rates
    and the libraries' medians come from the same spells of a shared machine (a floor from
    rates measured once, before the run, moved by 2x between runs here)."""

    def __init__(self, n: int = 2048) -> None:
        self.src = torch.rand(64 << 20)
        self.dst = torch.empty_like(self.src)
        self.a, self.b, self.out = torch.rand(n, n), torch.rand(n, n), torch.empty(n, n)
        self.copy_bytes = 2 * self.src.numel() * F32  # read + write
        self.flops = 2 * n**3
        self.copy_s: list[float] = []
        self.matmul_s: list[float] = []
        self.dst.copy_(self.src)  # first touch outside the samples
        torch.mm(self.a, self.b, out=self.out)

    def sample(self) -> None:
        t0 = time.perf_counter()
        self.dst.copy_(self.src)
        t1 = time.perf_counter()
        torch.mm(self.a, self.b, out=self.out)
        t2 = time.perf_counter()
        self.copy_s.append(t1 - t0)
        self.matmul_s.append(t2 - t1)

    def rates(self) -> tuple[float, float]:
        """Median copy bandwidth (bytes/s) and matmul rate (flops/s) over the samples."""
        return (
            self.copy_bytes / statistics.median(self.copy_s),
            self.flops / statistics.median(self.matmul_s),
        )


def work(workload: str, s: Sizes) -> dict[str, dict[str, float]]:
    """``{"fwd": {"bytes", "flops"}, "train": {...}}`` for one workload."""
    if workload in stateleaky_cases.WORKLOADS:
        return stateleaky_cases.work(workload, s)
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
    if workload in ("W4", "W6"):
        return _conv_rec_work(workload, s)
    raise ValueError(f"unknown workload {workload!r}")


def _conv_rec_work(workload: str, s: Sizes) -> dict[str, dict[str, float]]:
    """W4 and W6: matrix/convolution flops plus the neurons' bytes (as W2's hidden layer:
    8 B per element forward, 28 B training). Training flops are 3x the forward's where the
    layer's input needs a gradient (weight + input gradient), 2x where it does not."""
    if workload == "W4":
        t, b = s.w4_t, s.w4_b
        conv1 = 2 * b * (12 * 24 * 24) * (1 * 5 * 5)  # once: the image is static
        conv2 = 2 * t * b * (64 * 8 * 8) * (12 * 5 * 5)
        fc = 2 * t * b * 1024 * 10
        e = t * b * (12 * 12 * 12 + 64 * 4 * 4)  # the two hidden neuron layers
        params = 12 * 26 + 64 * 301 + 10 * 1025
        return {
            "fwd": {"bytes": 8 * e, "flops": conv1 + conv2 + fc},
            "train": {"bytes": 28 * e + 7 * F32 * params,
                      "flops": 2 * conv1 + 3 * (conv2 + fc)},
        }  # fmt: skip
    t, b, n = s.w6_t, s.w6_b, 256
    fc1 = 2 * t * b * 700 * n
    rec = 2 * t * b * n * n
    fc2 = 2 * t * b * n * 20
    e = t * b * n
    params = 700 * n + n + n * n + n + n * 20 + 20
    # The binary input is read by fc1 (4 B per element) and again for its weight gradient.
    x_bytes = t * b * 700 * F32
    return {
        "fwd": {"bytes": 8 * e + x_bytes, "flops": fc1 + rec + fc2},
        "train": {"bytes": 28 * e + 2 * x_bytes + 7 * F32 * params,
                  "flops": 2 * fc1 + 3 * (rec + fc2)},
    }  # fmt: skip


def floor(workload: str, s: Sizes, bandwidth: float, flops_rate: float) -> dict[str, dict]:
    """Floor seconds of one workload per mode, with their two parts and the rates used."""
    out: dict[str, dict] = {}
    for mode, need in work(workload, s).items():
        mem_s, mm_s = need["bytes"] / bandwidth, need["flops"] / flops_rate
        out[mode] = {**need, "memory_s": mem_s, "matmul_s": mm_s, "floor_s": mem_s + mm_s,
                     "copy_bytes_per_s": bandwidth, "matmul_flops_per_s": flops_rate}  # fmt: skip
    return out
