"""Leaky (and IAF, ``β = 1``): ``U_t = β U_{t−1} + X_t − R_t θ``, ``S_t = g H(U_t − θ)``.

``LEAKY.step`` / ``LEAKY.scan`` run it with ``state = (mem,)`` and
``params = (beta, threshold, graded)`` on the backend ``registry.select`` chose.
"""

from __future__ import annotations

from ..registry import Recurrence
from .op import leaky_scan_fused, leaky_step_fused
from .reference import leaky_scan, leaky_step

__all__ = ["LEAKY"]


def _reference_step(x, state, params, cfg, backend):
    spk, mem = leaky_step(x, state[0], *params, cfg)
    return spk, (mem,)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem_seq = leaky_scan(x, state[0], *params, cfg)
    return spk, (mem_seq,), (mem_seq[-1],)


def _fused_step(x, state, params, cfg, backend):
    spk, mem = leaky_step_fused(x, state[0], *params, cfg, backend)
    return spk, (mem,)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem_seq, mem = leaky_scan_fused(x, state[0], *params, cfg, backend, need_seqs)
    return spk, (mem_seq,) if need_seqs else None, (mem,)


LEAKY = Recurrence("leaky", _reference_step, _reference_scan, _fused_step, _fused_scan)
