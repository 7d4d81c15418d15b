"""``snntorch._neurons.leaky``: re-exports ``Leaky`` from ``spikeforge.neurons``."""

from ..neurons import Leaky

__all__ = ["Leaky"]
