"""``AssociativeLeaky``: a spiking associative memory with a matrix state (an SSM).

.. math::
    v_t = W_v X_t, \\quad k_t = W_k X_t, \\quad a_t = σ(W_a X_t), \\quad P_t = \\prod_{s≤t} a_s

    S_t = \\sum_{r ≤ t} \\frac{P_t}{P_r + 10^{-8}} \\, v_r k_r^⊤
        \\;\\; (≈ S_{t-1} \\operatorname{diag}(a_t) + v_t k_t^⊤), \\qquad
    Z_t = H(S_t − θ), \\qquad Y_t = Z_t \\, Q_t

with ``S_t`` a ``d_value × d_key`` matrix, the decay ``a_t`` per key column and ``Q_t =
W_q X_t`` viewed as ``d_key × d_value`` (or ``Y_t = Z_t`` flattened without the readout).
As snnTorch 1.0.0 the products ``P_t`` come from a cumulative sum of ``log(max(a, 10^{-8}))``
and the sum from a cumulative sum: O(T), no step loop. Once ``P_t`` falls below about
``10^{-8}`` that division no longer equals the recurrence (snnTorch's numbers are kept).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._base import SpikingNeuron

__all__ = ["AssociativeLeaky"]

EPS = 1e-8


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"AssociativeLeaky: {name} must be a positive int, got {value!r}")
    return value


class AssociativeLeaky(SpikingNeuron):
    """Associative-memory spiking layer: ``y = lif(x)``, ``x [T, B, in_dim]``.

    Same constructor, call and return as ``snntorch.AssociativeLeaky``: returns ``[T, B,
    d_value·d_value]`` with the ``Q`` readout (``use_q_projection=True``), else the spiking
    state flattened, ``[T, B, d_value·d_key]``. ``num_spiking_neurons`` must equal
    ``d_value·d_key`` (None infers it); ``from_num_spiking_neurons`` takes a perfect square
    and sets ``d_value = d_key``. Threshold 1 and the ATan surrogate, as snnTorch.
    """

    def __init__(
        self,
        in_dim: int,
        d_value: int,
        d_key: int,
        num_spiking_neurons: int | None,
        use_q_projection: bool = True,
    ) -> None:
        _positive_int("in_dim", in_dim)
        _positive_int("d_value", d_value)
        _positive_int("d_key", d_key)
        if num_spiking_neurons is None:
            num_spiking_neurons = d_value * d_key
        elif num_spiking_neurons != d_value * d_key:
            raise ValueError(
                f"AssociativeLeaky: num_spiking_neurons={num_spiking_neurons} must equal "
                f"d_value * d_key = {d_value * d_key}"
            )
        super().__init__(output=True)
        self.d_value = d_value
        self.d_key = d_key
        self.num_spiking_neurons = num_spiking_neurons
        self.use_q_projection = use_q_projection
        self.eps = EPS
        # Created in snnTorch's order, so one seed gives both libraries the same weights.
        self.to_v = nn.Linear(in_dim, d_value)
        self.to_k = nn.Linear(in_dim, d_key)
        self.to_alpha = nn.Linear(in_dim, d_key)
        self.to_q = nn.Linear(in_dim, num_spiking_neurons) if use_q_projection else None

    @classmethod
    def from_num_spiking_neurons(
        cls, in_dim: int, num_spiking_neurons: int, use_q_projection: bool = True
    ) -> AssociativeLeaky:
        """``d_value = d_key = √num_spiking_neurons`` (a perfect square)."""
        _positive_int("num_spiking_neurons", num_spiking_neurons)
        side = math.isqrt(num_spiking_neurons)
        if side * side != num_spiking_neurons:
            raise ValueError(
                f"AssociativeLeaky: num_spiking_neurons={num_spiking_neurons} must be a "
                "perfect square to set d_value = d_key = sqrt(num_spiking_neurons)"
            )
        return cls(in_dim, side, side, num_spiking_neurons, use_q_projection)

    def state_sequence(self, x: Tensor) -> Tensor:
        """``S_t`` for every step: ``[T, B, d_value, d_key]``."""
        v, k = self.to_v(x), self.to_k(x)
        decay = torch.sigmoid(self.to_alpha(x))  # [T, B, n]
        prefix = decay.clamp_min(self.eps).log().cumsum(0).exp()  # P_t
        writes = v.unsqueeze(-1) * k.unsqueeze(-2)  # v_r k_r^T: [T, B, d, n]
        scaled = writes * (1.0 / (prefix + EPS)).unsqueeze(-2)
        return scaled.cumsum(0) * prefix.unsqueeze(-2)

    def forward(self, x: Tensor) -> Tensor:
        cls = type(self).__name__
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"{cls}: x must be a floating-point torch.Tensor")
        if x.dim() != 3 or x.shape[-1] != self.to_v.in_features:
            raise ValueError(
                f"{cls}: x must have shape [T, B, in_dim={self.to_v.in_features}], "
                f"got {tuple(x.shape)}"
            )
        steps, batch, _ = x.shape
        d, n = self.d_value, self.d_key
        state = self.state_sequence(x).reshape(steps, batch, d * n)
        if self.state_quant:
            state = self.state_quant(state)
        if self.output:
            seen = self.state_quant(state) if self.state_quant else state  # (again, as fire)
            state = self.spike_grad(seen - self.threshold) * self.graded_spikes_factor
        if self.to_q is None:
            return state
        readout = self.to_q(x).reshape(steps * batch, n, d)
        out = torch.bmm(state.reshape(steps * batch, d, n), readout)
        return out.reshape(steps, batch, d * d)

    def extra_repr(self) -> str:
        return f"d_value={self.d_value}, d_key={self.d_key}"
