"""``snntorch._layers.bntt``: re-exports ``BatchNormTT1d`` and ``BatchNormTT2d``."""

from .. import BatchNormTT1d, BatchNormTT2d

__all__ = ["BatchNormTT1d", "BatchNormTT2d"]
