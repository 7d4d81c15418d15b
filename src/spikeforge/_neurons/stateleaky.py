"""``snntorch._neurons.stateleaky``: re-exports ``StateLeaky`` from ``spikeforge.neurons``."""

from ..neurons import StateLeaky

__all__ = ["StateLeaky"]
