"""The dense recurrence ``rec(S) = S Wᵀ + b`` (an ``nn.Linear``) of RLeaky and RSynaptic:
one pair of ``torch.library`` ops with a hand-written BPTT (``recurrence.py``)."""

from __future__ import annotations

from .recurrence import rleaky_dense_scan, rsynaptic_dense_scan

__all__ = ["rleaky_dense_scan", "rsynaptic_dense_scan"]
