"""Forward-forward training of spiking layers (Hinton, 2022).

No backward pass through the network: each layer runs twice, on *positive* data (an input
with its true label embedded) and on *negative* data (the same input with a wrong label),
and learns locally to make its goodness high on the first and low on the second:

.. math::
    g = \\frac{1}{H}\\sum_j r_j^2, \\quad r_j = \\frac{1}{T}\\sum_t S_{t,j}
    \\quad (\\text{``rate''}) \\qquad\\text{or}\\qquad
    g = \\frac{1}{TH}\\sum_{t,j} U_{t,j}^2 \\quad (\\text{``membrane''})

.. math::
    L = \\mathrm{softplus}(θ_{ff} - g^+) + \\mathrm{softplus}(g^- - θ_{ff})
    \\quad (\\text{averaged over the batch})

Each layer has its own optimiser; the next layer sees the detached spike trains. To classify,
embed every label in turn and pick the one with the largest goodness summed over layers.

Example::

    >>> import torch
    >>> from spikeforge.learning import embed_label
    >>> embed_label(torch.full((1, 4), 0.5), torch.tensor([1]), num_classes=2).tolist()
    [[0.0, 1.0, 0.5, 0.5]]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._layers import SpikingDense

__all__ = ["ForwardForward", "embed_label", "ff_layer_loss", "goodness"]

GOODNESS_KINDS = ("rate", "membrane")


def embed_label(x: Tensor, labels: Tensor, num_classes: int, value: float = 1.0) -> Tensor:
    """Overwrite the first ``num_classes`` features of ``x [..., B, F]`` by the one-hot label
    (times ``value``); the rest is kept. Returns a new tensor."""
    if x.shape[-1] < num_classes:
        raise ValueError(f"x needs at least num_classes={num_classes} features, got {x.shape[-1]}")
    if labels.shape != x.shape[-2:-1]:
        raise ValueError(
            f"labels must have shape {tuple(x.shape[-2:-1])}, got {tuple(labels.shape)}"
        )
    out = x.clone()
    out[..., :num_classes] = 0
    one_hot = F.one_hot(labels, num_classes).to(x.dtype) * value
    out[..., :num_classes] = one_hot.expand_as(out[..., :num_classes])
    return out


def goodness(spikes: Tensor, mem: Tensor, kind: str = "rate") -> Tensor:
    """Per-sample goodness ``[B]`` of a layer's ``[T, B, H]`` recordings (see module doc)."""
    if kind == "rate":
        return spikes.mean(0).pow(2).mean(-1)
    if kind == "membrane":
        return mem.pow(2).mean((0, -1))
    raise ValueError(f"goodness kind must be one of {GOODNESS_KINDS}, got {kind!r}")


def ff_layer_loss(good_pos: Tensor, good_neg: Tensor, threshold: float) -> Tensor:
    """``mean(softplus(θ − g⁺) + softplus(g⁻ − θ))``."""
    return (F.softplus(threshold - good_pos) + F.softplus(good_neg - threshold)).mean()


class ForwardForward(nn.Module):
    """A stack of ``SpikingDense`` layers trained layer by layer with forward-forward.

    Args:
        sizes: ``[F_in, H_1, H_2, …]``.
        num_classes: labels embedded in the first ``num_classes`` input features.
        threshold: ``θ_ff`` of the layer loss.
        goodness_kind: ``"rate"`` or ``"membrane"``.
        lr: Adam learning rate of every layer's own optimiser.
        beta: membrane decay of the neurons.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        num_classes: int = 10,
        threshold: float = 0.1,
        goodness_kind: str = "rate",
        lr: float = 1e-3,
        beta: float = 0.9,
    ) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes must list the input and at least one layer, got {sizes}")
        if goodness_kind not in GOODNESS_KINDS:
            raise ValueError(
                f"goodness_kind must be one of {GOODNESS_KINDS}, got {goodness_kind!r}"
            )
        self.layers = nn.ModuleList(
            SpikingDense(a, b, beta=beta) for a, b in itertools.pairwise(sizes)
        )
        self.num_classes = num_classes
        self.threshold = threshold
        self.goodness_kind = goodness_kind
        self.optimizers = [torch.optim.Adam(layer.parameters(), lr=lr) for layer in self.layers]

    def train_step(self, x_pos: Tensor, x_neg: Tensor) -> list[float]:
        """One update of every layer on ``[T, B, F]`` positive and negative inputs."""
        losses = []
        for layer, opt in zip(self.layers, self.optimizers):
            spk_pos, mem_pos = layer(x_pos)
            spk_neg, mem_neg = layer(x_neg)
            g_pos = goodness(spk_pos, mem_pos, self.goodness_kind)
            g_neg = goodness(spk_neg, mem_neg, self.goodness_kind)
            loss = ff_layer_loss(g_pos, g_neg, self.threshold)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            x_pos, x_neg = spk_pos.detach(), spk_neg.detach()
        return losses

    @torch.no_grad()
    def total_goodness(self, x: Tensor) -> Tensor:
        """Goodness summed over layers, ``[B]``, for ``[T, B, F]`` input."""
        total = x.new_zeros(x.shape[1])
        for layer in self.layers:
            spk, mem = layer(x)
            total = total + goodness(spk, mem, self.goodness_kind)
            x = spk
        return total

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Class ``[B]`` whose embedded label gives the most goodness; ``x`` is ``[T, B, F]``."""
        scores = []
        for c in range(self.num_classes):
            labels = torch.full((x.shape[1],), c, dtype=torch.long, device=x.device)
            scores.append(self.total_goodness(embed_label(x, labels, self.num_classes)))
        return torch.stack(scores, -1).argmax(-1)
