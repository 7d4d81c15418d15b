"""RLeaky: Leaky with a recurrent input ``rec(S_{t−1})``.

``RLEAKY`` runs the one-to-one recurrence (``rec`` = weights ``V``) on the fused op,
``RLEAKY_DENSE`` the dense one (``rec`` = an ``nn.Linear``) on its torch op; a
convolutional ``rec`` runs on the reference. ``state = (spk, mem)``,
``params = (beta, threshold, graded, rec)``.
"""

from __future__ import annotations

from ..common.args import recurrent_fn
from ..dense import rleaky_dense_scan
from ..registry import Recurrence
from .op import rleaky_scan_fused, rleaky_step_fused
from .reference import rleaky_scan, rleaky_step

__all__ = ["RLEAKY", "RLEAKY_DENSE"]


def _reference_step(x, state, params, cfg, backend):
    spk, mem = rleaky_step(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)
    return spk, (spk, mem)


def _reference_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem = rleaky_scan(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)
    return spk, (spk, mem), (spk[-1], mem[-1])


def _fused_step(x, state, params, cfg, backend):
    spk, mem = rleaky_step_fused(x, *state, *params, cfg, backend)
    return spk, (spk, mem)


def _fused_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem, spk_t, mem_t = rleaky_scan_fused(x, *state, *params, cfg, backend, need_seqs)
    return spk, (spk, mem) if need_seqs else None, (spk_t, mem_t)


def _dense_step(x, state, params, cfg, backend):
    *_, spk, mem = rleaky_dense_scan(x[None], *state, *params, cfg)
    return spk, (spk, mem)


def _dense_scan(x, state, params, cfg, backend, need_seqs):
    spk, mem, spk_t, mem_t = rleaky_dense_scan(x, *state, *params, cfg, need_seqs=need_seqs)
    return spk, (spk, mem) if need_seqs else None, (spk_t, mem_t)


RLEAKY = Recurrence("rleaky", _reference_step, _reference_scan, _fused_step, _fused_scan)
RLEAKY_DENSE = Recurrence(
    "rleaky_dense", _reference_step, _reference_scan, _dense_step, _dense_scan
)
