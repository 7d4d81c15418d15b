"""The step API's CPU lane: one Leaky step whose parameters are shared constants.

``leaky_step_fused`` reaches the kernels through the general op (parameter flattening and
clamping, the buffer pool, the generic autograd wrapper), whose Python costs more than one
step of a typical layer takes to compute. When β, θ and the graded-spike factor are shared
scalars that need no gradient (snnTorch's defaults), this lane calls the same numba
kernels with ``T = 1`` from a small ``autograd.Function``: the numbers are those of the
general op (the tests compare the two), only the bookkeeping is shorter. Anything else
(per-neuron or learnable parameters, other devices, ``torch.compile``) takes the general op.

``U_t = β U_{t−1} + X_t − R_t θ``, ``S_t = g H(U_t − θ)`` (or the reset mode's variant);
the backward is ``op.py``'s BPTT for one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..config import NeuronConfig

__all__ = ["StepPlan", "lane_runs", "leaky_step_cpu", "plan_step"]

_KERNEL_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}


@dataclass(frozen=True)
class StepPlan:
    """What the kernels need besides the tensors: parameters as 1-element arrays in the
    kernel dtype, the reset code and flag, and the surrogate's id and constants."""

    params: tuple[np.ndarray, np.ndarray, np.ndarray]
    reset: int
    delay: bool
    kind: int
    fwd_consts: np.ndarray
    bwd_consts: np.ndarray


@lru_cache(maxsize=256)
def _constants(spike_fn: Surrogate, np_dtype: type) -> tuple[int, np.ndarray, np.ndarray]:
    from . import cpu

    kind = spike_fn.kind
    fwd = cpu.surrogate_constants("disabled", (), np_dtype)
    bwd = cpu.surrogate_constants(kind, (*spike_fn.params(), 0.0, 0.0)[:2], np_dtype)
    return cpu.SURROGATE_IDS[kind], fwd, bwd


def lane_runs(x: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor) -> bool:
    """True when the lane can run a step on ``x`` with these parameters: a CPU float32 or
    float64 input, and parameters that are single numbers needing no gradient."""
    if x.dtype not in _KERNEL_DTYPES or x.device.type != "cpu":
        return False
    grad = torch.is_grad_enabled()
    return all(p.numel() == 1 and not (grad and p.requires_grad) for p in (beta, threshold, graded))


def plan_step(
    x: Tensor, mem: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor, cfg: NeuronConfig
) -> StepPlan | None:
    """The lane's plan for this step, or None when the general op must run it."""
    if not (
        lane_runs(x, beta, threshold, graded)
        and mem.dtype == x.dtype
        and mem.shape == x.shape
        and x.is_contiguous()
        and mem.is_contiguous()
    ):
        return None
    np_dtype = _KERNEL_DTYPES[x.dtype]
    b, th, g = beta.item(), threshold.item(), graded.item()
    b = min(max(b, 0.0), 1.0)  # β is clamped to [0, 1], as in the op path
    kind, fwd, bwd = _constants(cfg.spike_fn, np_dtype)
    params = tuple(np.array([v], dtype=np_dtype) for v in (b, th, g))
    return StepPlan(params, _RESET_CODES[cfg.reset], cfg.reset_delay, kind, fwd, bwd)


def _rows(t: Tensor) -> np.ndarray:
    return t.detach().view(1, -1).numpy()


class _LeakyStepCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, mem: Tensor, plan: StepPlan) -> tuple[Tensor, Tensor]:
        from . import cpu

        spk, out = torch.empty_like(x), torch.empty_like(x)
        vpre = x.new_empty((0 if plan.delay else 1, x.numel()))  # V_t, kept if not delayed
        cpu.leaky_forward(
            _rows(x), mem.detach().view(-1).numpy(), *plan.params, plan.fwd_consts,
            plan.reset, plan.delay, True, _rows(spk), _rows(out), vpre.numpy(),
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
        none = np.empty((0, n), dtype=plan.fwd_consts.dtype)
        unused = none.reshape(0)  # a gradient not asked for: an empty [0] buffer
        gx = torch.empty_like(out)
        gu0 = torch.empty_like(out) if ctx.needs_input_grad[1] else None
        cpu.leaky_backward(
            _rows(grad_spk.contiguous()) if grad_spk is not None else none,
            _rows(grad_mem.contiguous()) if grad_mem is not None else none,
            _rows(out), vpre.numpy(),
            mem.detach().view(-1).numpy(), *plan.params, plan.bwd_consts, plan.kind,
            plan.reset, plan.delay, _rows(gx), gu0.view(-1).numpy() if gu0 is not None else unused,
            unused, unused, unused,
        )  # fmt: skip
        return gx, gu0, None


def leaky_step_cpu(x: Tensor, mem: Tensor, plan: StepPlan) -> tuple[Tensor, Tensor]:
    """One step ``(X_t, U_{t−1}) -> (S_t, U_t)`` on the CPU kernels, as planned."""
    return _LeakyStepCPU.apply(x, mem, plan)
