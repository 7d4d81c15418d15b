"""``snntorch._neurons.rsynaptic``: re-exports ``RSynaptic`` from ``spikeforge.neurons``."""

from ..neurons import RSynaptic

__all__ = ["RSynaptic"]
