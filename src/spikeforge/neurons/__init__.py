"""snnTorch-compatible stateful neurons."""

from ._base import LIF, SpikingNeuron
from .iaf import IAF
from .leaky import Leaky, LeakyState
from .refractory import GradedRefractory, GradedRefractoryState

__all__ = [
    "IAF",
    "LIF",
    "GradedRefractory",
    "GradedRefractoryState",
    "Leaky",
    "LeakyState",
    "SpikingNeuron",
]
