"""Quantisation of a neuron's hidden state to ``2**num_bits`` levels, with snnTorch's interface.

``state_quant(...)`` builds the level set once and is then called on a tensor: each element is
replaced by its nearest level (ties go to the lower level). The backward pass is the straight-
through estimator, ``∂out/∂x = 1``. Pass an instance as a neuron's ``state_quant=``.

Levels, with ``θ = threshold``, ``lo = −θ·(1 + lower_limit)`` and ``hi = θ·(1 + upper_limit)``:

* ``uniform=True``: ``linspace(lo, hi, 2**num_bits)``.
* ``uniform=False``: the range is split at ``θ`` (``thr_centered``) or at 0; each side gets a
  share of the levels in proportion to its width, spaced by a geometric series of ratio
  ``multiplier`` so the levels crowd towards the split point.

Unlike snnTorch's closure, a ``state_quant`` is a plain object: it pickles with the model.

Example::

    >>> import torch
    >>> from spikeforge.functional.quant import state_quant
    >>> q = state_quant(num_bits=2, threshold=1, lower_limit=0, upper_limit=0.5)
    >>> [round(v, 4) for v in q.levels.tolist()]  # linspace(-1, 1.5, 4)
    [-1.0, -0.1667, 0.6667, 1.5]
    >>> [round(v, 4) for v in q(torch.tensor([0.2, 0.3, 2.0])).tolist()]
    [-0.1667, 0.6667, 1.5]
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["StateQuant", "state_quant"]

_DEFAULT_MULTIPLIER = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.7, 6: 0.9, 7: 0.925}


class StateQuant(torch.autograd.Function):
    """Snap each element to the nearest of the sorted ``levels``; straight-through backward."""

    @staticmethod
    def forward(ctx, input_: Tensor, levels: Tensor) -> Tensor:
        levels = levels.to(device=input_.device, dtype=input_.dtype)
        upper = torch.searchsorted(levels, input_.contiguous()).clamp(max=levels.numel() - 1)
        lower = (upper - 1).clamp(min=0)
        go_up = (levels[upper] - input_).abs() < (input_ - levels[lower]).abs()
        snapped = torch.where(go_up, levels[upper], levels[lower])
        return torch.where(torch.isnan(input_), input_, snapped)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        return grad_output.clone(), None


def _geometric_side(start: float, width: float, count: int, multiplier: float, rising: bool):
    """``count`` levels over ``width`` from ``start``, gaps ``∝ multiplier**j``.

    ``rising=False`` (below the split): levels start at ``start`` and the gaps shrink towards
    the split. ``rising=True`` (above it): the gaps grow away from ``start``, which itself is
    excluded and the last level lands on ``start + width``.
    """
    powers = [multiplier**j for j in reversed(range(count))]
    total = 0.0
    for p in powers:
        total += p
    room = total / width
    levels, value = [], start
    if rising:
        for p in powers:
            value += p / room
            levels.append(value)
    else:
        for p in reversed(powers):
            levels.append(value)
            value += p / room
    return levels


class state_quant:
    """Nearest-level quantiser over ``2**num_bits`` levels (module docstring for the levels)."""

    def __init__(
        self,
        num_bits: int = 8,
        uniform: bool = True,
        thr_centered: bool = True,
        threshold: float = 1,
        lower_limit: float = 0,
        upper_limit: float = 0.2,
        multiplier: float | None = None,
    ) -> None:
        if isinstance(num_bits, bool) or not isinstance(num_bits, numbers.Integral) or num_bits < 1:
            raise ValueError(f"`num_bits` must be an int >= 1, got {num_bits!r}")
        if not threshold > 0:
            raise ValueError(f"`threshold` must be > 0, got {threshold}")
        low = -(threshold + threshold * lower_limit)
        high = threshold + threshold * upper_limit
        if not low < high:
            raise ValueError(
                f"empty range: lower_limit={lower_limit}, upper_limit={upper_limit} give "
                f"[{low}, {high}]"
            )
        self.num_bits = int(num_bits)
        self.uniform = uniform
        self.thr_centered = thr_centered
        self.threshold = threshold
        self.lower_limit = lower_limit
        self.upper_limit = upper_limit
        num_levels = 2**self.num_bits
        if uniform:
            self.multiplier = multiplier
            self.levels = torch.linspace(low, high, num_levels)
            return
        if multiplier is None:
            multiplier = _DEFAULT_MULTIPLIER.get(self.num_bits, 0.95)
        if not multiplier > 0:
            raise ValueError(f"`multiplier` must be > 0, got {multiplier}")
        self.multiplier = multiplier
        split = threshold if thr_centered else 0.0
        if not low <= split <= high:
            raise ValueError(f"the split point {split} lies outside the range [{low}, {high}]")
        below = math.floor(num_levels * (split - low) / (high - low))
        values = []
        if below:
            values += _geometric_side(low, split - low, below, multiplier, rising=False)
        if num_levels - below:
            values += _geometric_side(split, high - split, num_levels - below, multiplier, True)
        self.levels = torch.sort(torch.tensor(values)).values

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"`x` must be a floating-point torch.Tensor, got {x!r:.60}")
        return StateQuant.apply(x, self.levels)

    def __repr__(self) -> str:
        return (
            f"state_quant(num_bits={self.num_bits}, uniform={self.uniform}, "
            f"thr_centered={self.thr_centered}, threshold={self.threshold}, "
            f"lower_limit={self.lower_limit}, upper_limit={self.upper_limit}, "
            f"multiplier={self.multiplier})"
        )
