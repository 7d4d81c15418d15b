"""The configuration every recurrence shares, and the spike/reset helpers of its reference.

Notation used throughout: ``H(x) = (x > 0)`` (strict), ``θ`` the threshold, ``g`` the graded
spike factor, ``R_t = H(U_{t-1} − θ)`` the detached reset signal taken from the previous
membrane (snnTorch's convention).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..surrogate import ATan
from .codes import RESET_MODES

ResetMode = Literal["subtract", "zero", "none"]

__all__ = [
    "RESET_MODES",
    "NeuronConfig",
    "ResetMode",
    "fire",
    "immediate_reset",
    "keep_unfired",
    "reset_signal",
    "reset_updated",
]


@dataclass(frozen=True)
class NeuronConfig:
    """Static (non-tensor) options of a recurrence.

    Attributes:
        spike_fn: the surrogate spike function (``x -> H(x)`` with a surrogate backward).
        reset: ``"subtract"``, ``"zero"`` or ``"none"``.
        reset_delay: if False, a spike resets the membrane in the same step.
        state_quant: optional quantiser applied to the state after each update.
        inhibition: if True only the neuron with the largest membrane (dim 1) may spike.
    """

    spike_fn: Callable[[Tensor], Tensor] = ATan()  # noqa: RUF009 (a frozen value)
    reset: ResetMode = "subtract"
    reset_delay: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None
    inhibition: bool = False

    def __post_init__(self) -> None:
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset_mechanism must be one of {RESET_MODES}, got {self.reset!r}")


def reset_signal(mem: Tensor, threshold: Tensor, cfg: NeuronConfig) -> Tensor:
    """``R = H(U − θ)``, detached: the reset carries no gradient."""
    return cfg.spike_fn(mem - threshold).detach()


def fire(mem: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig) -> Tensor:
    """``S = H(q(U) − θ) · g`` with surrogate gradient; winner-take-all if inhibited."""
    if cfg.state_quant is not None:
        mem = cfg.state_quant(mem)
    spk = cfg.spike_fn(mem - threshold)
    if cfg.inhibition:
        winner = torch.zeros_like(spk)
        winner.scatter_(1, torch.argmax(mem - threshold, dim=1, keepdim=True), 1.0)
        spk = spk * winner
    return spk * graded


def keep_unfired(value: Tensor, reset: Tensor) -> Tensor:
    """``(1 − R)·value`` written as a mask, so an infinite membrane that fired becomes 0
    rather than ``0·inf = NaN``. Same gradient: ``1 − R`` (``R`` is detached)."""
    return value.masked_fill(reset > 0, 0)


def reset_updated(mem: Tensor, reset: Tensor, threshold: Tensor, cfg: NeuronConfig) -> Tensor:
    """Reset applied to the freshly updated membrane: ``U − R·θ`` (subtract),
    ``(1 − R)·U`` (zero), ``U`` (none). Leaky's zero mode differs (it zeroes before decay)."""
    if cfg.reset == "subtract":
        return mem - reset * threshold
    if cfg.reset == "zero":
        return keep_unfired(mem, reset)
    return mem


def immediate_reset(
    mem: Tensor, spk: Tensor, reset: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig
) -> Tensor:
    """``reset_delay=False``: apply this step's spike at once, minus the reset already applied.

    ``d = S/g − R``; subtract: ``U −= d·θ``; zero: ``U −= d·U``.
    """
    do_reset = spk / graded - reset
    if cfg.reset == "subtract":
        return mem - do_reset * threshold
    if cfg.reset == "zero":
        return mem - do_reset * mem
    return mem
