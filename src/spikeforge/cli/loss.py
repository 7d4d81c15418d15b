"""The training losses of ``spikeforge train`` (also what ``evaluate`` reports)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .model import Record
from .options import TrainConfig

__all__ = ["make_loss"]


def make_loss(config: TrainConfig):
    """``loss(record, labels) -> scalar`` for ``config.loss``.

    ``membrane`` (snnTorch tutorial 5): the cross-entropy of the output membrane summed over
    the steps, ``L = Σ_t CE(U_t, y)``; ``rate`` and ``count`` are spikeforge.functional's
    ``ce_rate_loss`` and ``mse_count_loss(0.8, 0.2)`` on the output spikes.
    """
    if config.loss == "membrane":

        def membrane_loss(record: Record, labels: Tensor) -> Tensor:
            mem = record.mems[-1]  # [T, B, C]; Σ_t mean_b CE(U_t, y)
            steps = mem.shape[0]
            return F.cross_entropy(mem.flatten(0, 1), labels.repeat(steps)) * steps

        return membrane_loss
    from .. import functional as SF

    if config.loss == "rate":
        fn = SF.ce_rate_loss()
    elif config.loss == "count":
        fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    else:
        raise ValueError(f"loss must be membrane, rate or count; got {config.loss!r}")
    return lambda record, labels: fn(record.spikes[-1], labels)
