"""``GradedSpikes``: a learnable magnitude per neuron for the spikes of a layer.

.. math::
    Y = X ⊙ w, \\qquad w ∈ ℝ^{\\text{size} × 1}

``w`` starts at ``constant_factor`` everywhere, or uniform in [0.5, 1.5) when
``constant_factor`` is falsy (0 or None), as in snnTorch 1.0.0. The weight has shape
``[size, 1]`` and broadcasts as such: it scales dimension −2 of the input (e.g. ``[B, size,
1]`` or ``[size, N]``), exactly as snnTorch's layer does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GradedSpikes"]


class GradedSpikes(nn.Module):
    """Multiply spikes by a learnable per-neuron factor ``weights [size, 1]``."""

    def __init__(self, size: int, constant_factor: float | None) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"GradedSpikes: size must be a positive int, got {size!r}")
        if constant_factor is not None and (
            isinstance(constant_factor, bool) or not isinstance(constant_factor, (int, float))
        ):
            raise TypeError(
                "GradedSpikes: constant_factor must be a number or None, "
                f"got {type(constant_factor).__name__}"
            )
        self.size = size
        if constant_factor:
            weights = torch.full((size, 1), float(constant_factor))
        else:
            weights = torch.rand(size, 1) + 0.5
        self.weights = nn.Parameter(weights)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weights

    def extra_repr(self) -> str:
        return f"size={self.size}"
