"""Classification accuracy of an output spike recording ``[T, B, C]`` (time first).

* ``accuracy_rate``: the predicted class is the output (or population group) with the most
  spikes, ``argmax_c Σ_t s[t, b, c]``.
* ``accuracy_temporal``: the predicted class is the output that fires first,
  ``argmin_c t_first[b, c]`` (a silent output counts as firing at ``T − 1``).

Both return the fraction of correct predictions as a NumPy float, like snnTorch.

Example::

    >>> import torch
    >>> from spikeforge import functional as SF
    >>> spk = torch.tensor([[[0.0, 1.0]], [[1.0, 1.0]]])  # [T=2, B=1, C=2]
    >>> float(SF.accuracy_rate(spk, torch.tensor([1])))
    1.0
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ._checks import check_labels, check_record, first_spike_times, population_counts

__all__ = ["accuracy_rate", "accuracy_temporal"]


def _fraction_correct(predicted: Tensor, labels: Tensor) -> np.floating:
    return np.mean((predicted == labels).detach().cpu().numpy())


def accuracy_rate(
    spk_out: Tensor, targets: Tensor, population_code: bool = False, num_classes: int | bool = False
) -> np.floating:
    """Fraction of samples whose most-active output (or group) is the label."""
    spk_out = check_record("spk_out", spk_out)
    counts = population_counts(spk_out, num_classes) if population_code else spk_out.sum(0)
    labels = check_labels(targets, spk_out.shape[1], counts.shape[-1])
    return _fraction_correct(counts.argmax(1), labels)


def accuracy_temporal(spk_out: Tensor, targets: Tensor) -> np.floating:
    """Fraction of samples whose first-firing output is the label."""
    spk_out = check_record("spk_out", spk_out)
    labels = check_labels(targets, spk_out.shape[1], spk_out.shape[-1])
    return _fraction_correct(first_spike_times(spk_out).argmin(1), labels)
