"""Backpropagation through spike times.

A spike is discrete, but the moment the membrane crosses the threshold is continuous. Between
two steps we take the membrane as linear, so the first crossing of ``θ`` happens at

.. math::
    t^* = (t - 1) + \\frac{θ - U_{t-1}}{U_t - U_{t-1}}, \\qquad
    t = \\min\\{s : U_s > θ\\}, \\quad U_{-1} = U_{\\text{init}} \\;(0 \\text{ by default})

with the exact derivatives

.. math::
    \\frac{∂t^*}{∂U_t} = -\\frac{θ - U_{t-1}}{(U_t - U_{t-1})^2}, \\qquad
    \\frac{∂t^*}{∂U_{t-1}} = \\frac{θ - U_t}{(U_t - U_{t-1})^2}.

Both are negative: a larger membrane fires earlier. The index ``t`` is a discrete choice
(no gradient); the interpolation is ordinary autograd, so ``dt*/dW`` follows from the membrane
recording ``U [T, ...]`` back to the weights.

A neuron that never fires has no crossing. ``silent="extrapolate"`` (default) gives it
``t^* = (T - 1) + (θ - \\max_t U_t)/θ ≥ T - 1`` with gradient ``-1/θ`` on its largest
membrane, so silent output neurons still learn (no dead neurons). A number gives that
constant time and no gradient.

Losses on times: ``ce_time_loss`` (cross-entropy over ``-t*``, snnTorch's ``ce_temporal_loss``
on continuous times) and ``mse_time_loss`` (``mse_temporal_loss`` likewise).
``time_coded_spikes`` lets the spike-train temporal losses of ``spikeforge.functional``
(snnTorch's ``ce_temporal_loss``/``mse_temporal_loss``) use these gradients: see there.

Example::

    >>> import torch
    >>> from spikeforge.learning import first_spike_time
    >>> mem = torch.tensor([[0.5], [1.3]], requires_grad=True)  # U_0, U_1 of one neuron
    >>> t = first_spike_time(mem, threshold=1.0)
    >>> round(t.item(), 4)
    0.625
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ce_time_loss", "first_spike_time", "mse_time_loss", "time_coded_spikes"]

_EPS = 1e-6


def _check_mem(mem: Tensor, threshold: float) -> None:
    if not isinstance(mem, Tensor):
        raise TypeError(f"mem must be a torch.Tensor [T, ...], got {type(mem).__name__}")
    if mem.dim() < 1 or mem.shape[0] < 1:
        raise ValueError(f"mem must be time-major [T, ...] with T >= 1, got {tuple(mem.shape)}")
    if not mem.is_floating_point():
        raise TypeError(f"mem must be a floating-point tensor, got {mem.dtype}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a positive number, got {threshold!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")


def first_spike_time(
    mem: Tensor,
    threshold: float = 1.0,
    mem_init: Tensor | None = None,
    silent: str | float = "extrapolate",
) -> Tensor:
    """Interpolated first threshold-crossing time of a membrane recording.

    Args:
        mem: membrane ``U`` of shape ``[T, ...]`` (time-major), e.g. ``[T, B, C]``.
        threshold: ``θ > 0``; a crossing is ``U_t > θ`` (strict, as the neurons fire).
        mem_init: ``U_{-1}`` of shape ``mem.shape[1:]``; zeros if None.
        silent: ``"extrapolate"`` or a constant time for neurons that never cross.

    Returns:
        ``t*`` of shape ``mem.shape[1:]``, in steps (``t* ∈ (t-1, t]`` for a crossing at ``t``).
    """
    _check_mem(mem, threshold)
    if mem_init is None:
        mem_init = torch.zeros_like(mem[0])
    elif mem_init.shape != mem.shape[1:]:
        raise ValueError(
            f"mem_init must have shape {tuple(mem.shape[1:])}, got {tuple(mem_init.shape)}"
        )
    above = mem > threshold
    fired = above.any(0)
    index = above.to(torch.uint8).argmax(0, keepdim=True)  # first True (argmax takes the first)
    previous = torch.cat([mem_init.unsqueeze(0), mem[:-1]], 0)
    u_now = mem.gather(0, index).squeeze(0)
    u_before = previous.gather(0, index).squeeze(0)
    step = (u_now - u_before).clamp_min(_EPS)
    crossing = index.squeeze(0).to(mem.dtype) - 1 + (threshold - u_before) / step
    num_steps = mem.shape[0]
    if silent == "extrapolate":
        quiet = (num_steps - 1) + (threshold - mem.amax(0)) / threshold
    elif isinstance(silent, (int, float)) and not isinstance(silent, bool):
        quiet = torch.full_like(crossing, float(silent))
    else:
        raise ValueError(f"silent must be 'extrapolate' or a number, got {silent!r}")
    return torch.where(fired, crossing, quiet)


def ce_time_loss(times: Tensor, targets: Tensor, inverse: str = "negate") -> Tensor:
    """Cross-entropy that rewards the target neuron for firing first.

    ``inverse="negate"``: logits ``-t*``; ``"reciprocal"``: logits ``1/(t* + 1)``
    (``t* > -1`` always holds for a crossing). ``times [B, C]``, ``targets [B]`` class indices.
    """
    if times.dim() != 2:
        raise ValueError(f"times must be [B, C], got shape {tuple(times.shape)}")
    if inverse == "negate":
        logits = -times
    elif inverse == "reciprocal":
        logits = 1.0 / (times + 1.0).clamp_min(_EPS)
    else:
        raise ValueError(f"inverse must be 'negate' or 'reciprocal', got {inverse!r}")
    return F.cross_entropy(logits, targets)


def mse_time_loss(
    times: Tensor,
    targets: Tensor,
    num_steps: int,
    on_target: float = 0.0,
    off_target: float = -1.0,
) -> Tensor:
    """MSE between ``t*/T`` and target times ``/T``: the target class should fire at
    ``on_target``, the others at ``off_target``; negative targets count from the end
    (``-1 -> T - 1``), as in snnTorch's ``mse_temporal_loss``.
    """
    if times.dim() != 2:
        raise ValueError(f"times must be [B, C], got shape {tuple(times.shape)}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")

    def wrap(t: float) -> float:
        return num_steps + t if t < 0 else t

    wanted = torch.full_like(times, wrap(off_target))
    wanted.scatter_(1, targets.unsqueeze(1), wrap(on_target))
    return F.mse_loss(times / num_steps, wanted / num_steps)


class _TimeCodedSpikes(torch.autograd.Function):
    """Forward: ``S = H(U − θ)``. Backward: the gradient that arrives at the first spike
    (or at ``T − 1`` for a silent neuron) is read as ``−∂L/∂t`` (snnTorch's ``FirstSpike``
    convention) and sent to the membrane through ``∂t*/∂U``.
    """

    @staticmethod
    def forward(ctx, mem: Tensor, threshold: float) -> Tensor:
        ctx.save_for_backward(mem)
        ctx.threshold = threshold
        return (mem > threshold).to(mem.dtype)

    @staticmethod
    def backward(ctx, grad_spikes: Tensor):
        (mem,) = ctx.saved_tensors
        above = mem > ctx.threshold
        last = torch.full_like(above[0], mem.shape[0] - 1, dtype=torch.long)
        index = torch.where(above.any(0), above.to(torch.uint8).argmax(0), last)
        grad_time = -grad_spikes.gather(0, index.unsqueeze(0)).squeeze(0)
        with torch.enable_grad():
            leaf = mem.detach().requires_grad_(True)
            times = first_spike_time(leaf, ctx.threshold)
            (grad_mem,) = torch.autograd.grad(times, leaf, grad_time)
        return grad_mem, None


def time_coded_spikes(mem: Tensor, threshold: float = 1.0) -> Tensor:
    """Spikes ``H(U − θ)`` whose backward pass is the spike-time gradient.

    Feed them to a spike-train temporal loss (``spikeforge.functional.ce_temporal_loss`` or
    ``mse_temporal_loss``, snnTorch's convention: ``∂L/∂S = −∂L/∂t`` at the first spike):
    the gradient then reaches ``mem`` as ``∂L/∂t · ∂t*/∂U`` instead of a surrogate. The loss
    value is still computed on whole-step times; ``ce_time_loss`` uses the interpolated ones.
    """
    _check_mem(mem, threshold)
    return _TimeCodedSpikes.apply(mem, float(threshold))
