"""``snntorch._neurons.slstm``: re-exports ``SLSTM`` from ``spikeforge.neurons``."""

from ..neurons import SLSTM

__all__ = ["SLSTM"]
