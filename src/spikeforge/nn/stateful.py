"""The ``reset_state()`` protocol: every module that keeps state between calls has it.

``utils.reset(net)`` and ``convert.reset_neurons(net)`` walk ``net.modules()`` and reset
each module that has ``reset_state()``: the spiking neurons (zero and detach the hidden
state), the NIR readouts of :mod:`spikeforge.nir.modules` (zero ``mem``/``syn``),
``SynapticDelay`` (empty its ring buffer) and ``NIRGraphModule`` (forget the values held
on its back edges). A new stateful module joins by defining the method; each one resets
only its own state (its children are visited separately). After ``reset_state()`` the next
call gives what a freshly built module gives.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn

__all__ = ["Stateful", "stateful_modules"]


@runtime_checkable
class Stateful(Protocol):
    """A module whose ``reset_state()`` returns it to its state before the first call."""

    def reset_state(self) -> None: ...


def stateful_modules(net: nn.Module) -> list[nn.Module]:
    """Every module inside ``net`` (``net`` included) that has ``reset_state()``."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    return [m for m in net.modules() if isinstance(m, Stateful)]
