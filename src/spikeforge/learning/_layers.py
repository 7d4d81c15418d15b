"""Small time-major building blocks shared by the learning rules.

``SpikingDense`` is ``Linear`` followed by ``Leaky`` over a whole sequence:

.. math::
    I_t = W X_t + b, \\qquad (S_t, U_t) = \\mathrm{Leaky}(I_t, U_{t-1}), \\quad U_{-1} = 0

Inputs and outputs are time-major ``[T, B, F]``. The time loop calls ``Leaky.step`` (the
stateless reference step), so the layer holds no hidden state between calls.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..neurons.leaky import Leaky

__all__ = ["RateReadout", "SpikingDense", "check_sequence", "run_neuron"]


def check_sequence(name: str, x: Any, features: int | None = None) -> None:
    """Raise a clear error unless ``x`` is a floating ``[T, B, F]`` tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [T, B, F], got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must be time-major [T, B, F], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if features is not None and x.shape[-1] != features:
        raise ValueError(f"{name} must have {features} features, got {x.shape[-1]}")


def run_neuron(neuron: Leaky, current: Tensor) -> tuple[Tensor, Tensor]:
    """Run a neuron over ``current [T, ...]`` from a zero state: ``(S [T, ...], U [T, ...])``."""
    state = None
    spikes, mems = [], []
    for x in current:
        spk, state = neuron.step(x, state)
        spikes.append(spk)
        mems.append(state.mem)
    return torch.stack(spikes), torch.stack(mems)


class SpikingDense(nn.Module):
    """``Linear -> Leaky`` over a time-major sequence; returns ``(spikes, membrane)``.

    Args:
        in_features, out_features: sizes of the linear map.
        beta: membrane decay of the ``Leaky`` neuron.
        linear: an optional ready-made linear module (e.g. ``FALinear``) used instead of
            a fresh ``nn.Linear``.
        **neuron_kwargs: passed to ``spikeforge.Leaky`` (threshold, spike_grad, learn_beta, …).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        beta: float = 0.9,
        linear: nn.Module | None = None,
        **neuron_kwargs: Any,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.fc = linear if linear is not None else nn.Linear(in_features, out_features)
        self.lif = Leaky(beta=beta, **neuron_kwargs)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_sequence("x", x, self.in_features)
        return run_neuron(self.lif, self.fc(x))


class RateReadout(nn.Module):
    """Logits from a spike train: ``Linear(mean_t S_t)``; input ``[T, B, F]``, output ``[B, C]``."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, spikes: Tensor) -> Tensor:
        check_sequence("spikes", spikes, self.in_features)
        return self.fc(spikes.mean(0))
