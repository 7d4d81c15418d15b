"""Training tricks from the seed, each one an option.

Already options of every neuron (``spikeforge.Leaky(...)``), tested in ``tests/learning``:

* **Reset detached from the graph**: the reset term ``R_t θ`` uses ``R_t = H(U_{t-1} − θ)``
  detached, so ``∂U_t/∂U_{t-1} = β`` exactly (snnTorch's behaviour; always on).
* **Learnable decay**: ``learn_beta=True`` makes ``β`` an ``nn.Parameter``.
* **Learnable thresholds**: ``learn_threshold=True`` makes ``θ`` one (the seed notes it
  rarely helps).
* **Graded spikes**: ``graded_spikes_factor=g`` (and ``learn_graded_spikes_factor=True``)
  emit ``g·H(U − θ)`` instead of 0/1.

Defined here:

* ``SpikeMajorityPool2d``: pooling on spikes, the majority of a window wins
  (``mode="max"``: any spike in the window wins, i.e. max-pooling on spikes).
* ``SpikingResidualBlock``: a residual (shortcut) connection around a spiking body.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from .. import surrogate as _surrogate

__all__ = ["SpikeMajorityPool2d", "SpikingResidualBlock"]

_CONNECTIONS = ("add", "and", "iand")


class SpikeMajorityPool2d(nn.Module):
    """Pooling on spike maps ``[..., C, H, W]``.

    ``mode="majority"``: with ``m`` the fraction of a ``k×k`` window that spiked,
    ``out = H(m − 1/2)``: a spike where strictly more than half the window spiked (a tie is
    no spike). The backward pass uses ``spike_grad`` (ATan by default) on ``m − 1/2``, so
    ``∂out/∂s_i = σ'(m − 1/2)/k²``.

    ``mode="max"``: ``out = max`` over the window (a spike where any input spiked); the
    gradient goes to the window's maximum, as in ``nn.MaxPool2d``.
    """

    def __init__(
        self,
        kernel_size: int,
        stride: int | None = None,
        mode: str = "majority",
        spike_grad: Any = None,
    ) -> None:
        super().__init__()
        if mode not in ("majority", "max"):
            raise ValueError(f"mode must be 'majority' or 'max', got {mode!r}")
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1:
            raise ValueError(f"kernel_size must be a positive int, got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.mode = mode
        self.spike_grad = _surrogate.resolve(spike_grad, False)

    def forward(self, spikes: Tensor) -> Tensor:
        if not isinstance(spikes, Tensor) or spikes.dim() < 3:
            raise ValueError("spikes must be a tensor [..., C, H, W]")
        lead = spikes.shape[:-3]
        x = spikes.reshape(-1, *spikes.shape[-3:])
        if self.mode == "max":
            out = F.max_pool2d(x, self.kernel_size, self.stride)
        else:
            fraction = F.avg_pool2d(x, self.kernel_size, self.stride)
            out = self.spike_grad(fraction - 0.5)
        return out.reshape(*lead, *out.shape[-3:])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, mode={self.mode!r}"


class SpikingResidualBlock(nn.Module):
    """``out = body(x) ⊕ x`` for spike tensors of equal shape (spike-element-wise shortcut).

    ``connect``: ``"add"`` (``body + x``, values may reach 2), ``"and"`` (``body · x``) or
    ``"iand"`` (``(1 − body) · x``, the identity when the body is silent). ``shortcut`` is an
    optional module applied to ``x`` first (e.g. a 1×1 conv with a neuron to change shapes).
    A body returning ``(spikes, state)`` contributes its spikes.
    """

    def __init__(self, body: nn.Module, connect: str = "add", shortcut: nn.Module | None = None):
        super().__init__()
        if connect not in _CONNECTIONS:
            raise ValueError(f"connect must be one of {_CONNECTIONS}, got {connect!r}")
        self.body = body
        self.shortcut = shortcut
        self.connect = connect

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        if isinstance(out, tuple):
            out = out[0]
        skip = self.shortcut(x) if self.shortcut is not None else x
        if isinstance(skip, tuple):
            skip = skip[0]
        if out.shape != skip.shape:
            raise ValueError(
                f"SpikingResidualBlock: body output {tuple(out.shape)} and shortcut "
                f"{tuple(skip.shape)} differ; give a shortcut module that matches shapes"
            )
        if self.connect == "add":
            return out + skip
        if self.connect == "and":
            return out * skip
        return (1 - out) * skip

    def extra_repr(self) -> str:
        return f"connect={self.connect!r}"
