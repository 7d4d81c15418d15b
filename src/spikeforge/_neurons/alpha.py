"""``snntorch._neurons.alpha``: re-exports ``Alpha`` from ``spikeforge.neurons``."""

from ..neurons import Alpha

__all__ = ["Alpha"]
