"""The numba kernel configurations the default suite compiles; the others run in
``make test-slow``. Every numba kernel compiles per (model, reset, delay) (``ops/lif/cpu.py``),
a few seconds each on a cold cache, so the default suite takes two configurations per
member, chosen so every reset × delay combination appears."""

from __future__ import annotations

import pytest

COMBOS = [(0, True), (1, True), (2, True), (0, False), (1, False), (2, False)]
RESET_NAMES = ("subtract", "zero", "none")
MEMBERS = ("leaky", "lapicque", "synaptic", "rleaky", "rsynaptic")


def default_cpu_config(member: str, reset: int | str, delay: bool) -> bool:
    """Whether the default suite compiles this configuration (``iaf`` counts as ``leaky``)."""
    m = MEMBERS.index("leaky" if member == "iaf" else member)
    code = RESET_NAMES.index(reset) if isinstance(reset, str) else reset
    chosen = {COMBOS[(2 * m) % 6], COMBOS[(2 * m + 1) % 6], (0, True)}
    return (code, bool(delay)) in chosen


def slow_unless_default(member: str, reset: int | str, delay: bool) -> tuple:
    """``marks`` for a ``pytest.param`` of a numba case: slow outside the default set."""
    return () if default_cpu_config(member, reset, delay) else (pytest.mark.slow,)
