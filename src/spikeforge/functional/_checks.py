"""Shared argument checks and reductions for the losses, accuracies and regularisers."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_record(name: str, record: object, ndim: int | None = 3) -> Tensor:
    """A floating-point recording, time first: ``[T, B, C]`` when ``ndim=3``."""
    if not isinstance(record, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(record).__name__}")
    if not record.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {record.dtype}")
    if ndim is not None and record.dim() != ndim:
        raise ValueError(
            f"`{name}` must have shape [T, B, C] (time first), got shape {tuple(record.shape)}"
        )
    if ndim is None and record.dim() < 3:
        raise ValueError(
            f"`{name}` must have shape [T, B, ...] (time, batch, neurons), "
            f"got shape {tuple(record.shape)}"
        )
    if record.shape[0] == 0:
        raise ValueError(f"`{name}` has no time steps (shape {tuple(record.shape)})")
    return record


def check_labels(targets: object, batch: int, num_classes: int) -> Tensor:
    """Class indices ``[B]`` (integer dtype) in ``[0, num_classes)``."""
    if not isinstance(targets, Tensor):
        raise TypeError(f"`targets` must be a torch.Tensor, got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"`targets` must hold integer class indices, got dtype {targets.dtype}")
    if targets.dim() != 1:
        raise ValueError(f"`targets` must have shape [B], got shape {tuple(targets.shape)}")
    if targets.shape[0] != batch:
        raise ValueError(
            f"`targets` has batch size {targets.shape[0]} but the recording has batch size {batch}"
        )
    if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(
            f"`targets` must lie in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got range [{int(targets.min())}, {int(targets.max())}]"
        )
    return targets.long()


def check_rate(name: str, value: float) -> float:
    if not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be a rate in [0, 1], got {value!r}")
    return float(value)


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_weight(weight: object) -> Tensor | None:
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        weight = torch.as_tensor(weight, dtype=torch.get_default_dtype())
    if weight.dim() != 1:
        raise ValueError(f"`weight` must be 1-D (one weight per class), got {tuple(weight.shape)}")
    return weight


def check_weight_size(weight: Tensor | None, num_classes: int) -> None:
    if weight is not None and weight.numel() != num_classes:
        raise ValueError(
            f"`weight` has {weight.numel()} entries but there are {num_classes} classes"
        )


def reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def population_counts(record: Tensor, num_classes: int | bool, over_time: bool = True) -> Tensor:
    """Spikes summed over each class's equal group of outputs (and over time): ``[(T,) B, K]``."""
    if not num_classes or isinstance(num_classes, bool):
        raise ValueError("`num_classes` must be given (a positive int) when population_code=True")
    num_outputs = record.shape[-1]
    if num_outputs % num_classes:
        raise ValueError(
            f"{num_outputs} outputs cannot be split evenly into num_classes={num_classes} groups"
        )
    if over_time:
        record = record.sum(0)
    return record.reshape(*record.shape[:-1], num_classes, num_outputs // num_classes).sum(-1)


def first_spike_times(record: Tensor) -> Tensor:
    """Index of each neuron's first non-zero step along dim 0; ``T − 1`` if it never fires."""
    fired = record != 0
    first = fired.to(torch.uint8).argmax(0)
    never = torch.full_like(first, record.shape[0] - 1)
    return torch.where(fired.any(0), first, never).to(record.dtype)
