"""The LIF family: Leaky (and IAF), Synaptic, Lapicque, RLeaky and RSynaptic as one
recurrence with flags (``flags.py``), run by one op pair (``op.py``) on the backend
``registry.select`` chose, or by each member's readable reference (``reference.py``).

``<MEMBER>.step(x, state, params, cfg, backend)`` / ``.scan(...)`` take the member's state
tuple and parameters in the order below; ``RLEAKY_DENSE`` / ``RSYNAPTIC_DENSE`` (an
``nn.Linear`` recurrence) run on ``ops.dense``.
"""

from __future__ import annotations

from ..dense import rleaky_dense_scan, rsynaptic_dense_scan
from . import flags, reference
from .lapicque import lapicque_args
from .members import DenseMember, Member

__all__ = ["LAPICQUE", "LEAKY", "RLEAKY", "RLEAKY_DENSE", "RSYNAPTIC", "RSYNAPTIC_DENSE",
           "SYNAPTIC"]  # fmt: skip


def _leaky_args(x, state, params):
    beta, thr, graded = params
    return (x, None, state[0], None, None, beta.clamp(0, 1), None, thr, graded)


def _synaptic_args(x, state, params):
    alpha, beta, thr, graded = params
    syn, mem = state
    return (x, syn, mem, None, alpha.clamp(0, 1), beta.clamp(0, 1), None, thr, graded)


def _rleaky_args(x, state, params):
    beta, thr, graded, v = params
    spk, mem = state
    return (x, None, mem, spk, None, beta.clamp(0, 1), v, thr, graded)


def _rsynaptic_args(x, state, params):
    alpha, beta, thr, graded, v = params
    spk, syn, mem = state
    return (x, syn, mem, spk, alpha.clamp(0, 1), beta.clamp(0, 1), v, thr, graded)


R = reference
_RLEAKY = ("spk", "mem"), _rleaky_args, R.rleaky_step, R.rleaky_scan
_RSYNAPTIC = ("spk", "syn", "mem"), _rsynaptic_args, R.rsynaptic_step, R.rsynaptic_scan
LEAKY = Member("leaky", flags.LEAKY, ("mem",), _leaky_args, R.leaky_step, R.leaky_scan)
SYNAPTIC = Member("synaptic", flags.SYNAPTIC, ("syn", "mem"), _synaptic_args, R.synaptic_step,
                  R.synaptic_scan)  # fmt: skip
LAPICQUE = Member("lapicque", flags.LAPICQUE, ("mem",), lapicque_args, R.lapicque_step,
                  R.lapicque_scan)  # fmt: skip
RLEAKY = Member("rleaky", flags.RLEAKY, *_RLEAKY)
RSYNAPTIC = Member("rsynaptic", flags.RSYNAPTIC, *_RSYNAPTIC)
RLEAKY_DENSE = DenseMember("rleaky_dense", flags.RLEAKY, *_RLEAKY, dense=rleaky_dense_scan)
RSYNAPTIC_DENSE = DenseMember("rsynaptic_dense", flags.RSYNAPTIC, *_RSYNAPTIC,
                              dense=rsynaptic_dense_scan)  # fmt: skip
