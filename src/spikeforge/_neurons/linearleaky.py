"""``snntorch._neurons.linearleaky``: re-exports ``LinearLeaky`` from ``spikeforge.neurons``."""

from ..neurons import LinearLeaky

__all__ = ["LinearLeaky"]
