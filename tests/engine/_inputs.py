"""Inputs that keep every membrane away from the threshold, and a float64 oracle run."""

from __future__ import annotations

import torch
from torch import Tensor

from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.leaky.reference import leaky_scan


def pre_reset_membranes(
    x: Tensor, mem0: Tensor, beta: Tensor, thr: Tensor, mem_seq: Tensor, cfg: NeuronConfig
) -> Tensor:
    """``V_t`` (what the spike compares with θ) recomputed from the reference's ``U_t``."""
    b = beta.clamp(0, 1)
    prev = torch.cat([mem0.unsqueeze(0), mem_seq[:-1]])
    fired = (prev > thr).to(x.dtype)
    if cfg.reset == "subtract":
        return b * prev + x - fired * thr
    if cfg.reset == "zero":
        return b * ((1 - fired) * prev) + x
    return b * prev + x


def gaps(x, mem0, beta, thr, graded, cfg) -> Tensor:
    """``min(|V_t − θ|, |U_t − θ|)`` per element of the float64 reference trajectory."""
    d = torch.float64
    args = [t.detach().to(d) for t in (x, mem0, beta, thr, graded)]
    with torch.no_grad():
        _, mem_seq = leaky_scan(*args, cfg)
        v = pre_reset_membranes(args[0], args[1], args[2], args[3], mem_seq, cfg)
    return torch.minimum((v - args[3]).abs(), (mem_seq - args[3]).abs())


def draw_leaky_inputs(
    shape: tuple[int, ...],
    cfg: NeuronConfig,
    beta: Tensor,
    thr: Tensor,
    graded: Tensor,
    dtype: torch.dtype = torch.float32,
    margin: float = 1e-3,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``(x [T, *S], mem0 [*S])`` whose reference run stays ``margin`` away from θ.

    Inputs are drawn at random, then each step whose membrane lands within the margin gets
    its input nudged by ``4·margin`` until the whole trajectory is clear.
    """
    x = (torch.rand(shape, generator=generator, dtype=torch.float64) * 1.6 - 0.3).to(dtype)
    mem0 = (torch.rand(shape[1:], generator=generator, dtype=torch.float64) * 1.2).to(dtype)
    mem0 = torch.where((mem0 - thr).abs() < margin, mem0 - 4 * margin, mem0)
    for _ in range(500):
        close = gaps(x, mem0, beta, thr, graded, cfg) < margin
        if not close.any():
            return x, mem0
        first = close.cumsum(0).cumsum(0) == 1  # earliest close step of each neuron
        x = torch.where(first, x + 4 * margin, x)
    raise RuntimeError(f"could not draw inputs {margin} away from the threshold for {shape}")
