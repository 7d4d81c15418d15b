"""``snntorch._layers.graded_spikes``: re-exports ``GradedSpikes``."""

from .. import GradedSpikes

__all__ = ["GradedSpikes"]
