"""snnTorch-compatible stateful neurons."""

from ._base import LIF, SpikingNeuron
from .leaky import Leaky, LeakyState

__all__ = ["LIF", "Leaky", "LeakyState", "SpikingNeuron"]
