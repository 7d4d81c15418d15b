"""StateLeaky workloads S1/S2: the time-parallel neuron alone, forward and backward.

    S1  StateLeaky on an input current [T=1000, B=32, C=256], loss = sum of spikes + sum
        of membranes, learnable beta (tau) and threshold.
    S2  the same on [T=4000, B=8, C=256].

snnTorch 1.0.0 computes the membrane as a T-tap causal convolution (T² work); spikeforge
runs the chunked O(T) scan of ``ops.stateleaky``. Only these two libraries have the neuron.
Kept apart from ``cases.py`` so that other workloads can be added there independently.
"""

from __future__ import annotations

import torch
from torch import Tensor

WORKLOADS = ("S1", "S2")
LIBS = ("spikeforge", "snntorch")
BETA = 0.95


def shape(workload: str, s) -> tuple[int, int, int]:
    """``(T, B, C)`` of a StateLeaky workload for the run's ``cases.Sizes``."""
    if workload == "S1":
        return s.s1_t, s.s1_b, s.s_c
    return s.s2_t, s.s2_b, s.s_c


def build(lib: str, workload: str, s, make_case):
    """The (library, workload) case; ``make_case`` is ``cases._case``."""
    if lib not in LIBS:
        raise ValueError(f"{workload} runs {LIBS} only, got {lib!r}")
    steps, batch, channels = shape(workload, s)
    g = torch.Generator().manual_seed(4)
    x = (0.1 + 0.3 * torch.randn(steps, batch, channels, generator=g)).requires_grad_(True)
    if lib == "spikeforge":
        import spikeforge as snn
    else:
        import snntorch as snn
    lif = snn.StateLeaky(BETA, channels, learn_beta=True, learn_threshold=True)

    def loss() -> Tensor:
        spk, mem = lif(x)
        return spk.sum() + mem.sum()

    note = "O(T) chunked scan" if lib == "spikeforge" else "T-tap causal conv1d"
    return make_case(loss, [x, *lif.parameters()], adam=False, note=note)


def work(workload: str, s) -> dict[str, dict[str, float]]:
    """Floor bytes: forward reads the input and writes spikes and membranes (12 B per
    element); training's backward reads the membrane and writes the input gradient (8 B)."""
    steps, batch, channels = shape(workload, s)
    e = steps * batch * channels
    return {"fwd": {"bytes": 12 * e, "flops": 0}, "train": {"bytes": 20 * e, "flops": 0}}
