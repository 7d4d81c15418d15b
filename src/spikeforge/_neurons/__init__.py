"""snnTorch's private ``snntorch._neurons`` package, as thin re-exports of
``spikeforge.neurons`` (snnTorch code imports e.g. ``snntorch._neurons.leaky``).

Each submodule re-exports the class snnTorch defines there; nothing is defined here.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from .. import neurons

    try:
        return getattr(neurons, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
