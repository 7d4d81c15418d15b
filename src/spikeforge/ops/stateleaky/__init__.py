"""StateLeaky's causal exponential filter: the O(T²) reference and the O(T) chunked scan."""

from .chunked import decay_filter
from .reference import decay_filter_reference, decay_rate

__all__ = ["decay_filter", "decay_filter_reference", "decay_rate"]
