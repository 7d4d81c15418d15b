"""``snntorch._neurons.deltaleaky``: re-exports ``DeltaLeaky`` from ``spikeforge.neurons``."""

from ..neurons import DeltaLeaky

__all__ = ["DeltaLeaky"]
