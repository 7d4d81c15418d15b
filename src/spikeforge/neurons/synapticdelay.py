"""``SynapticDelay``: per-channel (learnable, fractional) transmission delays.

Channel ``c`` of the output is its input ``d_c`` steps ago, for a real ``d_c ∈ [0, D]``
(``D = max_delay``), read through an interpolation kernel over the last ``D + 1`` steps:

.. math::
    y_t[c] = \\sum_{l=0}^{D} w_c[l] \\, x_{t-l}[c], \\qquad
    w_c[l] = \\frac{k(l − d_c)}{\\sum_{m=0}^{D} k(m − d_c)}

with ``k(u) = max(0, 1 − |u|)`` (``kernel="linear"``: the two taps around ``d_c``, so an
integer delay is an exact shift and a fractional one interpolates linearly) or
``k(u) = exp(−u²/2σ²)`` (``kernel="gaussian"``, smoother in ``d``). Inputs before the first
step count as zero. ``d`` is clamped to ``[0, D]`` in every call (like ``beta`` to
``[0, 1]``), so with ``learn_delay=True`` the gradient reaches it through ``w``.

``step_mode="single"`` (snnTorch's ``step_mode=True``): one call per step with ``[..., C]``;
the last ``D + 1`` inputs are kept in a ring buffer (references, so gradients flow through
every stored step); ``reset_delay()`` empties it, as ``reset_mem()`` does a neuron's state,
and a new input shape (batch size) starts from empty. ``step_mode="multi"`` (snnTorch's
``step_mode=False``): one call per sequence ``[T, ..., C]``, computed as a causal depthwise
convolution along time; it keeps no state. For the same input both give the same output.

Same constructor as snnTorch's ``SynapticDelay`` (after 1.0.0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SynapticDelay", "delay_weights"]

KERNELS = ("linear", "gaussian")


def delay_weights(delay: Tensor, max_delay: int, kernel: str, sigma: float) -> Tensor:
    """The normalised interpolation weights ``w [C, D + 1]`` (``[1, D + 1]`` for a shared
    delay); ``w[c, l]`` multiplies the input of ``l`` steps ago. ``delay`` is clamped."""
    d = delay.clamp(0.0, max_delay).reshape(-1, 1)
    lags = torch.arange(max_delay + 1, device=d.device, dtype=d.dtype)
    offset = lags - d  # [C, D + 1]
    if kernel == "linear":
        w = (1.0 - offset.abs()).clamp(min=0.0)
    else:
        w = torch.exp(-offset.square() / (2.0 * sigma * sigma))
    return w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)


def _step_mode_name(step_mode: Any) -> str:
    if step_mode is True or step_mode == "single":
        return "single"
    if step_mode is False or step_mode == "multi":
        return "multi"
    raise ValueError(
        f"step_mode must be 'single' (or True) or 'multi' (or False), got {step_mode!r}"
    )


class SynapticDelay(nn.Module):
    """Delay each channel by ``delay`` steps (fractional, optionally learnable).

    Example (an integer delay shifts exactly)::

        >>> import torch, spikeforge as snn
        >>> lag = snn.SynapticDelay(max_delay=3, delay=2.0)
        >>> [lag(torch.tensor([[float(t)]])).item() for t in range(1, 6)]
        [0.0, 0.0, 1.0, 2.0, 3.0]
    """

    def __init__(
        self,
        max_delay: int,
        delay: float | Tensor = 0.0,
        channels: int | None = None,
        learn_delay: bool = False,
        kernel: str = "linear",
        sigma: float = 1.0,
        step_mode: str | bool = "single",
    ) -> None:
        super().__init__()
        if isinstance(max_delay, bool) or not isinstance(max_delay, (int, float)):
            raise TypeError(f"max_delay must be a positive integer, got {max_delay!r}")
        if max_delay != int(max_delay) or max_delay < 1:
            raise ValueError(f"max_delay must be a positive integer, got {max_delay!r}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        if channels is not None and (isinstance(channels, bool) or int(channels) < 1):
            raise ValueError(f"channels must be a positive integer or None, got {channels!r}")
        self.max_delay = int(max_delay)
        self.kernel = kernel
        self.sigma = float(sigma)
        self.channels = None if channels is None else int(channels)
        self.step_mode = _step_mode_name(step_mode)
        self.learn_delay = learn_delay

        d = torch.as_tensor(delay)
        d = d.to(torch.get_default_dtype()) if not d.is_floating_point() else d.clone()
        if d.dim() > 1:
            raise ValueError(f"delay must be a number or a [channels] tensor, got {tuple(d.shape)}")
        if self.channels is not None:
            if d.dim() == 0:
                d = d.expand(self.channels).clone()
            elif d.shape != (self.channels,):
                raise ValueError(
                    f"delay must have shape ({self.channels},) for channels={self.channels}, "
                    f"got {tuple(d.shape)}"
                )
        if torch.isnan(d).any() or (d < 0).any() or (d > self.max_delay).any():
            raise ValueError(
                f"every delay must lie in [0, max_delay={self.max_delay}], got {d.tolist()}"
            )
        if learn_delay:
            self.delay = nn.Parameter(d)
        else:
            self.register_buffer("delay", d)
        self._ring: list[Tensor | None] = []
        self._head = 0  # slot of the newest input
        self._ring_shape: tuple[int, ...] | None = None

    # -- weights -------------------------------------------------------------------------

    def weights(self, channels: int, like: Tensor) -> Tensor:
        """``[C, D + 1]`` weights in ``like``'s dtype and device (checked against ``C``)."""
        if self.delay.dim() == 1 and self.delay.shape[0] != channels:
            raise ValueError(
                f"SynapticDelay has {self.delay.shape[0]} per-channel delays but the input's "
                f"last dimension is {channels}"
            )
        d = self.delay.to(device=like.device, dtype=like.dtype)
        return delay_weights(d, self.max_delay, self.kernel, self.sigma)

    # -- state ---------------------------------------------------------------------------

    def reset_delay(self) -> None:
        """Empty the ring buffer (call once per sequence, like ``reset_mem()``)."""
        self._ring = []
        self._head = 0
        self._ring_shape = None

    def reset_state(self) -> None:
        """``reset_delay()`` under the name ``utils.reset`` looks for (``nn.stateful``)."""
        self.reset_delay()

    # -- forward -------------------------------------------------------------------------

    def forward(self, input_: Tensor) -> Tensor:
        if not isinstance(input_, Tensor) or not input_.is_floating_point():
            raise TypeError(
                "SynapticDelay: input_ must be a floating-point torch.Tensor, got "
                f"{getattr(input_, 'dtype', type(input_).__name__)}"
            )
        if self.step_mode == "single":
            if input_.dim() < 1:
                raise ValueError("SynapticDelay: input_ must be [..., channels], got a 0-d tensor")
            return self._step(input_)
        if input_.dim() < 2:
            raise ValueError(
                "SynapticDelay: step_mode='multi' takes a sequence [T, ..., channels], got "
                f"shape {tuple(input_.shape)}"
            )
        return self._sequence(input_)

    def _step(self, x: Tensor) -> Tensor:
        """Push ``x`` into the ring; ``Σ_l w[:, l] · x_{t−l}`` over the steps kept."""
        w = self.weights(x.shape[-1], x)  # [C, D + 1]
        slots = self.max_delay + 1
        if self._ring_shape != tuple(x.shape) or len(self._ring) != slots:
            self._ring = [None] * slots  # never run, reset, or a new shape: start empty
            self._ring_shape = tuple(x.shape)
            self._head = slots - 1
        self._head = (self._head + 1) % slots
        self._ring[self._head] = x
        out = None
        for lag in range(slots):
            past = self._ring[(self._head - lag) % slots]
            if past is None:
                break  # older slots are empty too
            term = past * w[:, lag]
            out = term if out is None else out + term
        return out

    def _sequence(self, x: Tensor) -> Tensor:
        """Causal depthwise convolution of ``x [T, ..., C]`` along time."""
        steps, channels = x.shape[0], x.shape[-1]
        w = self.weights(channels, x).expand(channels, -1)  # [C, D + 1]
        rows = x.reshape(steps, -1, channels).permute(1, 2, 0)  # [B', C, T]
        rows = F.pad(rows, (self.max_delay, 0))
        # conv1d correlates: out[t] = Σ_j kernel[j] · in[t + j]; lag l sits at j = D − l
        out = F.conv1d(rows, w.flip(-1).unsqueeze(1), groups=channels)  # [B', C, T]
        return out.permute(2, 0, 1).reshape(x.shape)

    def extra_repr(self) -> str:
        d = self.delay.detach()
        shown = f"{float(d):.3g}" if d.dim() == 0 else f"[{d.numel()} channels]"
        text = f"max_delay={self.max_delay}, delay={shown}, learn_delay={self.learn_delay}, "
        text += f"kernel={self.kernel!r}"
        if self.kernel == "gaussian":
            text += f", sigma={self.sigma}"
        if self.step_mode != "single":
            text += f", step_mode={self.step_mode!r}"
        return text
