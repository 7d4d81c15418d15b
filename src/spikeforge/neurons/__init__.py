"""snnTorch-compatible stateful neurons."""

from ._base import LIF, SpikingNeuron
from .alpha import Alpha, AlphaState
from .iaf import IAF
from .lapicque import Lapicque, LapicqueState
from .leaky import Leaky, LeakyState
from .refractory import GradedRefractory, GradedRefractoryState
from .synaptic import Synaptic, SynapticState

__all__ = [
    "IAF",
    "LIF",
    "Alpha",
    "AlphaState",
    "GradedRefractory",
    "GradedRefractoryState",
    "Lapicque",
    "LapicqueState",
    "Leaky",
    "LeakyState",
    "SpikingNeuron",
    "Synaptic",
    "SynapticState",
]
