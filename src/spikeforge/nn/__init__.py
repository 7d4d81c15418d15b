"""Multi-step helpers: fold time into batch for stateless layers, switch step modes."""

from .multistep import SeqToANN, set_step_mode

__all__ = ["SeqToANN", "set_step_mode"]
