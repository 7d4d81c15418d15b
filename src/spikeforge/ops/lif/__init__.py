"""The LIF family: Leaky (and IAF), Synaptic, Lapicque, RLeaky and RSynaptic as one
recurrence with flags (``flags.py``), run by one op pair (``op.py``) on the backend
``registry.select`` chose, or by each member's readable reference (``reference.py``).

``<MEMBER>.step(x, state, params, cfg, backend)`` / ``.scan(...)`` take the member's state
tuple and parameters in the order below; ``RLEAKY_DENSE`` / ``RSYNAPTIC_DENSE`` (an
``nn.Linear`` recurrence) run on ``ops.dense``.
"""

from __future__ import annotations

from ..common.args import recurrent_fn
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


def _recurrent_reference(step, scan):
    """A recurrent member's reference, with its ``rec`` parameter made a callable."""

    def ref_step(x, state, params, cfg):
        return step(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)

    def ref_scan(x, state, params, cfg):
        return scan(x, *state, *params[:-1], recurrent_fn(params[-1]), cfg)

    return ref_step, ref_scan


def _plain_reference(step, scan):
    return (
        lambda x, state, params, cfg: step(x, *state, *params, cfg),
        lambda x, state, params, cfg: scan(x, *state, *params, cfg),
    )


def _recurrence(name, model, state_names, args, ref) -> Member:
    return Member(name, model, state_names, args, *ref)


R = reference
LEAKY = _recurrence("leaky", flags.LEAKY, ("mem",), _leaky_args,
                    _plain_reference(R.leaky_step, R.leaky_scan))  # fmt: skip
SYNAPTIC = _recurrence("synaptic", flags.SYNAPTIC, ("syn", "mem"), _synaptic_args,
                       _plain_reference(R.synaptic_step, R.synaptic_scan))  # fmt: skip
LAPICQUE = _recurrence("lapicque", flags.LAPICQUE, ("mem",), lapicque_args,
                       _plain_reference(R.lapicque_step, R.lapicque_scan))  # fmt: skip
RLEAKY = _recurrence("rleaky", flags.RLEAKY, ("spk", "mem"), _rleaky_args,
                     _recurrent_reference(R.rleaky_step, R.rleaky_scan))  # fmt: skip
RSYNAPTIC = _recurrence("rsynaptic", flags.RSYNAPTIC, ("spk", "syn", "mem"), _rsynaptic_args,
                        _recurrent_reference(R.rsynaptic_step, R.rsynaptic_scan))  # fmt: skip
RLEAKY_DENSE = DenseMember("rleaky_dense", flags.RLEAKY, ("spk", "mem"), _rleaky_args,
                           *_recurrent_reference(R.rleaky_step, R.rleaky_scan),
                           dense=rleaky_dense_scan)  # fmt: skip
RSYNAPTIC_DENSE = DenseMember("rsynaptic_dense", flags.RSYNAPTIC, ("spk", "syn", "mem"),
                              _rsynaptic_args,
                              *_recurrent_reference(R.rsynaptic_step, R.rsynaptic_scan),
                              dense=rsynaptic_dense_scan)  # fmt: skip
