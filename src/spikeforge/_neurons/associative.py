"""``snntorch._neurons.associative``: re-exports ``AssociativeLeaky``."""

from ..neurons import AssociativeLeaky

__all__ = ["AssociativeLeaky"]
