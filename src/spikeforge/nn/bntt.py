"""Batch normalisation through time (BNTT; Kim & Panda, 2020): one batch norm per step.

.. math::
    \\hat X_t = γ_t \\frac{X_t − μ_t}{\\sqrt{σ_t^2 + ε}}

Each time step ``t`` has its own statistics ``μ_t, σ_t`` and scale ``γ_t`` (initialised to 1)
and no shift: as snnTorch 1.0.0, the layers' ``bias`` is removed. Call ``bntt[t](x_t)``.
"""

from __future__ import annotations

from torch import nn

__all__ = ["BatchNormTT1d", "BatchNormTT2d"]


def _check(input_features: object, time_steps: object) -> None:
    for name, value in (("input_features", input_features), ("time_steps", time_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _through_time(norm: type[nn.Module], input_features, time_steps, eps, momentum, affine):
    _check(input_features, time_steps)
    layers = nn.ModuleList(
        norm(input_features, eps=eps, momentum=momentum, affine=affine) for _ in range(time_steps)
    )
    for layer in layers:
        layer.register_parameter("bias", None)  # no shift: BNTT scales only
    return layers


def BatchNormTT1d(
    input_features: int,
    time_steps: int,
    eps: float = 1e-5,
    momentum: float = 0.1,
    affine: bool = True,
) -> nn.ModuleList:
    """``time_steps`` ``nn.BatchNorm1d(input_features)`` layers without bias, one per step."""
    return _through_time(nn.BatchNorm1d, input_features, time_steps, eps, momentum, affine)


def BatchNormTT2d(
    input_features: int,
    time_steps: int,
    eps: float = 1e-5,
    momentum: float = 0.1,
    affine: bool = True,
) -> nn.ModuleList:
    """``time_steps`` ``nn.BatchNorm2d(input_features)`` layers without bias, one per step."""
    return _through_time(nn.BatchNorm2d, input_features, time_steps, eps, momentum, affine)
