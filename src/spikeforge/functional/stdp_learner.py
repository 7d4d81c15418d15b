"""Trace-based spike-timing-dependent plasticity (snnTorch's ``functional.stdp_learner``).

Every synapse keeps a presynaptic trace ``x`` and a postsynaptic trace ``y``, one per
neuron and sample, updated each step before the weight change is computed:

.. math::
    x_t = x_{t-1} − x_{t-1}/τ_{pre} + s^{in}_t, \\qquad y_t = y_{t-1} − y_{t-1}/τ_{post} + s^{out}_t

(the ``mstdp*`` rules decay by ``exp(−1/τ)`` instead of ``1 − 1/τ``). A postsynaptic spike
potentiates by the presynaptic trace and a presynaptic spike depresses by the postsynaptic
trace, each weighted by a function of the current weight (``f_post``, ``f_pre``; identity by
default), summed over the batch:

.. math::
    ΔW_{oi} = f_{post}(W_{oi}) \\sum_b s^{out}_{bo} x_{bi}
            − f_{pre}(W_{oi}) \\sum_b y_{bo} s^{in}_{bi}

For a convolution the sums also run over every output position and the matching input
window, which is the weight gradient of the convolution (``torch.nn.grad.conv*d_weight``).
The ``mstdp*`` rules return that quantity per sample as an eligibility, for a reward-modulated
update done by the caller. :class:`STDPLearner` records a layer's input and a neuron's output
spikes with forward hooks and turns them into a weight update (written as ``−ΔW`` into
``weight.grad``, so any optimiser's step adds ``lr·ΔW``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .probe import InputMonitor, OutputMonitor

__all__ = [
    "STDPLearner",
    "mstdp_linear_single_step",
    "mstdpet_linear_single_step",
    "stdp_conv1d_single_step",
    "stdp_conv2d_single_step",
    "stdp_linear_single_step",
]

Trace = Tensor | float | None


def _identity(w: Tensor) -> Tensor:
    return w


def _check_tau(name: str, tau: float) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
        raise ValueError(f"{name} must be a positive number of steps, got {tau!r}")


def _euler_trace(trace: Trace, spike: Tensor, tau: float) -> Tensor:
    """``x − x/τ + s`` (a missing trace is 0)."""
    if trace is None:
        trace = 0.0
    return trace - trace / tau + spike


def _exp_trace(trace: Trace, spike: Tensor, tau: float) -> Tensor:
    """``x·exp(−1/τ) + s`` (a missing trace is 0)."""
    if trace is None:
        trace = 0.0
    return trace * math.exp(-1.0 / tau) + spike


def _check_linear(fc: nn.Linear, in_spike: Tensor, out_spike: Tensor, rule: str) -> None:
    if not isinstance(fc, nn.Linear):
        raise TypeError(f"{rule}: fc must be an nn.Linear, got {type(fc).__name__}")
    if in_spike.shape[-1] != fc.in_features or out_spike.shape[-1] != fc.out_features:
        raise ValueError(
            f"{rule}: in_spike [..., {fc.in_features}] and out_spike [..., {fc.out_features}] "
            f"expected for {fc}, got {tuple(in_spike.shape)} and {tuple(out_spike.shape)}"
        )
    if in_spike.shape[:-1] != out_spike.shape[:-1]:
        raise ValueError(
            f"{rule}: in_spike and out_spike need the same leading (batch) shape, got "
            f"{tuple(in_spike.shape)} and {tuple(out_spike.shape)}"
        )


def stdp_linear_single_step(
    fc: nn.Linear,
    in_spike: Tensor,
    out_spike: Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: Callable[[Tensor], Tensor] = _identity,
    f_post: Callable[[Tensor], Tensor] = _identity,
) -> tuple[Tensor, Tensor, Tensor]:
    """One STDP step of a dense layer: ``(trace_pre, trace_post, ΔW [out, in])``.

    ``in_spike [B, in]``, ``out_spike [B, out]`` (a single sample ``[in]``/``[out]`` works
    too); traces ``None`` (or 0) at the first step. See the module docstring.
    """
    _check_tau("tau_pre", tau_pre)
    _check_tau("tau_post", tau_post)
    _check_linear(fc, in_spike, out_spike, "stdp_linear_single_step")
    trace_pre = _euler_trace(trace_pre, in_spike, tau_pre)
    trace_post = _euler_trace(trace_post, out_spike, tau_post)
    weight = fc.weight.detach()
    potentiation = torch.einsum("...o,...i->oi", out_spike, trace_pre)
    depression = torch.einsum("...o,...i->oi", trace_post, in_spike)
    return trace_pre, trace_post, f_post(weight) * potentiation - f_pre(weight) * depression


def _eligibility(fc, in_spike, out_spike, trace_pre, trace_post, f_pre, f_post) -> Tensor:
    """Per-sample ``f_post(W)·s_out x^T − f_pre(W)·y s_in^T``: ``[..., out, in]``."""
    weight = fc.weight.detach()
    potentiation = out_spike.unsqueeze(-1) * trace_pre.unsqueeze(-2)
    depression = trace_post.unsqueeze(-1) * in_spike.unsqueeze(-2)
    return f_post(weight) * potentiation - f_pre(weight) * depression


def mstdp_linear_single_step(
    fc: nn.Linear,
    in_spike: Tensor,
    out_spike: Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: Callable[[Tensor], Tensor] = _identity,
    f_post: Callable[[Tensor], Tensor] = _identity,
) -> tuple[Tensor, Tensor, Tensor]:
    """Reward-modulated STDP step: ``(trace_pre, trace_post, eligibility [B, out, in])``.

    Traces decay by ``exp(−1/τ)``; the eligibility is kept per sample (not summed), for the
    caller to weigh by a reward.
    """
    _check_tau("tau_pre", tau_pre)
    _check_tau("tau_post", tau_post)
    _check_linear(fc, in_spike, out_spike, "mstdp_linear_single_step")
    trace_pre = _exp_trace(trace_pre, in_spike, tau_pre)
    trace_post = _exp_trace(trace_post, out_spike, tau_post)
    elig = _eligibility(fc, in_spike, out_spike, trace_pre, trace_post, f_pre, f_post)
    return trace_pre, trace_post, elig


def mstdpet_linear_single_step(
    fc: nn.Linear,
    in_spike: Tensor,
    out_spike: Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    tau_trace: float,
    f_pre: Callable[[Tensor], Tensor] = _identity,
    f_post: Callable[[Tensor], Tensor] = _identity,
) -> tuple[Tensor, Tensor, Tensor]:
    """MSTDP with an eligibility trace: ``(trace_pre, trace_post, eligibility [out, in])``.

    As snnTorch 1.0.0: one sample ``in_spike [in]``, ``out_spike [out]``, and the step's
    eligibility is returned; accumulating it into an eligibility trace with ``tau_trace``
    (checked, not used here) is the caller's part. A batch ``[B, in]`` gives ``[B, out, in]``.
    """
    _check_tau("tau_pre", tau_pre)
    _check_tau("tau_post", tau_post)
    _check_tau("tau_trace", tau_trace)
    _check_linear(fc, in_spike, out_spike, "mstdpet_linear_single_step")
    trace_pre = _exp_trace(trace_pre, in_spike, tau_pre)
    trace_post = _exp_trace(trace_post, out_spike, tau_post)
    elig = _eligibility(fc, in_spike, out_spike, trace_pre, trace_post, f_pre, f_post)
    return trace_pre, trace_post, elig


def _conv_step(
    conv, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    dims: int, weight_grad: Callable,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    rule = f"stdp_conv{dims}d_single_step"
    if in_spike.dim() != dims + 2 or out_spike.dim() != dims + 2:
        raise ValueError(
            f"{rule}: in_spike and out_spike must be batched [B, C, ...] with {dims} spatial "
            f"dims, got {tuple(in_spike.shape)} and {tuple(out_spike.shape)}"
        )
    _check_tau("tau_pre", tau_pre)
    _check_tau("tau_post", tau_post)
    # The presynaptic trace lives on the padded input, as the convolution sees it.
    pad = conv._reversed_padding_repeated_twice
    if any(pad):
        mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
        in_spike = F.pad(in_spike, pad, mode=mode)
    if trace_pre is None:
        trace_pre = torch.zeros_like(in_spike)
    if trace_post is None:
        trace_post = torch.zeros_like(out_spike, dtype=in_spike.dtype)
    trace_pre = _euler_trace(trace_pre, in_spike, tau_pre)
    trace_post = _euler_trace(trace_post, out_spike, tau_post)
    weight = conv.weight.detach()
    geometry = {"stride": conv.stride, "dilation": conv.dilation, "groups": conv.groups}
    potentiation = weight_grad(trace_pre, weight.shape, out_spike.to(trace_pre), **geometry)
    depression = weight_grad(in_spike, weight.shape, trace_post.to(in_spike), **geometry)
    return trace_pre, trace_post, f_post(weight) * potentiation - f_pre(weight) * depression


def stdp_conv2d_single_step(
    conv: nn.Conv2d,
    in_spike: Tensor,
    out_spike: Tensor,
    trace_pre: Tensor | None,
    trace_post: Tensor | None,
    tau_pre: float,
    tau_post: float,
    f_pre: Callable[[Tensor], Tensor] = _identity,
    f_post: Callable[[Tensor], Tensor] = _identity,
) -> tuple[Tensor, Tensor, Tensor]:
    """One STDP step of a 2-d convolution: ``(trace_pre, trace_post, ΔW)``, ``ΔW`` shaped
    like ``conv.weight``. ``in_spike [B, C_in, H, W]``, ``out_spike [B, C_out, H', W']``;
    ``trace_pre`` has the padded input's shape. Stride, padding (any mode), dilation and
    groups follow ``conv`` (snnTorch refuses dilation and groups; they are a superset here).
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"stdp_conv2d_single_step: conv must be an nn.Conv2d, got {conv!r}")
    return _conv_step(conv, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post,
                      f_pre, f_post, 2, torch.nn.grad.conv2d_weight)  # fmt: skip


def stdp_conv1d_single_step(
    conv: nn.Conv1d,
    in_spike: Tensor,
    out_spike: Tensor,
    trace_pre: Tensor | None,
    trace_post: Tensor | None,
    tau_pre: float,
    tau_post: float,
    f_pre: Callable[[Tensor], Tensor] = _identity,
    f_post: Callable[[Tensor], Tensor] = _identity,
) -> tuple[Tensor, Tensor, Tensor]:
    """One STDP step of a 1-d convolution (``in_spike [B, C_in, L]``); see the 2-d version."""
    if not isinstance(conv, nn.Conv1d):
        raise TypeError(f"stdp_conv1d_single_step: conv must be an nn.Conv1d, got {conv!r}")
    return _conv_step(conv, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post,
                      f_pre, f_post, 1, torch.nn.grad.conv1d_weight)  # fmt: skip


def _spikes(output: object) -> object:
    """A neuron returning ``(spk, *states)`` contributes its spikes."""
    return output[0] if isinstance(output, tuple) else output


class STDPLearner(nn.Module):
    """Learn ``synapse``'s weight by STDP from its input spikes and the spikes of ``sn``.

    Forward hooks record every call of ``synapse`` (its input) and of ``sn`` (its spikes);
    ``step()`` consumes the records in order, updating the traces, and sums the weight
    changes. ``on_grad=True`` writes ``−scale·ΣΔW`` into ``synapse.weight.grad`` (added to
    what is there), so ``optimizer.step()`` moves the weight by ``lr·scale·ΣΔW`` for SGD;
    ``on_grad=False`` returns ``scale·ΣΔW`` instead. ``synapse`` is an ``nn.Linear``,
    ``nn.Conv1d`` or ``nn.Conv2d``.

    Example::

        >>> import torch, spikeforge as snn
        >>> from spikeforge.functional.stdp_learner import STDPLearner
        >>> fc, lif = torch.nn.Linear(2, 1, bias=False), snn.Leaky(0.9, init_hidden=True)
        >>> learner = STDPLearner(fc, lif, tau_pre=2.0, tau_post=2.0)
        >>> _ = lif(fc(torch.ones(1, 2)))
        >>> learner.step(on_grad=False).shape
        torch.Size([1, 2])
    """

    def __init__(
        self,
        synapse: nn.Linear | nn.Conv1d | nn.Conv2d,
        sn: nn.Module,
        tau_pre: float,
        tau_post: float,
        f_pre: Callable[[Tensor], Tensor] = _identity,
        f_post: Callable[[Tensor], Tensor] = _identity,
    ) -> None:
        super().__init__()
        if isinstance(synapse, nn.Linear):
            self._rule = stdp_linear_single_step
        elif isinstance(synapse, nn.Conv2d):
            self._rule = stdp_conv2d_single_step
        elif isinstance(synapse, nn.Conv1d):
            self._rule = stdp_conv1d_single_step
        else:
            raise TypeError(
                f"STDPLearner: synapse must be nn.Linear, nn.Conv1d or nn.Conv2d, got "
                f"{type(synapse).__name__}"
            )
        if not isinstance(sn, nn.Module):
            raise TypeError(f"STDPLearner: sn must be a neuron module, got {type(sn).__name__}")
        _check_tau("tau_pre", tau_pre)
        _check_tau("tau_post", tau_post)
        self.tau_pre, self.tau_post = tau_pre, tau_post
        self.f_pre, self.f_post = f_pre, f_post
        self.synapse = synapse
        self.in_spike_monitor = InputMonitor(synapse)
        self.out_spike_monitor = OutputMonitor(sn, function_on_output=_spikes)
        self.trace_pre: Tensor | float | None = None
        self.trace_post: Tensor | float | None = None

    def reset(self) -> None:
        """Drop the records and the traces (snnTorch 1.0.0's ``reset`` raises
        ``AttributeError``; this does what it means to)."""
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()
        self.trace_pre = None
        self.trace_post = None

    def disable(self) -> None:
        """Stop recording (``step`` then has nothing new to learn from)."""
        self.in_spike_monitor.disable()
        self.out_spike_monitor.disable()

    def enable(self) -> None:
        self.in_spike_monitor.enable()
        self.out_spike_monitor.enable()

    def step(self, on_grad: bool = True, scale: float = 1.0) -> Tensor | None:
        """Consume the records: ``−scale·ΣΔW`` into ``weight.grad`` (``on_grad``) or returned.

        With nothing recorded ``ΣΔW`` is zero.
        """
        ins, outs = self.in_spike_monitor.records, self.out_spike_monitor.records
        if len(ins) != len(outs):
            raise RuntimeError(
                f"STDPLearner: {len(ins)} synapse calls but {len(outs)} neuron calls recorded; "
                "call the neuron once after each call of the synapse"
            )
        delta_w = torch.zeros_like(self.synapse.weight, requires_grad=False)
        while ins:
            in_spike, out_spike = ins.pop(0), outs.pop(0)
            self.trace_pre, self.trace_post, dw = self._rule(
                self.synapse, in_spike, out_spike, self.trace_pre, self.trace_post,
                self.tau_pre, self.tau_post, self.f_pre, self.f_post,
            )  # fmt: skip
            delta_w = delta_w + (dw * scale if scale != 1.0 else dw)
        for monitor in (self.in_spike_monitor, self.out_spike_monitor):
            for indices in monitor.name_records_index.values():
                indices.clear()
        if not on_grad:
            return delta_w
        weight = self.synapse.weight
        weight.grad = -delta_w if weight.grad is None else weight.grad - delta_w
        return None
