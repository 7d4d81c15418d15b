"""``snntorch._neurons.leakyparallel``: re-exports ``LeakyParallel`` from ``spikeforge.neurons``."""

from ..neurons import LeakyParallel

__all__ = ["LeakyParallel"]
