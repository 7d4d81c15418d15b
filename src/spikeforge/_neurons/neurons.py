"""``snntorch._neurons.neurons``: re-exports ``SpikingNeuron`` and ``LIF``."""

from ..neurons import LIF, SpikingNeuron

__all__ = ["LIF", "SpikingNeuron"]
