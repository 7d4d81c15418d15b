"""``LeakyParallel``: a leaky layer over a whole sequence through ``torch.nn.RNN``.

.. math::
    U_t = \\mathrm{ReLU}(W_{ih} X_t + b_{ih} + W_{hh} U_{t-1} + b_{hh}), \\qquad
    S_t = H(U_t − θ) · g

``W_hh`` is diagonal (the decay ``β`` of each neuron) unless ``weight_hh_enable=True``; it
is trained only with ``learn_beta=True`` (its off-diagonal gradient then masked). There is
no reset, and the ReLU clips negative membranes (snnTorch 1.0.0's model). The recurrence
runs in PyTorch's fused RNN kernels (cuDNN on a GPU).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .. import surrogate as _surrogate
from ._base import as_float_tensor

__all__ = ["LeakyParallel"]


def _scalar_tensor(name: str, value: Any) -> Tensor:
    return as_float_tensor(name, value, owner="LeakyParallel", check_nan=False)


class LeakyParallel(nn.Module):
    """Leaky neurons over a time-major sequence in one call: ``spk = lif(x)``.

    Same constructor, call and return as ``snntorch.LeakyParallel``: input ``[T, B,
    input_size]`` (or ``[T, input_size]``), output spikes ``[T, B, hidden_size]``. The
    input weights ``rnn.weight_ih_l0`` are a fused linear layer. ``beta=None`` keeps the
    RNN's random recurrent initialisation (masked to its diagonal); a number sets every
    entry of ``W_hh`` to ``β`` (clamped to [0, 1]) before that mask, a tensor of
    ``hidden_size`` values sets one decay per neuron (snnTorch 1.0.0 ignores such a
    tensor: see the README's compatibility table).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        beta: float | Tensor | None = None,
        bias: bool = True,
        threshold: float | Tensor = 1.0,
        dropout: float = 0.0,
        spike_grad: Any = None,
        surrogate_disable: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
        weight_hh_enable: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LeakyParallel: {name} must be a positive int, got {value!r}")
        self.rnn = nn.RNN(
            input_size,
            hidden_size,
            num_layers=1,
            nonlinearity="relu",
            bias=bias,
            batch_first=False,
            dropout=dropout,
            device=device,
            dtype=dtype,
        )
        self.hidden_size = hidden_size
        beta_t = None
        if beta is not None:
            beta_t = _scalar_tensor("beta", beta).reshape(-1).clamp(0, 1)
            if beta_t.numel() not in (1, hidden_size):
                raise ValueError(
                    f"LeakyParallel: beta must be a single value or hidden_size={hidden_size} "
                    f"values, got {beta_t.numel()}"
                )
        self.register_buffer("beta", beta_t)
        self.spike_grad = _surrogate.resolve(spike_grad, surrogate_disable)
        self.surrogate_disable = surrogate_disable
        self._beta_to_weight_hh()
        if not weight_hh_enable:
            self.weight_hh_enable()  # keep only the diagonal: one decay per neuron
            if learn_beta:
                self.rnn.weight_hh_l0.register_hook(self.grad_hook)
        if not learn_beta:
            self.rnn.weight_hh_l0.requires_grad_(False)
        for name, value, learn in (
            ("threshold", threshold, learn_threshold),
            ("graded_spikes_factor", graded_spikes_factor, learn_graded_spikes_factor),
        ):
            tensor = _scalar_tensor(name, value)
            if learn:
                setattr(self, name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)

    def _beta_to_weight_hh(self) -> None:
        """Write ``β`` into ``W_hh``: every entry (one value) or row ``i`` (per neuron)."""
        if self.beta is None:
            return
        with torch.no_grad():
            weight = self.rnn.weight_hh_l0
            if self.beta.numel() == 1:
                weight.fill_(self.beta[0].item())
            else:
                weight.copy_(self.beta.to(weight).unsqueeze(1).expand_as(weight))

    def weight_hh_enable(self) -> None:
        """Zero the off-diagonal entries of ``W_hh`` (snnTorch's name for this step)."""
        mask = torch.eye(self.hidden_size, device=self.rnn.weight_hh_l0.device)
        self.rnn.weight_hh_l0.data = self.rnn.weight_hh_l0.data * mask

    def grad_hook(self, grad: Tensor) -> Tensor:
        """Keep only the diagonal of ``W_hh``'s gradient."""
        return grad * torch.eye(self.hidden_size, device=grad.device, dtype=grad.dtype)

    def forward(self, input_: Tensor) -> Tensor:
        if not isinstance(input_, Tensor) or not input_.is_floating_point():
            raise TypeError("LeakyParallel: input_ must be a floating-point torch.Tensor")
        if input_.dim() not in (2, 3) or input_.shape[-1] != self.rnn.input_size:
            raise ValueError(
                f"LeakyParallel: input_ must have shape [T, B, input_size={self.rnn.input_size}]"
                f" or [T, input_size], got {tuple(input_.shape)}"
            )
        mem, _ = self.rnn(input_)
        return self.spike_grad(mem - self.threshold) * self.graded_spikes_factor

    def extra_repr(self) -> str:
        return f"input_size={self.rnn.input_size}, hidden_size={self.hidden_size}"
