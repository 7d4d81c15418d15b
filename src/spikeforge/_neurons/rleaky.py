"""``snntorch._neurons.rleaky``: re-exports ``RLeaky`` from ``spikeforge.neurons``."""

from ..neurons import RLeaky

__all__ = ["RLeaky"]
