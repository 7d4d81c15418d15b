"""Synaptic: ``I_t = α I_{t−1} + X_t``, ``U_t = β U_{t−1} + I_t − R_t θ``.

``SYNAPTIC.step`` / ``SYNAPTIC.scan`` run it with ``state = (syn, mem)`` and
``params = (alpha, beta, threshold, graded)``.
"""

from __future__ import annotations

from ..registry import Recurrence
from .op import synaptic_scan_fused, synaptic_step_fused
from .reference import synaptic_scan, synaptic_step

__all__ = ["SYNAPTIC"]


def _reference_step(x, state, params, cfg, backend):
    spk, syn, mem = synaptic_step(x, *state, *params, cfg)
    return spk, (syn, mem)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, syn, mem = synaptic_scan(x, *state, *params, cfg)
    return spk, (syn, mem), (syn[-1], mem[-1])


def _fused_step(x, state, params, cfg, backend):
    spk, syn, mem = synaptic_step_fused(x, *state, *params, cfg, backend)
    return spk, (syn, mem)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    spk, syn, mem, syn_t, mem_t = synaptic_scan_fused(x, *state, *params, cfg, backend, need_seqs)
    return spk, (syn, mem) if need_seqs else None, (syn_t, mem_t)


SYNAPTIC = Recurrence("synaptic", _reference_step, _reference_scan, _fused_step, _fused_scan)
