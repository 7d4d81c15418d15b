"""Learning-rate schedules of ``spikeforge train``, stepped once per batch.

With ``K`` batches in the whole run and ``p = k / K`` the fraction done before batch ``k``,
the learning rate of batch ``k`` is ``lr · f(k)``:

* ``constant``: ``f = 1``.
* ``cosine``: ``f = (1 + cos(π p)) / 2``, from 1 down to 0.
* ``onecycle``: a linear warm-up from ``1/25`` to 1 over the first quarter,
  ``f = 1/25 + (1 − 1/25) · p / 0.25``, then a cosine decay to 0 over the rest,
  ``f = (1 + cos(π (p − 0.25) / 0.75)) / 2``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["SCHEDULES", "WARMUP_FRACTION", "WARMUP_START", "lr_factor", "make_scheduler"]

SCHEDULES = ("constant", "cosine", "onecycle")
WARMUP_FRACTION = 0.25  # onecycle: the share of the batches spent warming up
WARMUP_START = 1 / 25  # onecycle: the first batch's learning rate, as a fraction of the peak


def lr_factor(schedule: str, step: int, total: int) -> float:
    """``f(k)``: the learning rate of batch ``step`` (from 0) of ``total``, relative to ``lr``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    if not isinstance(total, int) or total <= 0:
        raise ValueError(f"total must be a positive number of batches, got {total!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    done = min(step, total) / total
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * done))
    if done < WARMUP_FRACTION:
        return WARMUP_START + (1 - WARMUP_START) * done / WARMUP_FRACTION
    decay = (done - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)
    return 0.5 * (1 + math.cos(math.pi * decay))


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total: int
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """A per-batch scheduler for ``schedule`` over ``total`` batches (``None`` if constant).

    Building it sets the optimiser's learning rate to that of batch 0; call ``step()``
    after each ``optimizer.step()``.
    """
    lr_factor(schedule, 0, total)  # validates the arguments
    if schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lr_factor(schedule, k, total))
