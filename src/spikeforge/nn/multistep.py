"""Helpers for networks run in ``step_mode="multi"`` (time-major ``[T, B, ...]`` tensors).

Stateless layers (linear, conv, pooling, batch norm, dropout) have no notion of time; a
multi-step network applies them to all steps at once by folding ``[T, B, ...]`` into
``[T·B, ...]``. ``nn.Linear`` and ``nn.Flatten(start_dim=2)`` already accept the extra
leading axis; convolutions and pooling need ``SeqToANN``.

Example::

    >>> import torch, spikeforge as snn
    >>> from spikeforge.nn import SeqToANN, set_step_mode
    >>> net = torch.nn.Sequential(
    ...     SeqToANN(torch.nn.Conv2d(1, 4, 3), torch.nn.MaxPool2d(2)),
    ...     snn.Leaky(beta=0.9, init_hidden=True),
    ... )
    >>> set_step_mode(net, "multi")(torch.rand(10, 8, 1, 28, 28)).shape
    torch.Size([10, 8, 4, 13, 13])
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SeqToANN", "set_step_mode"]


class SeqToANN(nn.Sequential):
    """Run stateless layers on ``[T, B, ...]`` as one batch ``[T·B, ...]``, then unfold."""

    def forward(self, x_seq: Tensor) -> Tensor:
        if not isinstance(x_seq, Tensor) or x_seq.dim() < 3:
            raise ValueError(
                "SeqToANN: x_seq must be a time-major tensor [T, B, features...], got "
                f"{tuple(x_seq.shape) if isinstance(x_seq, Tensor) else type(x_seq).__name__}"
            )
        T, B = x_seq.shape[:2]
        y = super().forward(x_seq.flatten(0, 1))
        return y.view(T, B, *y.shape[1:])


def set_step_mode(net: nn.Module, step_mode: str) -> nn.Module:
    """Set ``step_mode`` (``"single"`` or ``"multi"``) on every spiking neuron in ``net``.

    Returns ``net``. Only ``net.modules()`` is touched (no global registry).
    """
    from ..neurons._base import STEP_MODES, SpikingNeuron

    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be one of {STEP_MODES}, got {step_mode!r}")
    for module in net.modules():
        if isinstance(module, SpikingNeuron):
            module.step_mode = step_mode
    return net
