"""A member of the LIF family: its flags, its state, how its parameters map onto the
op's, and its reference. ``Member`` gives every member the two paths a ``Recurrence``
needs, with one signature: the reference and the fused op (``op.lif_run``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import registry
from ..codes import RESET_CODES
from ..common.args import recurrent_fn
from ..config import NeuronConfig
from ..registry import Recurrence
from .flags import REC
from .op import lif_fused, op_tensors

__all__ = ["DenseMember", "Member"]


@dataclass(frozen=True)
class Member(Recurrence):
    """A ``Recurrence`` of the family. ``args(x, state, params)`` gives the op's
    ``(x, syn, mem, spk, α, β, v, θ, g)`` (None for what the member lacks);
    ``ref_step``/``ref_scan(x, *state, *params, cfg)`` (``reference.py``) return ``(spk,
    *the states other than spk)``, sequences for the scan."""

    op: str
    model: int
    state_names: tuple[str, ...]
    args: Callable[..., tuple]
    ref_step: Callable[..., tuple]
    ref_scan: Callable[..., tuple]

    def _reference_args(self, params: tuple) -> tuple:
        """A recurrent member's reference takes ``rec`` as a callable (``V`` -> ``S·V``)."""
        return (*params[:-1], recurrent_fn(params[-1])) if self.model & REC else params

    def _states(self, spk: Tensor, others) -> tuple[Tensor, ...]:
        rest = iter(others)
        return tuple(spk if n == "spk" else next(rest) for n in self.state_names)

    def step(self, x: Tensor, state: tuple, params: tuple, cfg: NeuronConfig, backend: str):
        if backend == "reference":
            spk, *others = self.ref_step(x, *state, *self._reference_args(params), cfg)
            return spk, self._states(spk, others)
        fast = registry.fast_step(self.op, backend)
        if fast is not None:
            plan = fast.plan_step(x, state, params, cfg)
            if plan is not None:
                return fast.run(x, state, plan)
        spk, seqs, _ = self.scan(x[None], state, params, cfg, backend, True)
        return spk[0], tuple(s[0] for s in seqs)

    def scan(self, x: Tensor, state: tuple, params: tuple, cfg: NeuronConfig, backend: str,
             need_seqs: bool):  # fmt: skip
        if backend == "reference":
            spk, *others = self.ref_scan(x, *state, *self._reference_args(params), cfg)
            seqs = self._states(spk, others)
            return spk, seqs, tuple(s[-1] for s in seqs)
        args = op_tensors(self.model, *self.args(x, state, params))
        T, shape = x.shape[0], state[-1].shape
        store = need_seqs or T == 1 or (
            torch.is_grad_enabled() and any(t.requires_grad for t in args)
        )  # fmt: skip
        sg = (*cfg.spike_fn.params(), 0.0, 0.0)
        spk, iseq, useq, _ = lif_fused(
            *args, self.model, RESET_CODES[cfg.reset], cfg.reset_delay, store,
            cfg.spike_fn.kind, sg[0], sg[1], backend,
        )  # fmt: skip
        spk = spk.view(T, *shape)
        seqs = [s.view(s.shape[0], *shape) for s in (iseq, useq) if s.shape[0]]
        finals = [s[-1].clone() if store and T > 1 else s[-1] for s in seqs]
        last = spk[-1]  # a state only of the recurrent members: copied only for them
        if self.model & REC and T > 1:
            last = last.clone()  # do not keep the spike sequence alive through the state
        if not need_seqs:
            return spk, None, self._states(last, finals)
        return spk, self._states(spk, seqs), self._states(last, finals)


@dataclass(frozen=True)
class DenseMember(Member):
    """RLeaky / RSynaptic with an ``nn.Linear`` recurrence: the fused path is ``dense``
    (``ops.dense``: ``(x, *state, *params, cfg, need_seqs=) -> (spk, *state sequences
    other than spk, *final states)``)."""

    dense: Callable[..., tuple] | None = None

    def scan(self, x, state, params, cfg, backend, need_seqs):
        if backend == "reference":
            return super().scan(x, state, params, cfg, backend, need_seqs)
        out = self.dense(x, *state, *params, cfg, need_seqs=need_seqs)
        k = len(self.state_names)
        spk = out[0]
        return spk, self._states(spk, out[1:k]) if need_seqs else None, tuple(out[k:])
