"""Surrogate gradients: a spike's forward pass is ``S = H(x) = (x > 0)`` and its backward
pass is replaced by a smooth ``dS/dx``.

Surrogates are values (frozen dataclasses holding a name and float parameters), so a
neuron that holds one pickles, and kernels can read ``kind`` and ``params()``. The lowercase
snnTorch factories (``atan()``, ``fast_sigmoid(slope=25)``, …) return these values.

Example::

    >>> import torch
    >>> from spikeforge import surrogate
    >>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    >>> surrogate.atan()(x).tolist()
    [0.0, 0.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import ClassVar

import torch
from torch import Tensor

__all__ = [
    "LSO",
    "SFS",
    "SSO",
    "ATan",
    "ATanSurrogate",
    "CustomSurrogate",
    "Disabled",
    "FastSigmoid",
    "Heaviside",
    "LeakySpikeOperator",
    "Sigmoid",
    "SparseFastSigmoid",
    "SpikeRateEscape",
    "StochasticSpikeOperator",
    "StraightThroughEstimator",
    "Surrogate",
    "Triangular",
    "atan",
    "custom_surrogate",
    "fast_sigmoid",
    "heaviside",
    "resolve",
    "sigmoid",
    "spike_rate_escape",
    "straight_through_estimator",
    "triangular",
]


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, ``surrogate.backward`` in the backward pass."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (x,) = ctx.saved_tensors
        return ctx.surrogate.backward(x, grad_output), None


def _require_real(name: str, value: float, cls: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{cls}: {name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{cls}: {name} must be finite, got {value}")


def _require_positive(name: str, value: float, cls: str) -> None:
    _require_real(name, value, cls)
    if not value > 0:
        raise ValueError(f"{cls}: {name} must be > 0, got {value}")


def _require_non_negative(name: str, value: float, cls: str) -> None:
    _require_real(name, value, cls)
    if value < 0:
        raise ValueError(f"{cls}: {name} must be >= 0, got {value}")


@dataclass(frozen=True)
class Surrogate:
    """Base class. Subclasses define ``grad(x)`` (the surrogate ``dS/dx``)."""

    kind: ClassVar[str] = "base"

    def __call__(self, x: Tensor) -> Tensor:
        return _SpikeFunction.apply(x, self)

    def grad(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def backward(self, x: Tensor, grad_output: Tensor) -> Tensor:
        return grad_output * self.grad(x)

    def params(self) -> tuple[float, ...]:
        """The float parameters in declaration order (what kernels receive)."""
        return tuple(float(v) for v in astuple(self))

    @classmethod
    def apply(cls, x: Tensor, *params: float) -> Tensor:
        """snnTorch spelling: ``ATan.apply(x, alpha)`` equals ``ATan(alpha)(x)``."""
        return cls(*params)(x)


@dataclass(frozen=True)
class ATan(Surrogate):
    """``dS/dx = (α/2) / (1 + (π/2 · α · x)²)`` (snnTorch's default, α = 2)."""

    alpha: float = 2.0
    kind: ClassVar[str] = "atan"

    def __post_init__(self) -> None:
        _require_positive("alpha", self.alpha, "ATan")

    def grad(self, x: Tensor) -> Tensor:
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x).pow(2))


# snnTorch after 1.0.0 names the class behind ``atan()`` ``ATanSurrogate``: the same class.
ATanSurrogate = ATan


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """``dS/dx = 1 / (k·|x| + 1)²``."""

    slope: float = 25.0
    kind: ClassVar[str] = "fast_sigmoid"

    def __post_init__(self) -> None:
        _require_positive("slope", self.slope, "FastSigmoid")

    def grad(self, x: Tensor) -> Tensor:
        return 1.0 / (self.slope * x.abs() + 1.0) ** 2


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """``dS/dx = k·σ(kx)·(1 − σ(kx))``.

    Equal to snnTorch's ``k e^{−kx} / (e^{−kx} + 1)²`` but written so it never
    overflows to NaN for large negative ``x`` (snnTorch returns NaN there).
    """

    slope: float = 25.0
    kind: ClassVar[str] = "sigmoid"

    def __post_init__(self) -> None:
        _require_positive("slope", self.slope, "Sigmoid")

    def grad(self, x: Tensor) -> Tensor:
        s = torch.sigmoid(self.slope * x)
        return self.slope * s * (1 - s)


@dataclass(frozen=True)
class StraightThroughEstimator(Surrogate):
    """``dS/dx = 1``."""

    kind: ClassVar[str] = "straight_through"

    def grad(self, x: Tensor) -> Tensor:
        return torch.ones_like(x)


@dataclass(frozen=True)
class Triangular(Surrogate):
    """snnTorch's triangular: ``dS/dx = θ`` for ``x < 0`` and ``−θ`` for ``x ≥ 0``."""

    threshold: float = 1.0
    kind: ClassVar[str] = "triangular"

    def __post_init__(self) -> None:
        _require_positive("threshold", self.threshold, "Triangular")

    def grad(self, x: Tensor) -> Tensor:
        sign = 1 - 2 * (x >= 0).to(x.dtype)  # +1 below zero, −1 at or above
        return sign * self.threshold


@dataclass(frozen=True)
class Heaviside(Surrogate):
    """``dS/dx = H(x)``: gradient passes only where the neuron spiked."""

    kind: ClassVar[str] = "heaviside"

    def grad(self, x: Tensor) -> Tensor:
        return (x > 0).to(x.dtype)


@dataclass(frozen=True)
class SpikeRateEscape(Surrogate):
    """``dS/dx = k · exp(−β·|x − 1|)``."""

    beta: float = 1.0
    slope: float = 25.0
    kind: ClassVar[str] = "spike_rate_escape"

    def __post_init__(self) -> None:
        _require_non_negative("beta", self.beta, "SpikeRateEscape")
        _require_positive("slope", self.slope, "SpikeRateEscape")

    def grad(self, x: Tensor) -> Tensor:
        return self.slope * torch.exp(-self.beta * (x - 1).abs())


@dataclass(frozen=True)
class StochasticSpikeOperator(Surrogate):
    """``dS/dx = 1`` where spiking, else ``(U(−½, ½) + mean) · variance`` (random)."""

    mean: float = 0.0
    variance: float = 0.2
    kind: ClassVar[str] = "sso"

    def __post_init__(self) -> None:
        _require_real("mean", self.mean, "StochasticSpikeOperator")
        _require_non_negative("variance", self.variance, "StochasticSpikeOperator")

    def grad(self, x: Tensor) -> Tensor:
        noise = (torch.rand_like(x) - 0.5 + self.mean) * self.variance
        return torch.where(x > 0, torch.ones_like(x), noise)


@dataclass(frozen=True)
class LeakySpikeOperator(Surrogate):
    """``dS/dx = 1`` where spiking, else ``k`` (a threshold-shifted leaky ReLU)."""

    slope: float = 0.1
    kind: ClassVar[str] = "lso"

    def __post_init__(self) -> None:
        _require_positive("slope", self.slope, "LeakySpikeOperator")

    def grad(self, x: Tensor) -> Tensor:
        return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, self.slope))


@dataclass(frozen=True)
class SparseFastSigmoid(Surrogate):
    """``dS/dx = 1/(k·|x| + 1)² · H(x − B)``."""

    slope: float = 25.0
    B: float = 1.0
    kind: ClassVar[str] = "sfs"

    def __post_init__(self) -> None:
        _require_positive("slope", self.slope, "SparseFastSigmoid")
        _require_real("B", self.B, "SparseFastSigmoid")

    def grad(self, x: Tensor) -> Tensor:
        return (x > self.B).to(x.dtype) / (self.slope * x.abs() + 1.0) ** 2


@dataclass(frozen=True)
class Disabled(Surrogate):
    """No gradient through the spike (snnTorch's ``surrogate_disable=True``)."""

    kind: ClassVar[str] = "disabled"

    def __call__(self, x: Tensor) -> Tensor:
        return (x > 0).to(x.dtype).detach()

    def grad(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)


@dataclass(frozen=True)
class CustomSurrogate(Surrogate):
    """A user's backward ``fn(input_, grad_input, out) -> grad`` (snnTorch's signature).

    It pickles only if ``fn`` does (a module-level function does). Fused kernels cannot
    run it, so neurons using it always take the reference backend.
    """

    fn: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
    kind: ClassVar[str] = "custom"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"custom_surrogate: fn must be callable, got {self.fn!r}")

    def backward(self, x: Tensor, grad_output: Tensor) -> Tensor:
        return self.fn(x, grad_output.clone(), (x > 0).to(x.dtype))

    def params(self) -> tuple[float, ...]:
        return ()


# snnTorch-named factories ----------------------------------------------------------------


def atan(alpha: float = 2.0) -> ATan:
    """Arc-tangent surrogate (the default of every neuron)."""
    return ATan(alpha)


def fast_sigmoid(slope: float = 25) -> FastSigmoid:
    """Fast-sigmoid surrogate (Zenke & Ganguli's SuperSpike)."""
    return FastSigmoid(slope)


def sigmoid(slope: float = 25) -> Sigmoid:
    """Logistic-sigmoid surrogate."""
    return Sigmoid(slope)


def straight_through_estimator() -> StraightThroughEstimator:
    """Identity gradient."""
    return StraightThroughEstimator()


def triangular(threshold: float = 1) -> Triangular:
    """snnTorch's triangular surrogate."""
    return Triangular(threshold)


def heaviside() -> Heaviside:
    """Gradient only where spiked."""
    return Heaviside()


def spike_rate_escape(beta: float = 1, slope: float = 25) -> SpikeRateEscape:
    """Escape-noise (Boltzmann) surrogate."""
    return SpikeRateEscape(beta, slope)


def SSO(mean: float = 0, variance: float = 0.2) -> StochasticSpikeOperator:
    """Stochastic spike operator."""
    return StochasticSpikeOperator(mean, variance)


def LSO(slope: float = 0.1) -> LeakySpikeOperator:
    """Leaky spike operator (works here; it raises in snnTorch 1.0.0)."""
    return LeakySpikeOperator(slope)


def SFS(slope: float = 25, B: float = 1) -> SparseFastSigmoid:
    """Sparse fast sigmoid."""
    return SparseFastSigmoid(slope, B)


def custom_surrogate(custom_surrogate_function: Callable) -> CustomSurrogate:
    """Wrap ``fn(input_, grad_input, out) -> grad`` as a surrogate."""
    return CustomSurrogate(custom_surrogate_function)


def resolve(spike_grad: object = None, surrogate_disable: bool = False) -> Callable:
    """The spike function a neuron uses: ATan(2) by default, ``Disabled`` when disabled.

    A ``Surrogate`` value is returned as is; any other callable (an snnTorch-style closure
    ``x -> spikes``) is accepted and forces the reference backend.
    """
    if surrogate_disable:
        return Disabled()
    if spike_grad is None:
        return ATan()
    if not callable(spike_grad):
        raise TypeError(
            "spike_grad must be a surrogate (e.g. surrogate.atan()) or a callable, "
            f"got {type(spike_grad).__name__}"
        )
    return spike_grad
