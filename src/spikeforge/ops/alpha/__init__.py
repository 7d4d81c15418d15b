"""Alpha: excitatory and inhibitory synaptic currents and a membrane (three states).

``ALPHA.step`` / ``ALPHA.scan`` run it with ``state = (syn_exc, syn_inh, mem)`` and
``params = (alpha, beta, threshold, graded)``.
"""

from __future__ import annotations

from ..registry import FunctionRecurrence
from .op import alpha_scan_fused, alpha_step_fused
from .reference import alpha_scan, alpha_step

__all__ = ["ALPHA"]


def _reference_step(x, state, params, cfg, backend):
    spk, *new = alpha_step(x, *state, *params, cfg)
    return spk, tuple(new)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, exc, inh, mem = alpha_scan(x, *state, *params, cfg)
    return spk, (exc, inh, mem), (exc[-1], inh[-1], mem[-1])


def _fused_step(x, state, params, cfg, backend):
    spk, *new = alpha_step_fused(x, *state, *params, cfg, backend)
    return spk, tuple(new)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    return alpha_scan_fused(x, *state, *params, cfg, backend, need_seqs=need_seqs)


ALPHA = FunctionRecurrence("alpha", _reference_step, _reference_scan, _fused_step, _fused_scan)
