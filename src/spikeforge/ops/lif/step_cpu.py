"""The CPU backend's single-step fast path for the LIF family: one Leaky (model KEEP,
params ``(beta, thr, graded)``, states ``(mem,)``) or Synaptic (model SYN, params
``(alpha, beta, thr, graded)``, states ``(syn, mem)``) step whose parameters are shared
constants needing no gradient (snnTorch's defaults).

The general op's Python (parameter flattening and clamping, the buffer pool, the generic
autograd wrapper) costs more than one step of a typical layer takes to compute; this path
calls the same numba kernels (``cpu.py``) with ``T = 1`` from a small ``autograd.Function``,
tensors by address (``data_ptr()``), so the numbers are those of the general op. A neuron
keeps its plan between calls (``plan_key`` says when it must make a new one).

``[SYN] I_t = α I_{t−1} + X_t``; ``U_t = β U_{t−1} + (I_t or X_t) − R_t θ`` (or the reset
mode's variant); ``S_t = g H(U_t − θ)``; the backward is the family's BPTT for one step.

Interface (what the neuron shell calls): ``StepCPU(model)`` with ``fits(x, states)``,
``runs(x, params)``, ``plan_key(x, params, options)``, ``plan_step(x, states, params,
cfg)``, ``run(x, states, plan) -> (spk, new_states)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..codes import RESET_CODES, SURROGATE_IDS, surrogate_constants
from ..common.eager import use_custom_op
from ..config import NeuronConfig
from ..registry import ENV_VAR, exporting
from .flags import KEEP, SYN

__all__ = ["StepCPU", "StepPlan"]

_KERNEL_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


@dataclass(frozen=True)
class StepPlan:
    """What the kernels need besides the tensors: the parameters as scalars in the kernel
    dtype (``alpha`` 0 without SYN), the reset code and flag, the surrogate's id and
    constants, and the two kernels."""

    scalars: tuple[np.floating, np.floating, np.floating, np.floating]
    reset: int
    delay: bool
    kind: int
    units: np.ndarray
    consts: np.ndarray
    forward: object
    backward: object


@lru_cache(maxsize=256)
def _constants(spike_fn: Surrogate, np_dtype: type) -> tuple[int, np.ndarray, np.ndarray]:
    kind = spike_fn.kind
    units = surrogate_constants("disabled", (), np_dtype)
    consts = surrogate_constants(kind, (*spike_fn.params(), 0.0, 0.0)[:2], np_dtype)
    return SURROGATE_IDS[kind], units, consts


@lru_cache(maxsize=64)
def _layout(n: int) -> tuple[int, int]:
    """Block size and thread count for ``n`` neurons, fixed at the first step of that size."""
    from . import cpu

    return cpu.step_layout(n)


def _fixed_scalars(params: tuple[Tensor, ...]) -> bool:
    """Every parameter is a single number needing no gradient (runs on every step)."""
    if any(p.numel() != 1 for p in params):
        return False
    return not (torch.is_grad_enabled() and any(p.requires_grad for p in params))


def _address(t: Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


def _rows(t: Tensor | None, n: int, like: np.ndarray) -> np.ndarray:
    """``t`` as a ``[1, n]`` array, or ``[0, n]`` when absent."""
    if t is None:
        return np.empty((0, n), dtype=like.dtype)
    return t.detach().contiguous().view(1, n).numpy()


class StepCPU:
    """The fast path of one model (``KEEP``: Leaky, ``SYN``: Synaptic)."""

    def __init__(self, model: int) -> None:
        if model not in (KEEP, SYN):
            raise ValueError(f"StepCPU serves models {KEEP} (Leaky) and {SYN} (Synaptic)")
        self.model = model
        self.syn = model == SYN
        self.nstates = 2 if self.syn else 1

    def runs(self, x: Tensor, params: tuple[Tensor, ...]) -> bool:
        """A CPU float32/float64 input and parameters that are fixed single numbers."""
        if x.dtype not in _KERNEL_DTYPES or x.device.type != "cpu":
            return False
        return _fixed_scalars(params)

    def fits(self, x: object, states: tuple) -> bool:
        """CPU float32/float64 ``x`` and states of its shape and dtype, all contiguous,
        outside ``torch.compile`` (which needs the registered op) and export."""
        if not (isinstance(x, Tensor) and x.dtype in _KERNEL_DTYPES and x.is_cpu):
            return False
        if not x.is_contiguous() or len(states) != self.nstates:
            return False
        for s in states:
            if not isinstance(s, Tensor) or not s.is_cpu or s.dtype != x.dtype:
                return False
            if s.shape != x.shape or not s.is_contiguous():
                return False
        return not use_custom_op() and not exporting()

    def plan_key(self, x: Tensor, params: tuple[Tensor, ...], options: tuple) -> tuple | None:
        """Everything a plan depends on besides the tensors (parameter values are read each
        call), or None when the parameters rule this path out."""
        if not _fixed_scalars(params):
            return None
        return (x.dtype, *(p.dtype for p in params), *(p.item() for p in params), options,
                os.environ.get(ENV_VAR))  # fmt: skip

    def plan_step(
        self, x: Tensor, states: tuple, params: tuple[Tensor, ...], cfg: NeuronConfig
    ) -> StepPlan | None:
        """The plan for this step, or None when the general op must run it."""
        if not (self.fits(x, states) and self.runs(x, params)):
            return None
        from . import cpu

        np_dtype = _KERNEL_DTYPES[x.dtype]
        values = [p.item() for p in params]
        if not self.syn:
            values.insert(0, 0.0)
        for i in (0, 1):  # α and β are clamped to [0, 1], as on the op path
            values[i] = min(max(values[i], 0.0), 1.0)
        scalars = tuple(np_dtype(v) for v in values)
        kind, units, consts = _constants(cfg.spike_fn, np_dtype)
        reset, delay = RESET_CODES[cfg.reset], cfg.reset_delay
        return StepPlan(scalars, reset, delay, kind, units, consts,
                        cpu.step_forward_at(self.model, reset, delay),
                        cpu.step_backward_at(self.model, reset))  # fmt: skip

    def run(self, x: Tensor, states: tuple, plan: StepPlan) -> tuple[Tensor, tuple]:
        """One step ``(X_t, states_{t−1}) -> (S_t, states_t)``, as planned."""
        if self.syn:
            spk, syn, mem = _SynapticStep.apply(x, states[0], states[1], plan)
            return spk, (syn, mem)
        spk, mem = _LeakyStep.apply(x, states[0], plan)
        return spk, (mem,)


def _forward(ctx, x: Tensor, i0: Tensor | None, u0: Tensor, plan: StepPlan) -> tuple:
    from . import cpu

    n = x.numel()
    spk, u = torch.empty_like(x), torch.empty_like(x)
    i = torch.empty_like(x) if i0 is not None else None
    keep_v = not plan.delay  # V_t before the reset, which backward then needs
    vpre = torch.empty_like(x) if keep_v else None
    args = (n, x.data_ptr(), _address(i0), u0.data_ptr(), spk.data_ptr(), _address(i),
            u.data_ptr(), _address(vpre), keep_v, *plan.scalars, plan.units)  # fmt: skip
    cpu.run_lanes(plan.forward, n, *_layout(n), args)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(i0, u0, i, u, vpre)
    ctx.plan = plan
    return spk, i, u


def _backward(ctx, gs: Tensor | None, gi: Tensor | None, gu: Tensor | None) -> tuple:
    from . import cpu

    i0, u0, i, u, vpre = ctx.saved_tensors
    plan, n, syn = ctx.plan, u.numel(), i is not None
    needs = ctx.needs_input_grad
    need_gi0, need_gu0 = syn and needs[1], needs[2 if syn else 1]
    gx = torch.empty_like(u)
    gi0 = torch.empty_like(u) if need_gi0 else None
    gu0 = torch.empty_like(u) if need_gu0 else None
    gs, gi, gu = (g.contiguous() if g is not None else None for g in (gs, gi, gu))
    if plan.delay or plan.reset == 2:  # the common case: one pass, tensors by address
        args = (n, _address(gs), gs is not None, _address(gi), gi is not None, _address(gu),
                gu is not None, u.data_ptr(), u0.data_ptr(), gx.data_ptr(), _address(gi0),
                need_gi0, _address(gu0), need_gu0, *plan.scalars, plan.consts,
                plan.kind)  # fmt: skip
        cpu.run_lanes(plan.backward, n, *_layout(n), args)
    else:
        one, dt = np.ones(1, dtype=plan.units.dtype), plan.units.dtype
        empty = np.empty(0, dtype=dt)

        def flat(t: Tensor | None) -> np.ndarray:
            return empty if t is None else t.detach().view(-1).numpy()

        cpu.lif_backward(
            _rows(gs, n, one), _rows(gi, n, one), _rows(gu, n, one), _rows(u, n, one),
            _rows(i, n, one) if syn else empty.reshape(0, n), _rows(u, n, one),
            _rows(vpre, n, one), flat(i0), flat(u0), empty,
            *(one * s for s in plan.scalars[:2]), one * 0, *(one * s for s in plan.scalars[2:]),
            plan.consts, plan.kind, SYN if syn else KEEP, plan.reset, plan.delay,
            _rows(gx, n, one), flat(gi0), flat(gu0), empty, empty, empty, empty, empty, empty,
        )  # fmt: skip
    return gx, gi0, gu0


class _LeakyStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, mem: Tensor, plan: StepPlan) -> tuple[Tensor, Tensor]:
        spk, _, u = _forward(ctx, x, None, mem, plan)
        return spk, u

    @staticmethod
    def backward(ctx, grad_spk: Tensor | None, grad_mem: Tensor | None):
        gx, _, gu0 = _backward(ctx, grad_spk, None, grad_mem)
        return gx, gu0, None


class _SynapticStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, syn: Tensor, mem: Tensor, plan: StepPlan) -> tuple:
        return _forward(ctx, x, syn, mem, plan)

    @staticmethod
    def backward(ctx, grad_spk, grad_syn, grad_mem):
        gx, gi0, gu0 = _backward(ctx, grad_spk, grad_syn, grad_mem)
        return gx, gi0, gu0, None
