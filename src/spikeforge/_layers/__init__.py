"""snnTorch's private ``snntorch._layers`` package, as thin re-exports of spikeforge's
top-level layers (``bntt``: ``BatchNormTT1d``/``BatchNormTT2d``; ``graded_spikes``:
``GradedSpikes``). Nothing is defined here.
"""

from __future__ import annotations

from typing import Any

_NAMES = ("BatchNormTT1d", "BatchNormTT2d", "GradedSpikes")


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        import spikeforge

        return getattr(spikeforge, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
