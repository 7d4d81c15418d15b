"""``snntorch._neurons.sconv2dlstm``: re-exports ``SConv2dLSTM`` from ``spikeforge.neurons``."""

from ..neurons import SConv2dLSTM

__all__ = ["SConv2dLSTM"]
