"""Post-training quantisation of weights and membrane state.

Weights use symmetric uniform quantisation to ``b`` bits, per tensor or per output channel:

.. math::
    s = \\frac{\\max |w|}{2^{b-1} - 1}, \\qquad
    q = \\mathrm{clamp}(\\mathrm{round}(w / s), -2^{b-1}, 2^{b-1} - 1), \\qquad \\hat w = s q

(``round`` is half-to-even, as PyTorch's fake-quantize ops). The fake-quantized ``ŵ`` is
computed by ``torch.fake_quantize_per_tensor_affine``/``..._per_channel_affine``, whose
gradient is the straight-through estimator (1 inside the range, 0 outside).

The membrane state is quantised on a fixed grid of ``2^b`` levels from ``lower`` to
``upper`` (``quantize_state``); pass the returned callable as a neuron's ``state_quant=``.

Example::

    >>> import torch
    >>> from spikeforge.quantization import quantize
    >>> qt = quantize(torch.tensor([0.7, -1.0, 0.26]), bits=4)
    >>> qt.values.tolist(), round(qt.scale.item(), 4)
    ([5, -7, 2], 0.1429)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "QuantizedTensor",
    "StateQuantizer",
    "fake_quantize",
    "quantize",
    "quantize_state",
    "quantize_weights_",
]

_TINY = 1e-12


def _check_bits(bits: int, low: int = 2, high: int = 8) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"bits must be an int, got {bits!r}")
    if not low <= bits <= high:
        raise ValueError(f"bits must be in [{low}, {high}], got {bits}")


@dataclass(frozen=True)
class QuantizedTensor:
    """Integer codes with their scale: ``dequantize() = values · scale`` (zero point 0).

    ``scale`` is a scalar tensor (per tensor) or ``[C]`` along ``axis`` (per channel).
    """

    values: Tensor
    scale: Tensor
    bits: int
    axis: int | None = None

    def dequantize(self) -> Tensor:
        scale = self.scale
        if self.axis is not None:
            shape = [1] * self.values.dim()
            shape[self.axis] = -1
            scale = scale.reshape(shape)
        return self.values.to(scale.dtype) * scale


def _symmetric_scale(w: Tensor, bits: int, axis: int | None) -> Tensor:
    qmax = 2 ** (bits - 1) - 1
    if axis is None:
        peak = w.detach().abs().max()
    else:
        dims = [d for d in range(w.dim()) if d != axis % w.dim()]
        peak = w.detach().abs().amax(dim=dims) if dims else w.detach().abs()
    return (peak / qmax).clamp_min(_TINY).float()


def fake_quantize(w: Tensor, bits: int = 8, axis: int | None = None) -> Tensor:
    """``ŵ = s·q`` with the STE gradient; ``axis`` set for per-channel scales."""
    _check_bits(bits)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    scale = _symmetric_scale(w, bits, axis)
    if axis is None:
        zero = torch.zeros((), dtype=torch.int32, device=w.device)
        return torch.fake_quantize_per_tensor_affine(w, scale, zero, qmin, qmax)
    zeros = torch.zeros(scale.shape, dtype=torch.int32, device=w.device)
    return torch.fake_quantize_per_channel_affine(w, scale, zeros, axis % w.dim(), qmin, qmax)


def quantize(w: Tensor, bits: int = 8, axis: int | None = None) -> QuantizedTensor:
    """Integer codes (``int8`` storage) and scales of ``w``; see the module equation."""
    _check_bits(bits)
    scale = _symmetric_scale(w, bits, axis)
    if axis is None:
        view = scale
    else:
        shape = [1] * w.dim()
        shape[axis % w.dim()] = -1
        view = scale.reshape(shape)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    codes = torch.round(w.detach().float() / view).clamp(qmin, qmax).to(torch.int8)
    return QuantizedTensor(codes, scale, bits, None if axis is None else axis % w.dim())


def quantize_weights_(
    model: nn.Module, bits: int = 8, per_channel: bool = True
) -> dict[str, QuantizedTensor]:
    """Post-training quantisation: overwrite the weight of every ``nn.Linear``/``nn.Conv*d``
    in ``model`` by its fake-quantized value (in place). Per channel means one scale per
    output unit (axis 0). Returns ``{module name: QuantizedTensor}`` (the integer codes).
    """
    codes = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                axis = 0 if per_channel else None
                qt = quantize(module.weight, bits, axis)
                module.weight.copy_(qt.dequantize().to(module.weight.dtype))
                codes[name] = qt
    if not codes:
        raise ValueError("quantize_weights_: model has no nn.Linear or nn.Conv layer")
    return codes


@dataclass(frozen=True)
class StateQuantizer:
    """Snap ``U`` to ``2^bits`` uniform levels on ``[lower, upper]`` (a picklable value)."""

    bits: int
    lower: float
    upper: float

    def __post_init__(self) -> None:
        _check_bits(self.bits, low=1)
        if not self.lower <= 0 < self.upper:
            raise ValueError(f"need lower <= 0 < upper, got lower={self.lower}, upper={self.upper}")

    @property
    def scale(self) -> float:
        return (self.upper - self.lower) / (2**self.bits - 1)

    def __call__(self, mem: Tensor) -> Tensor:
        zero_point = round(-self.lower / self.scale)
        return torch.fake_quantize_per_tensor_affine(
            mem, self.scale, zero_point, 0, 2**self.bits - 1
        )


def quantize_state(bits: int = 8, lower: float = -1.0, upper: float = 2.0) -> StateQuantizer:
    """A ``state_quant`` callable: snap ``U`` to ``2^b`` uniform levels on ``[lower, upper]``.

    Values outside the range are clamped (their gradient is 0); inside, the gradient is
    passed straight through. ``lower ≤ 0 < upper`` is required so that 0 is a level.
    """
    return StateQuantizer(bits, float(lower), float(upper))
