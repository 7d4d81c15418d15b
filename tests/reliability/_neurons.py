"""One small, firing configuration of every neuron class, with an input that fits it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

import spikeforge as snn


@dataclass(frozen=True)
class NeuronCase:
    """``make(**overrides)`` builds ``cls(**defaults, **overrides)``; ``input_shape`` is one
    step's input ``[B, ...]``; ``decays`` names its fixed decay rates (must lie in [0, 1])."""

    name: str
    defaults: dict[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] = (2, 5)
    decays: tuple[str, ...] = ()

    @property
    def cls(self) -> type[nn.Module]:
        return getattr(snn, self.name)

    def make(self, **overrides: Any) -> nn.Module:
        return self.cls(**{**self.defaults, **overrides})

    def input(self, batch: int = 2, dtype=torch.float32, generator=None, steps=None) -> Tensor:
        shape = (batch, *self.input_shape[1:])
        if steps is not None:
            shape = (steps, *shape)
        return (torch.rand(shape, generator=generator, dtype=torch.float64) * 1.5).to(dtype)


CASES = [
    NeuronCase("Leaky", {"beta": 0.8}, decays=("beta",)),
    NeuronCase("IAF"),
    NeuronCase("Synaptic", {"alpha": 0.7, "beta": 0.8}, decays=("alpha", "beta")),
    NeuronCase("Alpha", {"alpha": 0.9, "beta": 0.8}, decays=("alpha", "beta")),
    NeuronCase("Lapicque", {"beta": 0.8}),
    NeuronCase("GradedRefractory", {"threshold": 0.5}, decays=("decay_multiplier",)),
    NeuronCase("RLeaky", {"beta": 0.8, "linear_features": 5}, decays=("beta",)),
    NeuronCase(
        "RSynaptic", {"alpha": 0.7, "beta": 0.8, "linear_features": 5}, decays=("alpha", "beta")
    ),
    NeuronCase("SLSTM", {"input_size": 5, "hidden_size": 4}),
    NeuronCase(
        "SConv2dLSTM", {"in_channels": 2, "out_channels": 3, "kernel_size": 3}, (2, 2, 4, 4)
    ),
]
IDS = [c.name for c in CASES]
BY_NAME = {c.name: c for c in CASES}
