"""RSynaptic: Synaptic with a recurrent input ``rec(S_{t−1})`` into the current.

``RSYNAPTIC`` runs the one-to-one recurrence (``rec`` = weights ``V``) on the fused op,
``RSYNAPTIC_DENSE`` the dense one (``rec`` = an ``nn.Linear``) on its torch op; a
convolutional ``rec`` runs on the reference. ``state = (spk, syn, mem)``,
``params = (alpha, beta, threshold, graded, rec)``.
"""

from __future__ import annotations

from ..common.args import recurrent_fn
from ..dense import rsynaptic_dense_scan
from ..registry import Recurrence
from .op import rsynaptic_scan_fused, rsynaptic_step_fused
from .reference import rsynaptic_scan, rsynaptic_step

__all__ = ["RSYNAPTIC", "RSYNAPTIC_DENSE"]


def _reference_step(x, state, params, cfg, backend):
    out = rsynaptic_step(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)
    return out[0], tuple(out)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, syn, mem = rsynaptic_scan(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)
    return spk, (spk, syn, mem), (spk[-1], syn[-1], mem[-1])


def _fused_step(x, state, params, cfg, backend):
    out = rsynaptic_step_fused(x, *state, *params, cfg, backend)
    return out[0], tuple(out)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    spk, syn, mem, *finals = rsynaptic_scan_fused(x, *state, *params, cfg, backend, need_seqs)
    return spk, (spk, syn, mem) if need_seqs else None, tuple(finals)


def _dense_step(x, state, params, cfg, backend):
    out = rsynaptic_dense_scan(x[None], *state, *params, cfg)[3:]
    return out[0], tuple(out)


def _dense_scan(x, state, params, cfg, backend, need_seqs):
    spk, syn, mem, *finals = rsynaptic_dense_scan(x, *state, *params, cfg, need_seqs=need_seqs)
    return spk, (spk, syn, mem) if need_seqs else None, tuple(finals)


RSYNAPTIC = Recurrence("rsynaptic", _reference_step, _reference_scan, _fused_step, _fused_scan)
RSYNAPTIC_DENSE = Recurrence(
    "rsynaptic_dense", _reference_step, _reference_scan, _dense_step, _dense_scan
)
