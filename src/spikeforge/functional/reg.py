"""Activity regularisers on a layer's spike recording ``[T, B, ...]`` (time, batch, neurons).

Each is a picklable callable object with a ``__name__``, returning a scalar to add to the loss:

* ``l1_rate_sparsity(Lambda)``: ``Λ·Σ s`` over everything (snnTorch's only regulariser).
* ``population_spike_budget(max_spikes, Lambda)``, population level: each sample's total spike
  count in the layer above a budget is penalised, ``Λ·mean_b max(0, Σ_{t,n} s[t,b,n] − budget)``.
* ``min_firing_penalty(min_spikes, Lambda)``, neuron level: neurons that fire fewer than
  ``min_spikes`` times are penalised, ``Λ·mean_b Σ_n max(0, min_spikes − Σ_t s[t,b,n])``, which
  pushes silent ("dead") neurons to fire.

``reduction="sum"`` sums over the batch instead of averaging.

Example::

    >>> import torch
    >>> from spikeforge import functional as SF
    >>> spk = torch.ones(4, 2, 3)  # every neuron fires at all 4 steps: 12 spikes per sample
    >>> SF.population_spike_budget(max_spikes=10, Lambda=0.5)(spk).item()
    1.0
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from ._checks import check_record, reduce

__all__ = ["l1_rate_sparsity", "min_firing_penalty", "population_spike_budget"]


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"`{name}` must be a number >= 0, got {value!r}")
    return float(value)


def _batch_reduction(reduction: str) -> str:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"`reduction` must be 'mean' or 'sum', got {reduction!r}")
    return reduction


class _Regulariser:
    def __init__(self, Lambda: float) -> None:
        self.Lambda = _non_negative("Lambda", Lambda)
        self.__name__ = type(self).__name__

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "__name__")
        return f"{self.__name__}({fields})"


class l1_rate_sparsity(_Regulariser):
    """``Λ·Σ s``: every spike costs ``Lambda``."""

    def __init__(self, Lambda: float = 1e-5) -> None:
        super().__init__(Lambda)

    def __call__(self, spk_out: Tensor) -> Tensor:
        if not isinstance(spk_out, Tensor):
            raise TypeError(f"`spk_out` must be a torch.Tensor, got {type(spk_out).__name__}")
        return self.Lambda * torch.sum(spk_out)


class population_spike_budget(_Regulariser):
    """``Λ·mean_b max(0, Σ_{t,n} s[t,b,n] − max_spikes)``: a per-sample spike budget for a layer."""

    def __init__(self, max_spikes: float, Lambda: float = 1e-5, reduction: str = "mean") -> None:
        super().__init__(Lambda)
        self.max_spikes = _non_negative("max_spikes", max_spikes)
        self.reduction = _batch_reduction(reduction)

    def __call__(self, spk_out: Tensor) -> Tensor:
        spk_out = check_record("spk_out", spk_out, ndim=None)
        totals = spk_out.transpose(0, 1).flatten(1).sum(1)  # [B]
        return self.Lambda * reduce(torch.relu(totals - self.max_spikes), self.reduction)


class min_firing_penalty(_Regulariser):
    """``Λ·mean_b Σ_n max(0, min_spikes − Σ_t s[t,b,n])``: each neuron's shortfall below a
    minimum spike count."""

    def __init__(self, min_spikes: float, Lambda: float = 1e-5, reduction: str = "mean") -> None:
        super().__init__(Lambda)
        self.min_spikes = _non_negative("min_spikes", min_spikes)
        self.reduction = _batch_reduction(reduction)

    def __call__(self, spk_out: Tensor) -> Tensor:
        spk_out = check_record("spk_out", spk_out, ndim=None)
        counts = spk_out.sum(0).flatten(1)  # [B, neurons]
        shortfall = torch.relu(self.min_spikes - counts).sum(1)
        return self.Lambda * reduce(shortfall, self.reduction)
