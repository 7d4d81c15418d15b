"""``StateLeaky``: a leaky membrane without reset, computed over a whole sequence at once.

.. math::
    U_t = \\sum_{k=0}^{\\min(t, K-1)} e^{-k/τ} X_{t-k}, \\qquad
    τ = \\frac{1}{1 - β + 10^{-12}}, \\qquad S_t = H(U_t − θ) · g^2

on a time-major input ``[T, B, C]`` (see ``ops.stateleaky``). snnTorch 1.0.0 evaluates the
sum as a T-tap convolution (T² work); here it runs as an O(T) chunked scan with the same
numbers. Two snnTorch quirks are kept for parity: the per-step decay is ``e^{−(1−β)}``, not
``β`` (the two agree only to first order), and the graded spike factor ``g`` multiplies the
spikes twice (once in ``fire``, once in ``forward``).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from ..ops.stateleaky import decay_filter, decay_rate
from ._base import SpikingNeuron, as_float_tensor
from ._options import snntorch_signature

__all__ = ["StateLeaky"]


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _beta_tensor(beta: Any, channels: int, learn_beta: bool) -> Tensor:
    """``beta`` as a floating tensor of shape ``[]``, ``[1]`` or ``[channels]``."""
    if isinstance(beta, bool) or beta is None:
        raise TypeError(f"beta must be a number or a tensor, got {beta!r}")
    beta_t = as_float_tensor("beta", beta, check_nan=False)  # NaN: checked after the shape
    if beta_t.shape not in ((), (1,), (channels,)):
        raise ValueError(
            f"beta must have shape (), (1,) or (channels,) = ({channels},), "
            f"got {tuple(beta_t.shape)}"
        )
    if torch.isnan(beta_t).any():
        raise ValueError(f"beta must not be NaN, got {beta_t.tolist()}")
    if not learn_beta and ((beta_t < 0) | (beta_t > 1)).any():
        raise ValueError(
            f"beta must lie in [0, 1] (a fixed decay rate), got {beta_t.tolist()}; "
            "set learn_beta=True to let training move it"
        )
    return beta_t


class StateLeaky(SpikingNeuron):
    """Leaky membrane as a causal exponential filter: ``U = e^{−k/τ} ∗ X``, no reset.

    Same constructor, call and returns as ``snntorch.StateLeaky``: ``spk, mem = lif(x)``
    with ``x``, ``spk`` and ``mem`` all ``[T, B, channels]`` (``mem`` alone when
    ``output=False``). ``beta`` is a read-only property ``(τ − 1)/τ``; with
    ``learn_beta=True`` the learnable parameter is ``tau``. ``kernel_truncation_steps=K``
    keeps only the ``K`` most recent taps. Runs in O(T) time and memory.

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.StateLeaky(beta=0.5, channels=1)
        >>> spk, mem = lif(torch.ones(3, 1, 1))
        >>> [round(v, 4) for v in mem.flatten().tolist()]
        [1.0, 1.6065, 1.9744]
    """

    @snntorch_signature("beta", stateful=False, truncation=True, output=True)
    def __init__(self, beta: float | Tensor, channels: int, **options: Any) -> None:
        learn_beta = options.pop("learn_beta")
        kernel_truncation_steps = options.pop("kernel_truncation_steps")
        super().__init__(**options)
        self.channels = _check_positive_int("channels", channels)
        if kernel_truncation_steps is not None:
            _check_positive_int("kernel_truncation_steps", kernel_truncation_steps)
        self.kernel_truncation_steps = kernel_truncation_steps
        if not options["output"] and (
            options["spike_grad"] is not None
            or options["surrogate_disable"]
            or options["learn_threshold"]
            or options["learn_graded_spikes_factor"]
            or bool((torch.as_tensor(options["graded_spikes_factor"]) != 1.0).any())
        ):
            warnings.warn(
                f"{type(self).__name__}: spike settings are unused when output=False "
                "(no spikes are emitted)",
                UserWarning,
                stacklevel=2,
            )
        tau = decay_rate(_beta_tensor(beta, self.channels, learn_beta))
        if learn_beta:
            self.tau = nn.Parameter(tau)
        else:
            self.register_buffer("tau", tau)

    @property
    def beta(self) -> Tensor:
        """The decay rate ``β = (τ − 1)/τ`` (read-only: train or set ``tau``)."""
        return (self.tau - 1) / self.tau

    def fire(self, mem: Tensor) -> Tensor:
        """``S = H(q(U) − θ) · g`` with the surrogate gradient (snnTorch's ``fire``)."""
        if self.state_quant:
            mem = self.state_quant(mem)
        return self.spike_grad(mem - self.threshold) * self.graded_spikes_factor

    def fire_inhibition(self, batch_size: int, mem: Tensor) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} has no inhibition; use Leaky(inhibition=True) instead"
        )

    def mem_reset(self, mem: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} never resets its membrane")

    def _check_sequence(self, x: Any, name: str, features: int | None, what: str) -> None:
        """``x`` is a floating ``[T, B, features]`` tensor (any width when ``features`` is None)."""
        cls = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{cls}: {name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{cls}: {name} must be a floating-point tensor, got {x.dtype}")
        if features is None and x.dim() != 3:
            raise ValueError(f"{cls}: {name} must have shape [T, B, C], got {tuple(x.shape)}")
        if features is not None and (x.dim() != 3 or x.shape[2] != features):
            raise ValueError(
                f"{cls}: {name} must have shape [T, B, {what}={features}], got {tuple(x.shape)}"
            )

    def membrane(self, input_: Tensor) -> Tensor:
        """The membrane sequence ``U [T, B, C]`` for ``input_ [T, B, C]`` (state-quantised
        when ``state_quant`` is set)."""
        mem = decay_filter(input_, self.tau, self.kernel_truncation_steps)
        if self.state_quant:
            mem = self.state_quant(mem)
        return mem

    def _outputs_of(self, mem: Tensor):
        if not self.output:
            return mem
        # snnTorch multiplies by g inside fire() and again in forward: spikes are g² (kept).
        # Here as one product by g² (spikes are 0 or 1: same numbers, one pass less).
        seen = self.state_quant(mem) if self.state_quant else mem  # quantised twice, as there
        graded = self.graded_spikes_factor
        self.spk = self.spike_grad(seen - self.threshold) * (graded * graded)
        return self.spk, mem

    def forward(self, input_: Tensor):
        if self.tau.numel() == 1:  # one shared decay filters any width, as in snnTorch
            self._check_sequence(input_, "input_", None, "channels")
        else:
            self._check_sequence(input_, "input_", self.channels, "channels")
        return self._outputs_of(self.membrane(input_))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # snnTorch also stores the constructor's beta (unused: tau is the parameter).
        state_dict.pop(prefix + "beta", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        text = f"channels={self.channels}"
        if self.kernel_truncation_steps is not None:
            text += f", kernel_truncation_steps={self.kernel_truncation_steps}"
        return text
