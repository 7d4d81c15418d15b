"""Local losses: every block learns from its own readout, with no gradient between blocks.

A stack of blocks ``h_l = f_l(\\mathrm{sg}(h_{l-1}))`` (``sg`` = stop-gradient, ``detach``) each
has a readout ``r_l`` and its own loss ``L_l = \\ell(r_l(h_l), y)``. Summing the losses and
calling ``backward`` once trains every block by its own loss only:

.. math::
    \\frac{∂}{∂θ_l} \\sum_k L_k = \\frac{∂L_l}{∂θ_l}

since ``L_k`` for ``k > l`` sees ``h_l`` only through a detached copy. Shallow problems are
easier to learn; the last readout is the network's prediction.

Example::

    >>> import torch
    >>> from torch import nn
    >>> from spikeforge.learning import LocalLossNet
    >>> net = LocalLossNet([nn.Linear(4, 3), nn.Linear(3, 3)], [nn.Linear(3, 2), nn.Linear(3, 2)])
    >>> logits = net(torch.randn(5, 4))
    >>> len(logits), tuple(logits[-1].shape)
    (2, (5, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["LocalLossNet", "local_loss"]


def _features(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    """A block may return ``(spikes, membrane)``: the first item is what flows on."""
    return out[0] if isinstance(out, tuple) else out


class LocalLossNet(nn.Module):
    """Blocks with one readout each; ``forward`` returns the list of readout outputs.

    Args:
        blocks: modules applied in order; each sees a *detached* copy of the previous output
            (a block returning a tuple passes its first item on, e.g. spikes).
        readouts: one module per block mapping its output to predictions (logits).
    """

    def __init__(self, blocks: Sequence[nn.Module], readouts: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(blocks) != len(readouts):
            raise ValueError(
                f"blocks and readouts must pair up, got {len(blocks)} blocks and "
                f"{len(readouts)} readouts"
            )
        if not blocks:
            raise ValueError("blocks must not be empty")
        self.blocks = nn.ModuleList(blocks)
        self.readouts = nn.ModuleList(readouts)

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        h = x
        for block, readout in zip(self.blocks, self.readouts):
            h = _features(block(h.detach()))
            outputs.append(readout(h))
        return outputs

    def predict(self, x: Tensor) -> Tensor:
        """The last readout's output."""
        return self(x)[-1]


def local_loss(
    outputs: Sequence[Tensor],
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
) -> tuple[Tensor, list[float]]:
    """Sum of the per-block losses (call ``backward`` on it once) and each loss's value."""
    losses = [loss_fn(out, targets) for out in outputs]
    return torch.stack(losses).sum(), [float(v.detach()) for v in losses]
