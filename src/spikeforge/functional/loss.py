"""Losses on output recordings ``[T, B, C]`` (time first), with snnTorch 1.0.0's interface.

Each loss is a picklable callable object, ``loss(record, targets)``, with a ``__name__``.
``targets`` are class indices ``[B]``. Writing ``s`` for spikes, ``u`` for membranes, ``y``
for the label and ``N(y)`` for the one-hot row:

* ``ce_rate_loss``: ``(1/T)·Σ_t CE(s[t], y)``; ``ce_count_loss``: ``CE(Σ_t s[t], y)``;
  ``ce_max_membrane_loss``: ``CE(max_t u[t], y)``.
* ``mse_count_loss``: ``MSE(Σ_t s, target)/T`` with target counts ``int(T·correct_rate)`` at the
  label and ``int(T·incorrect_rate)`` elsewhere; ``mse_rate_loss`` (not in snnTorch):
  ``MSE(Σ_t s / T, target_rate)``, target rate ``correct_rate`` at the label, else
  ``incorrect_rate``.
* ``mse_membrane_loss``: ``(1/T)·Σ_t MSE(u[t], on·N(y) + off·(1 − N(y)))``.
* ``mse_temporal_loss``: ``MSE(t_first/T, t_target/T)``; ``ce_temporal_loss``: ``CE(−t_first, y)``
  (or ``1/(t_first+1)``). ``t_first`` is the first step with a non-zero spike, ``T − 1`` for a
  silent neuron, and its gradient is ``−1`` at that step (:class:`SpikeTime`).

``weight`` (one entry per class) scales each sample's loss by ``weight[y]``; then ``"mean"`` is
a plain mean, as in snnTorch (``ce_temporal_loss`` keeps PyTorch's weighted mean).
With ``population_code=True`` the ``C`` outputs are split into ``num_classes`` equal groups
whose spikes are summed.

Example::

    >>> import torch
    >>> from spikeforge import functional as SF
    >>> spk = torch.zeros(4, 1, 2); spk[:, 0, 1] = 1  # neuron 1 fires every step
    >>> round(SF.mse_rate_loss()(spk, torch.tensor([1])).item(), 6)
    0.0
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import (
    check_labels,
    check_rate,
    check_record,
    check_reduction,
    check_weight,
    check_weight_size,
    first_spike_times,
    population_counts,
    reduce,
)

__all__ = [
    "LossFunctions",
    "SpikeTime",
    "ce_count_loss",
    "ce_max_membrane_loss",
    "ce_rate_loss",
    "ce_temporal_loss",
    "mse_count_loss",
    "mse_membrane_loss",
    "mse_rate_loss",
    "mse_temporal_loss",
]


class LossFunctions:
    """Base of the loss classes (snnTorch's name): per-sample (or per-element) losses,
    weighted, then reduced.

    Subclasses implement ``_unreduced(record, targets)``. A subclass written for snnTorch,
    which implements ``_compute_loss(spk_out, targets)`` (reducing by
    ``_intermediate_reduction()`` itself), runs as there: ``_reduce(_compute_loss(...))``.
    """

    def __init__(self, reduction: str = "mean", weight: Tensor | None = None) -> None:
        self.reduction = check_reduction(reduction)
        self.weight = check_weight(weight)
        self.__name__ = type(self).__name__

    def __call__(self, record: Tensor, targets: Tensor) -> Tensor:
        if hasattr(self, "_compute_loss"):  # a subclass written against snnTorch's base
            return self._reduce(self._compute_loss(record, targets))
        record = check_record("record", record)
        return reduce(self._unreduced(record, targets), self.reduction)

    # snnTorch's helpers for subclasses that implement ``_compute_loss``.
    def _prediction_check(self, spk_out: Tensor) -> tuple[torch.device, int, int]:
        """``(device, num_steps, num_outputs)`` of a ``[T, B, C]`` record."""
        return spk_out.device, spk_out.size(0), spk_out.size(-1)

    def _intermediate_reduction(self) -> str:
        """The reduction ``_compute_loss`` applies: ``"none"`` when a weight is given
        (``_reduce`` then takes the mean)."""
        return self.reduction if self.weight is None else "none"

    def _reduce(self, loss: Tensor) -> Tensor:
        if self.weight is not None and self.reduction == "mean":
            return loss.mean()
        return loss

    def __repr__(self) -> str:
        return f"{self.__name__}(reduction={self.reduction!r})"

    def _class_weight(self, labels: Tensor, like: Tensor, num_classes: int) -> Tensor | None:
        """``weight[y]`` shaped ``[B, 1]`` for broadcasting over classes (None without weight)."""
        if self.weight is None:
            return None
        check_weight_size(self.weight, num_classes)
        return self.weight.to(like)[labels].unsqueeze(-1)

    def _nll(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Per-sample ``weight[y]·(−log softmax(logits)[y])``; logits ``[..., B, K]``."""
        num_classes = logits.shape[-1]
        check_weight_size(self.weight, num_classes)
        log_p = torch.log_softmax(logits, dim=-1)
        picked = -log_p.gather(-1, labels.expand(*log_p.shape[:-1]).unsqueeze(-1)).squeeze(-1)
        if self.weight is not None:
            picked = picked * self.weight.to(picked)[labels]
        return picked

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        raise NotImplementedError


class _PopulationLoss(LossFunctions):
    def __init__(self, population_code, num_classes, reduction, weight) -> None:
        super().__init__(reduction, weight)
        self.population_code = population_code
        self.num_classes = num_classes
        if population_code:
            population_counts(torch.zeros(1, 1, num_classes), num_classes)  # checks num_classes

    def _num_classes(self, record: Tensor) -> int:
        return self.num_classes if self.population_code else record.shape[-1]

    def _spike_counts(self, record: Tensor) -> Tensor:
        """Spikes over time per output ``[B, outputs]`` (per class group when pooled)."""
        if self.population_code:
            return population_counts(record, self.num_classes)
        return record.sum(0)


class _RateTargetLoss(_PopulationLoss):
    """A loss against target firing: ``correct_rate`` at the label, ``incorrect_rate`` elsewhere."""

    def __init__(
        self,
        correct_rate=1,
        incorrect_rate=0,
        population_code=False,
        num_classes=False,
        reduction="mean",
        weight=None,
    ):
        super().__init__(population_code, num_classes, reduction, weight)
        self.correct_rate = check_rate("correct_rate", correct_rate)
        self.incorrect_rate = check_rate("incorrect_rate", incorrect_rate)


class ce_rate_loss(_PopulationLoss):
    """Cross-entropy of the spikes at every step, averaged over time: ``(1/T)·Σ_t CE(s[t], y)``.

    With ``population_code`` each step's logits are the spike counts of the class groups.
    """

    def __init__(self, population_code=False, num_classes=False, reduction="mean", weight=None):
        super().__init__(population_code, num_classes, reduction, weight)

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        labels = check_labels(targets, record.shape[1], self._num_classes(record))
        if self.population_code:
            logits = population_counts(record, self.num_classes, over_time=False)
        else:
            logits = record
        return self._nll(logits, labels).mean(0)


class ce_count_loss(_PopulationLoss):
    """Cross-entropy of the spike counts: ``CE(Σ_t s[t], y)``."""

    def __init__(self, population_code=False, num_classes=False, reduction="mean", weight=None):
        super().__init__(population_code, num_classes, reduction, weight)

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        labels = check_labels(targets, record.shape[1], self._num_classes(record))
        counts = self._spike_counts(record)
        return self._nll(counts, labels)


class ce_max_membrane_loss(LossFunctions):
    """Cross-entropy of each output's peak membrane over time: ``CE(max_t u[t], y)``."""

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction, weight)

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        labels = check_labels(targets, record.shape[1], record.shape[-1])
        return self._nll(record.max(0).values, labels)


class mse_count_loss(_RateTargetLoss):
    """``MSE(Σ_t s, target)/T``; target counts ``int(T·rate)`` (times the group size if pooled)."""

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        steps, _, num_outputs = record.shape
        num_classes = self._num_classes(record)
        labels = check_labels(targets, record.shape[1], num_classes)
        group = num_outputs / num_classes if self.population_code else 1
        on = int(steps * self.correct_rate * group)
        off = int(steps * self.incorrect_rate * group)
        counts = self._spike_counts(record)
        goal = torch.full_like(counts, float(off)).scatter(1, labels.unsqueeze(-1), float(on))
        loss = (counts - goal) ** 2
        w = self._class_weight(labels, loss, num_classes)
        return (loss if w is None else loss * w) / steps


class mse_rate_loss(_RateTargetLoss):
    """``MSE(Σ_t s / T, target_rate)``: each output's firing rate against ``correct_rate`` (the
    label) or ``incorrect_rate`` (the others). Not in snnTorch; the first seed calls it.

    With ``population_code`` the rate is a group's mean rate, ``count / (T·group_size)``.
    """

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        steps, _, num_outputs = record.shape
        num_classes = self._num_classes(record)
        labels = check_labels(targets, record.shape[1], num_classes)
        if self.population_code:
            rates = population_counts(record, num_classes) / (steps * num_outputs / num_classes)
        else:
            rates = record.mean(0)
        goal = torch.full_like(rates, self.incorrect_rate)
        goal = goal.scatter(1, labels.unsqueeze(-1), self.correct_rate)
        loss = (rates - goal) ** 2
        w = self._class_weight(labels, loss, num_classes)
        return loss if w is None else loss * w


class mse_membrane_loss(LossFunctions):
    """``(1/T)·Σ_t MSE(u[t], goal)``; goal is ``on_target`` at the label, ``off_target`` elsewhere.

    With ``time_var_targets=True``, ``targets`` is the goal itself, a float ``[T, B, C]`` tensor
    (snnTorch's version of this flag cannot run).
    """

    def __init__(
        self, time_var_targets=False, on_target=1, off_target=0, reduction="mean", weight=None
    ):
        super().__init__(reduction, weight)
        if time_var_targets and self.weight is not None:
            raise ValueError("`weight` needs class labels; it cannot be used with time_var_targets")
        self.time_var_targets = time_var_targets
        self.on_target = on_target
        self.off_target = off_target

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        if self.time_var_targets:
            goal = check_record("targets", targets)
            if goal.shape != record.shape:
                raise ValueError(
                    f"time-varying `targets` must match the recording's shape "
                    f"{tuple(record.shape)}, got {tuple(goal.shape)}"
                )
            return ((record - goal) ** 2).mean(0)
        labels = check_labels(targets, record.shape[1], record.shape[-1])
        goal = torch.full_like(record[0], float(self.off_target))
        goal = goal.scatter(1, labels.unsqueeze(-1), float(self.on_target))
        loss = ((record - goal) ** 2).mean(0)
        w = self._class_weight(labels, loss, record.shape[-1])
        return loss if w is None else loss * w


# ---------------------------------------------------------------------------- spike times
def _keep_spike_times(ctx: Any, spk_rec: Tensor, times: Tensor) -> Tensor:
    """Save the spike steps and the record's shape for ``backward``; returns ``times``."""
    ctx.save_for_backward(times)
    ctx.record_shape = spk_rec.shape
    return times


def _kept_spike_times(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor]:
    """The saved spike steps and a zero gradient shaped like the record."""
    (times,) = ctx.saved_tensors
    return times, grad_output.new_zeros(ctx.record_shape)


class FirstSpike(torch.autograd.Function):
    """``[T, B, N] -> [B, N]`` first-spike step; gradient ``−1`` at that step (sign estimator)."""

    @staticmethod
    def forward(ctx, spk_rec: Tensor, device=None) -> Tensor:
        return _keep_spike_times(ctx, spk_rec, first_spike_times(spk_rec))

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        times, grad = _kept_spike_times(ctx, grad_output)
        grad.scatter_(0, times.long().unsqueeze(0), -grad_output.unsqueeze(0))
        return grad, None


class MultiSpike(torch.autograd.Function):
    """``[T, B, N] -> [F, B, N]``: the steps of each neuron's first ``F`` spikes (``T − 1``
    where it has fewer); gradient ``−1`` at each of those steps."""

    @staticmethod
    def forward(ctx, spk_rec: Tensor, spk_count: int, device=None) -> Tensor:
        remaining = spk_rec.detach().clone()
        found = []
        for _ in range(int(spk_count)):
            times = first_spike_times(remaining)
            index = times.long().unsqueeze(0)
            # remove only that neuron's own spike, so its next spike is found next
            remaining.scatter_(0, index, 0.0)
            found.append(times)
        return _keep_spike_times(ctx, spk_rec, torch.stack(found))

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        times, grad = _kept_spike_times(ctx, grad_output)
        grad.scatter_add_(0, times.long(), -grad_output)
        return grad, None, None


class Tolerance(torch.autograd.Function):
    """Snap spike times within ``tolerance`` of their target onto it; gradient passes through."""

    @staticmethod
    def forward(ctx, spk_time: Tensor, target: Tensor, tolerance: float) -> Tensor:
        close = (spk_time - target).abs() < tolerance
        return torch.where(close, target.to(spk_time).expand_as(spk_time), spk_time)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        return grad_output, None, None


class SpikeTime(nn.Module):
    """First spike times of a recording and the matching target times.

    ``forward(spk_out [T, B, N], targets) -> (spike_times, target_times)``, each ``[B, N]``
    (``[F, B, N]`` with ``multi_spike``). Label targets become ``on_target`` at the label and
    ``off_target`` elsewhere (iterables of ``F`` times with ``multi_spike``); a negative time
    ``t`` means ``T + t``. With ``target_is_time`` the targets are times already.
    """

    FirstSpike = FirstSpike
    MultiSpike = MultiSpike
    Tolerance = Tolerance

    def __init__(
        self, target_is_time=False, on_target=0, off_target=-1, tolerance=0, multi_spike=False
    ):
        super().__init__()
        if tolerance < 0:
            raise ValueError(f"`tolerance` must be >= 0, got {tolerance}")
        self.target_is_time = target_is_time
        self.on_target = on_target
        self.off_target = off_target
        self.tolerance = tolerance
        self.multi_spike = multi_spike

    def forward(self, spk_out: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        spk_out = check_record("spk_out", spk_out)
        steps, batch, num_outputs = spk_out.shape
        if self.target_is_time:
            goal = torch.as_tensor(targets).to(spk_out).clone()
        else:
            goal = self.labels_to_spike_times(
                check_labels(targets, batch, num_outputs), num_outputs
            )
            goal = goal.to(spk_out)
        goal = torch.where(goal < 0, goal + steps, goal)
        if self.multi_spike:
            times = MultiSpike.apply(spk_out, goal.shape[0])
        else:
            times = FirstSpike.apply(spk_out)
        if times.shape != goal.shape:
            raise ValueError(
                f"target times of shape {tuple(goal.shape)} do not match spike times of shape "
                f"{tuple(times.shape)}"
            )
        if self.tolerance:
            times = Tolerance.apply(times, goal, self.tolerance)
        return times, goal

    def labels_to_spike_times(self, targets: Tensor, num_outputs: int) -> Tensor:
        one_hot = F.one_hot(targets.long(), num_outputs).bool()
        if not self.multi_spike:
            return torch.where(one_hot, float(self.on_target), float(self.off_target))
        on, off = list(self.on_target), list(self.off_target)
        if len(on) != len(off):
            raise ValueError(
                f"`on_target` ({len(on)} times) and `off_target` ({len(off)} times) must have "
                "the same length"
            )
        return torch.stack([torch.where(one_hot, float(a), float(b)) for a, b in zip(on, off)])


class mse_temporal_loss(LossFunctions):
    """``MSE(t_first/T, t_target/T)`` over every output (and every spike with ``multi_spike``).

    By default the label's neuron should fire at step 0 and the others at ``T − 1``.
    """

    def __init__(
        self,
        target_is_time=False,
        on_target=0,
        off_target=-1,
        tolerance=0,
        multi_spike=False,
        reduction="mean",
        weight=None,
    ):
        super().__init__(reduction, weight)
        if target_is_time and self.weight is not None:
            raise ValueError("`weight` needs class labels; it cannot be used with target_is_time")
        self.spk_time_fn = SpikeTime(target_is_time, on_target, off_target, tolerance, multi_spike)

    def _unreduced(self, record: Tensor, targets: Tensor) -> Tensor:
        times, goal = self.spk_time_fn(record, targets)
        steps = record.shape[0]
        loss = (times / steps - goal / steps) ** 2
        w = None if self.spk_time_fn.target_is_time else self._class_weight(
            targets.long(), loss, record.shape[-1]
        )  # fmt: skip
        return loss if w is None else loss * w


class ce_temporal_loss(LossFunctions):
    """Cross-entropy with earlier spikes as larger logits: ``CE(−t_first, y)``
    (``inverse="negate"``) or ``CE(1/(t_first+1), y)`` (``inverse="reciprocal"``)."""

    def __init__(self, inverse="negate", reduction="mean", weight=None):
        super().__init__(reduction, weight)
        if inverse not in ("negate", "reciprocal"):
            raise ValueError(f"`inverse` must be 'negate' or 'reciprocal', got {inverse!r}")
        self.inverse = inverse
        self.spk_time_fn = SpikeTime(target_is_time=False)

    def __call__(self, record: Tensor, targets: Tensor) -> Tensor:
        times, _ = self.spk_time_fn(record, targets)
        logits = -times if self.inverse == "negate" else 1 / (times + 1)
        check_weight_size(self.weight, record.shape[-1])
        weight = None if self.weight is None else self.weight.to(logits)
        return F.cross_entropy(logits, targets.long(), weight=weight, reduction=self.reduction)
