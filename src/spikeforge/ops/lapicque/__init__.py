"""Lapicque's RC neuron (Euler step), run on the Leaky and Synaptic ops.

``LAPICQUE.step`` / ``LAPICQUE.scan`` run it with ``state = (mem,)`` and
``params = (R, C, time_step, threshold, graded)``.
"""

from __future__ import annotations

from ..registry import Recurrence
from .op import lapicque_scan_fused, lapicque_step_fused
from .reference import lapicque_scan, lapicque_step

__all__ = ["LAPICQUE"]


def _reference_step(x, state, params, cfg, backend):
    spk, mem = lapicque_step(x, state[0], *params, cfg)
    return spk, (mem,)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem_seq = lapicque_scan(x, state[0], *params, cfg)
    return spk, (mem_seq,), (mem_seq[-1],)


def _fused_step(x, state, params, cfg, backend):
    spk, mem = lapicque_step_fused(x, state[0], *params, cfg, backend)
    return spk, (mem,)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem_seq, mem = lapicque_scan_fused(
        x, state[0], *params, cfg, backend, need_mem_seq=need_seqs
    )
    return spk, (mem_seq,) if need_seqs else None, (mem,)


LAPICQUE = Recurrence("lapicque", _reference_step, _reference_scan, _fused_step, _fused_scan)
