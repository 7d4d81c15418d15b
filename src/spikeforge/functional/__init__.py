"""snnTorch's ``functional`` (used as ``SF``): losses, accuracy, regularisers, probes."""

from . import probe
from .probe import (
    AttributeMonitor,
    BaseMonitor,
    GradInputMonitor,
    GradOutputMonitor,
    InputMonitor,
    OutputMonitor,
    unpack_len1_tuple,
)

__all__ = [
    "AttributeMonitor",
    "BaseMonitor",
    "GradInputMonitor",
    "GradOutputMonitor",
    "InputMonitor",
    "OutputMonitor",
    "probe",
    "unpack_len1_tuple",
]
