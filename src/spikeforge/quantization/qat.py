"""Quantisation-aware training with straight-through estimators, as parametrizations.

Each scheme is a small module registered with ``torch.nn.utils.parametrize`` on a layer's
``weight``: the layer keeps a float "latent" weight ``w`` that the optimiser updates, and
every forward pass uses its quantised value ``ŵ = Q(w)``. The rounding has no useful
derivative, so the backward pass treats ``Q`` as the identity (straight-through estimator,
STE):

* ``"int8"``/``"int4"`` (``IntWeight``): ``ŵ = s·clamp(round(w/s))``, ``s = max|w|/(2^{b-1}−1)``
  per tensor or per output channel, by ``torch.fake_quantize_per_*_affine`` (STE built in).
* ``"binary"`` (``BinaryWeight``, BinaryConnect/XNOR): ``ŵ = α·sign(w)``, ``sign(0) = +1``,
  ``α = mean|w|`` (detached); STE clipped to ``|w| ≤ 1`` (``∂ŵ/∂w = 1_{|w|≤1}``).
* ``"ternary"`` (``TernaryWeight``, TWN): ``Δ = 0.7·mean|w|``,
  ``ŵ = α·sign(w)·1_{|w|>Δ}`` with ``α`` the mean of ``|w|`` above ``Δ`` (detached); STE identity.

``quantize_aware(model, "int4")`` registers the scheme on every ``nn.Linear``/``nn.Conv2d``;
``freeze_quantization(model)`` bakes ``ŵ`` into plain weights for export.

Example::

    >>> import torch
    >>> from spikeforge.quantization import TernaryWeight
    >>> TernaryWeight()(torch.tensor([0.9, -0.05, -0.6, 0.1])).tolist()
    [0.75, 0.0, -0.75, 0.0]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from .ptq import _check_bits, fake_quantize

__all__ = [
    "SCHEMES",
    "BinaryWeight",
    "IntWeight",
    "TernaryWeight",
    "freeze_quantization",
    "make_quantizer",
    "quantize_aware",
    "straight_through",
]

SCHEMES = ("int8", "int4", "binary", "ternary")


class _StraightThrough(torch.autograd.Function):
    """Forward: the quantised value, exactly. Backward: ``grad · pass_mask``."""

    @staticmethod
    def forward(ctx, w: Tensor, quantised: Tensor, pass_mask: Tensor | None) -> Tensor:
        ctx.save_for_backward(pass_mask)
        return quantised

    @staticmethod
    def backward(ctx, grad: Tensor):
        (pass_mask,) = ctx.saved_tensors
        return (grad if pass_mask is None else grad * pass_mask), None, None


def straight_through(w: Tensor, quantised: Tensor, pass_mask: Tensor | None = None) -> Tensor:
    """``quantised`` in the forward pass, ``∂/∂w = pass_mask`` (1 if None) in the backward."""
    return _StraightThrough.apply(w, quantised.detach(), pass_mask)


class IntWeight(nn.Module):
    """Symmetric ``bits``-bit fake quantisation (per tensor, or per channel along ``axis``)."""

    def __init__(self, bits: int = 8, per_channel: bool = False, axis: int = 0) -> None:
        super().__init__()
        _check_bits(bits)
        self.bits = bits
        self.axis = axis if per_channel else None

    def forward(self, w: Tensor) -> Tensor:
        return fake_quantize(w, self.bits, self.axis)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, axis={self.axis}"


class BinaryWeight(nn.Module):
    """``α·sign(w)`` with a clipped straight-through gradient (see module doc)."""

    def __init__(self, scale: bool = True) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, w: Tensor) -> Tensor:
        alpha = w.detach().abs().mean() if self.scale else w.new_ones(())
        binary = torch.where(w >= 0, alpha, -alpha)
        return straight_through(w, binary, (w.detach().abs() <= 1).to(w.dtype))


class TernaryWeight(nn.Module):
    """``α·sign(w)·1_{|w|>Δ}`` with ``Δ = delta_factor·mean|w|`` and identity STE."""

    def __init__(self, delta_factor: float = 0.7) -> None:
        super().__init__()
        if not delta_factor >= 0:
            raise ValueError(f"delta_factor must be >= 0, got {delta_factor}")
        self.delta_factor = delta_factor

    def forward(self, w: Tensor) -> Tensor:
        magnitude = w.detach().abs()
        keep = magnitude > self.delta_factor * magnitude.mean()
        kept = magnitude[keep]
        alpha = kept.mean() if kept.numel() else magnitude.new_zeros(())
        ternary = torch.where(keep, torch.sign(w.detach()) * alpha, torch.zeros_like(w))
        return straight_through(w, ternary)


def make_quantizer(scheme: str, per_channel: bool = False) -> nn.Module:
    """The parametrization module for ``scheme`` (one of ``SCHEMES``)."""
    if scheme == "int8":
        return IntWeight(8, per_channel)
    if scheme == "int4":
        return IntWeight(4, per_channel)
    if scheme == "binary":
        return BinaryWeight()
    if scheme == "ternary":
        return TernaryWeight()
    raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")


def quantize_aware(
    model: nn.Module, scheme: str = "int8", per_channel: bool = False, skip: tuple[str, ...] = ()
) -> nn.Module:
    """Register ``scheme`` on the ``weight`` of every ``nn.Linear``/``nn.Conv2d`` in ``model``
    (in place) except the module names in ``skip``; returns ``model``."""
    make_quantizer(scheme)  # validates the name early
    found = 0
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and name not in skip:
            parametrize.register_parametrization(
                module, "weight", make_quantizer(scheme, per_channel)
            )
            found += 1
    if not found:
        raise ValueError("quantize_aware: model has no nn.Linear or nn.Conv2d layer to quantise")
    return model


def freeze_quantization(model: nn.Module) -> nn.Module:
    """Replace each parametrized ``weight`` by its quantised value (plain tensor); in place."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model
