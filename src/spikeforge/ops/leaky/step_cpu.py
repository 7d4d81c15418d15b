"""The CPU backend's single-step fast path: one Leaky step whose parameters are shared
constants (registered as the ``step`` of Leaky's ``cpu`` kernel; the neuron shell asks
``registry.fast_step`` for it).

The general op's Python (parameter flattening and clamping, the buffer pool, the generic
autograd wrapper) costs more than one step of a typical layer takes to compute. When β, θ
and the graded-spike factor are shared scalars that need no gradient (snnTorch's
defaults), this path calls the same numba kernels with ``T = 1`` from a small
``autograd.Function``: the numbers are those of the general op (the tests compare the
two), only the bookkeeping is shorter. Anything else (per-neuron or learnable parameters,
other devices, ``torch.compile``, export) takes the general op.

``U_t = β U_{t−1} + X_t − R_t θ``, ``S_t = g H(U_t − θ)`` (or the reset mode's variant);
the backward is ``op.py``'s BPTT for one step.

Tensors reach the kernels by address (``data_ptr()``), not as numpy views, and a neuron
keeps its plan between calls (``plan_key`` says when it must make a new one).

Interface (what ``SpikingNeuron`` calls): ``fits(x, mem)``, ``runs(x, params)``,
``plan_key(x, params, options)``, ``plan_step(x, mem, params, cfg)``, ``run(x, mem, plan)``;
``params = (beta, threshold, graded)``.
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

__all__ = ["StepPlan", "fits", "plan_key", "plan_step", "run", "runs"]

_KERNEL_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


@dataclass(frozen=True)
class StepPlan:
    """What the kernels need besides the tensors: parameters as 1-element arrays and as
    scalars in the kernel dtype, the reset code and flag, the surrogate's id and constants."""

    params: tuple[np.ndarray, np.ndarray, np.ndarray]
    scalars: tuple[np.floating, np.floating, np.floating]
    reset: int
    delay: bool
    kind: int
    fwd_consts: np.ndarray
    bwd_consts: np.ndarray


@lru_cache(maxsize=256)
def _constants(spike_fn: Surrogate, np_dtype: type) -> tuple[int, np.ndarray, np.ndarray]:
    kind = spike_fn.kind
    fwd = surrogate_constants("disabled", (), np_dtype)
    bwd = surrogate_constants(kind, (*spike_fn.params(), 0.0, 0.0)[:2], np_dtype)
    return SURROGATE_IDS[kind], fwd, bwd


def runs(x: Tensor, params: tuple[Tensor, Tensor, Tensor]) -> bool:
    """True when this path can run a step on ``x`` with these parameters: a CPU float32 or
    float64 input, and parameters that are single numbers needing no gradient."""
    if x.dtype not in _KERNEL_DTYPES or x.device.type != "cpu":
        return False
    return _fixed_scalars(*params)


def _fixed_scalars(beta: Tensor, threshold: Tensor, graded: Tensor) -> bool:
    """Every parameter is a single number needing no gradient (written out long-hand: it
    runs on every step)."""
    if beta.numel() != 1 or threshold.numel() != 1 or graded.numel() != 1:
        return False
    return not (
        torch.is_grad_enabled()
        and (beta.requires_grad or threshold.requires_grad or graded.requires_grad)
    )


def plan_step(
    x: Tensor, mem: Tensor, params: tuple[Tensor, Tensor, Tensor], cfg: NeuronConfig
) -> StepPlan | None:
    """The plan for this step, or None when the general op must run it."""
    if not (fits(x, mem) and runs(x, params)):
        return None
    beta, threshold, graded = params
    np_dtype = _KERNEL_DTYPES[x.dtype]
    b, th, g = beta.item(), threshold.item(), graded.item()
    b = min(max(b, 0.0), 1.0)  # β is clamped to [0, 1], as in the op path
    kind, fwd, bwd = _constants(cfg.spike_fn, np_dtype)
    params = tuple(np.array([v], dtype=np_dtype) for v in (b, th, g))
    scalars = tuple(p[0] for p in params)
    return StepPlan(params, scalars, RESET_CODES[cfg.reset], cfg.reset_delay, kind, fwd, bwd)


def fits(x: object, mem: object) -> bool:
    """The tensors suit the lane: CPU float32/float64 ``x`` and ``mem`` of equal shape and
    dtype, both contiguous, outside ``torch.compile`` (which needs the registered op) and
    export (which needs the reference: ``registry.exporting``)."""
    return (
        isinstance(x, Tensor)
        and isinstance(mem, Tensor)
        and x.dtype in _KERNEL_DTYPES
        and x.is_cpu
        and mem.is_cpu
        and mem.dtype == x.dtype
        and mem.shape == x.shape
        and x.is_contiguous()
        and mem.is_contiguous()
        and not use_custom_op()
        and not exporting()
    )


def plan_key(x: Tensor, params: tuple[Tensor, Tensor, Tensor], options: tuple) -> tuple | None:
    """Everything a step plan depends on besides the tensors, or None when the parameters
    rule this path out (not single numbers, or needing a gradient). ``options``: the
    neuron's static settings (surrogate, reset, backend, ...). Parameter *values* are read
    each call, so a change by any route (``.data``, ``fill_``, a new tensor) gets a new plan."""
    beta, threshold, graded = params
    if not _fixed_scalars(beta, threshold, graded):
        return None
    return (
        x.dtype, beta.dtype, threshold.dtype, graded.dtype, beta.item(), threshold.item(),
        graded.item(), options, os.environ.get(ENV_VAR),
    )  # fmt: skip


def _rows(t: Tensor) -> np.ndarray:
    return t.detach().view(1, -1).numpy()


def _address(t: Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


@lru_cache(maxsize=64)
def _layout(n: int) -> tuple[int, int]:
    """Block size and thread count for ``n`` neurons, fixed at the first step of that size
    (a later change of numba's thread count changes only how the work is split)."""
    from . import cpu

    return cpu.step_layout(n)


class _LeakyStepCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, mem: Tensor, plan: StepPlan) -> tuple[Tensor, Tensor]:
        from . import cpu

        n = x.numel()
        spk = torch.empty(x.shape, dtype=x.dtype)
        out = torch.empty(x.shape, dtype=x.dtype)
        keep_v = not plan.delay  # V_t before the reset, which backward then needs
        vpre = torch.empty(x.shape, dtype=x.dtype) if keep_v else None
        cpu.step_forward_at(
            n, x.data_ptr(), mem.data_ptr(), spk.data_ptr(), out.data_ptr(),
            vpre.data_ptr() if keep_v else 0, keep_v, *plan.scalars, plan.fwd_consts,
            plan.reset, plan.delay, *_layout(n),
        )  # fmt: skip
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(mem, out, vpre)
        ctx.plan = plan
        return spk, out

    @staticmethod
    def backward(ctx, grad_spk: Tensor | None, grad_mem: Tensor | None):
        from . import cpu

        mem, out, vpre = ctx.saved_tensors
        plan, n = ctx.plan, out.numel()
        need_gu0 = ctx.needs_input_grad[1]
        gx = torch.empty(out.shape, dtype=out.dtype)
        gu0 = torch.empty(out.shape, dtype=out.dtype) if need_gu0 else None
        if plan.delay or plan.reset == 2:
            # The common case: one pass (``cpu._one_simple_step``), tensors by address.
            gs = grad_spk.contiguous() if grad_spk is not None else None
            gu = grad_mem.contiguous() if grad_mem is not None else None
            cpu.step_backward_at(
                n, _address(gs), gs is not None, _address(gu), gu is not None, out.data_ptr(),
                mem.data_ptr(), gx.data_ptr(), _address(gu0), need_gu0, *plan.scalars,
                plan.bwd_consts, plan.kind, plan.reset, *_layout(n),
            )  # fmt: skip
            return gx, gu0, None
        none = np.empty((0, n), dtype=plan.fwd_consts.dtype)
        unused = none.reshape(0)  # a gradient not asked for: an empty [0] buffer
        cpu.leaky_backward(
            _rows(grad_spk.contiguous()) if grad_spk is not None else none,
            _rows(grad_mem.contiguous()) if grad_mem is not None else none,
            _rows(out), _rows(vpre) if vpre is not None else none,
            mem.detach().view(-1).numpy(), *plan.params, plan.bwd_consts, plan.kind,
            plan.reset, plan.delay, _rows(gx), gu0.view(-1).numpy() if need_gu0 else unused,
            unused, unused, unused,
        )  # fmt: skip
        return gx, gu0, None


def run(x: Tensor, mem: Tensor, plan: StepPlan) -> tuple[Tensor, Tensor]:
    """One step ``(X_t, U_{t−1}) -> (S_t, U_t)`` on the CPU kernels, as planned."""
    return _LeakyStepCPU.apply(x, mem, plan)
