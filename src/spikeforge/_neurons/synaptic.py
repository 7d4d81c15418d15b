"""``snntorch._neurons.synaptic``: re-exports ``Synaptic`` from ``spikeforge.neurons``."""

from ..neurons import Synaptic

__all__ = ["Synaptic"]
