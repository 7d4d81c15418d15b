"""Random feedback: feedback alignment (FA) and direct feedback alignment (DFA).

Backprop sends a layer's error down through the transposed forward weights,
``δ_{in} = δ_{out} W``. **FA** (Lillicrap et al., 2016) sends it through a fixed random
matrix ``B`` of the same shape instead:

.. math::
    y = x W^T + b, \\qquad
    \\frac{∂L}{∂x} := δ B, \\qquad \\frac{∂L}{∂W} = δ^T x, \\qquad \\frac{∂L}{∂b} = Σ δ

(the weight and bias gradients are the true ones; only the signal sent downward changes).

**DFA** (Nøkland, 2016) skips the chain: the output error ``e = ∂L/∂y`` goes straight to
every hidden layer ``l`` through its own fixed matrix ``B_l`` of shape ``[C, H_l]``:

.. math::
    \\frac{∂L}{∂h_l} := e B_l

Mark the network output with ``dfa.output(y)`` and each hidden layer's output (e.g. its
spikes) with ``dfa.hidden(h, layer)``; the gradient arriving from above a hidden tap is
discarded and replaced by ``e B_l``, which then flows into that layer's own weights (through
its surrogate and its own membrane recurrence) as usual.

Example::

    >>> import torch
    >>> from spikeforge.learning import FALinear
    >>> layer = FALinear(3, 2)
    >>> x = torch.randn(4, 3, requires_grad=True)
    >>> layer(x).sum().backward()
    >>> torch.allclose(x.grad, torch.ones(4, 2) @ layer.feedback)
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["DirectFeedbackAlignment", "FALinear", "to_feedback_alignment"]


class _FeedbackAlignmentLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, feedback: Tensor) -> Tensor:
        ctx.save_for_backward(x, feedback)
        ctx.has_bias = bias is not None
        return nn.functional.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback.to(grad_out.dtype)
        flat_out = grad_out.reshape(-1, grad_out.shape[-1])
        grad_w = flat_out.t() @ x.reshape(-1, x.shape[-1]).to(grad_out.dtype)
        grad_b = flat_out.sum(0) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None


def _random_like_init(
    out_features: int, in_features: int, generator: torch.Generator | None
) -> Tensor:
    """Uniform in ``±1/sqrt(in)``: the scale ``nn.Linear`` gives its own weights."""
    bound = 1.0 / math.sqrt(in_features)
    draw = torch.rand(out_features, in_features, generator=generator)
    return (2 * draw - 1) * bound


class FALinear(nn.Linear):
    """``nn.Linear`` whose backward sends ``δ B`` (fixed random ``B``, shape of ``weight``)
    to its input instead of ``δ W``.

    Args:
        in_features, out_features, bias: as ``nn.Linear``.
        feedback: an explicit ``[out_features, in_features]`` matrix, or None for a random one.
        seed: seed of the random feedback (ignored when ``feedback`` is given).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        feedback: Tensor | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        if feedback is None:
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            feedback = _random_like_init(out_features, in_features, gen)
        elif tuple(feedback.shape) != (out_features, in_features):
            raise ValueError(
                f"feedback must have shape {(out_features, in_features)}, "
                f"got {tuple(feedback.shape)}"
            )
        self.register_buffer("feedback", feedback.detach().clone().to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return _FeedbackAlignmentLinear.apply(x, self.weight, self.bias, self.feedback)


def to_feedback_alignment(model: nn.Module, seed: int = 0) -> nn.Module:
    """Replace every ``nn.Linear`` inside ``model`` (in place) by an ``FALinear`` with the
    same weights and a fixed random feedback; returns ``model``. Layer ``k`` (in
    ``named_modules`` order) gets seed ``seed + k``.
    """
    if isinstance(model, nn.Linear):
        raise TypeError("to_feedback_alignment needs a container module, got a bare nn.Linear")
    targets = [
        (name, mod)
        for name, mod in model.named_modules()
        if isinstance(mod, nn.Linear) and not isinstance(mod, FALinear)
    ]
    for k, (name, old) in enumerate(targets):
        new = FALinear(old.in_features, old.out_features, old.bias is not None, seed=seed + k)
        new = new.to(device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(old.weight)
            if old.bias is not None:
                new.bias.copy_(old.bias)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
    return model


class _OutputTap(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y: Tensor, owner: DirectFeedbackAlignment) -> Tensor:
        ctx.owner = owner
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad: Tensor):
        ctx.owner._error = grad.detach()
        return grad, None


class _HiddenTap(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, owner: DirectFeedbackAlignment, layer: int, step) -> Tensor:
        ctx.owner, ctx.layer, ctx.step = owner, layer, step
        ctx.shape = h.shape
        return h.view_as(h)

    @staticmethod
    def backward(ctx, _grad_from_above: Tensor):
        return ctx.owner._project(ctx.layer, ctx.step, ctx.shape), None, None, None


class DirectFeedbackAlignment(nn.Module):
    """Fixed random projections ``B_l [C, H_l]`` of the output error to hidden layers.

    Args:
        output_features: ``C``, the size of the output's last dimension.
        hidden_features: ``[H_0, H_1, …]``, one entry per hidden layer to train with DFA.
        seed: seed of the random matrices (uniform in ``±1/sqrt(C)``).
        feedback: optional explicit matrices, one ``[C, H_l]`` tensor per layer.

    In one forward pass call ``hidden(h, layer, step)`` on each hidden output and
    ``output(y)`` on the network output; ``step=t`` picks ``e[t]`` when ``y`` is a
    time-major ``[T, …]`` recording and ``h`` one step of it.
    """

    def __init__(
        self,
        output_features: int,
        hidden_features: list[int],
        seed: int = 0,
        feedback: list[Tensor] | None = None,
    ) -> None:
        super().__init__()
        if feedback is None:
            gen = torch.Generator().manual_seed(seed)
            feedback = [_random_like_init(output_features, h, gen) for h in hidden_features]
        if len(feedback) != len(hidden_features):
            raise ValueError(
                f"feedback must hold {len(hidden_features)} matrices, got {len(feedback)}"
            )
        for k, (mat, size) in enumerate(zip(feedback, hidden_features)):
            if tuple(mat.shape) != (output_features, size):
                raise ValueError(
                    f"feedback[{k}] must have shape {(output_features, size)}, "
                    f"got {tuple(mat.shape)}"
                )
            self.register_buffer(f"feedback_{k}", mat.detach().clone())
        self.num_layers = len(hidden_features)
        self._error: Tensor | None = None

    def matrix(self, layer: int) -> Tensor:
        """``B_layer`` of shape ``[C, H_layer]``."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer must be in [0, {self.num_layers}), got {layer}")
        return getattr(self, f"feedback_{layer}")

    def output(self, y: Tensor) -> Tensor:
        """Identity; its backward records the output error ``e = ∂L/∂y``."""
        self._error = None
        return _OutputTap.apply(y, self)

    def hidden(self, h: Tensor, layer: int, step: int | None = None) -> Tensor:
        """Identity; its backward returns ``e B_layer`` (or ``e[step] B_layer``)."""
        self.matrix(layer)
        return _HiddenTap.apply(h, self, layer, step)

    def _project(self, layer: int, step: int | None, shape: torch.Size) -> Tensor:
        if self._error is None:
            raise RuntimeError(
                "DirectFeedbackAlignment: no output error recorded; wrap the network output "
                "with dfa.output(y) before computing the loss"
            )
        error = self._error if step is None else self._error[step]
        projected = error @ self.matrix(layer).to(error.dtype)
        if projected.shape != shape:
            raise ValueError(
                f"DFA layer {layer}: projected error has shape {tuple(projected.shape)} but the "
                f"hidden output has {tuple(shape)}; pass step=t when y is a [T, ...] recording"
            )
        return projected
