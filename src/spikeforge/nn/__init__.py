"""Multi-step helpers: fold time into batch for stateless layers, switch step modes.
Layers beside the neurons: batch norm through time, graded spikes."""

from .bntt import BatchNormTT1d, BatchNormTT2d
from .graded_spikes import GradedSpikes
from .multistep import SeqToANN, set_step_mode

__all__ = ["BatchNormTT1d", "BatchNormTT2d", "GradedSpikes", "SeqToANN", "set_step_mode"]
