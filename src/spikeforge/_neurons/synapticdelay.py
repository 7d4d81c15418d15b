"""``snntorch._neurons.synapticdelay`` (snnTorch after 1.0.0): re-exports ``SynapticDelay``."""

from ..neurons import SynapticDelay

__all__ = ["SynapticDelay"]
