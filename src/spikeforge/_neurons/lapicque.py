"""``snntorch._neurons.lapicque``: re-exports ``Lapicque`` from ``spikeforge.neurons``."""

from ..neurons import Lapicque

__all__ = ["Lapicque"]
