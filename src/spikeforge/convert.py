"""ANN-to-SNN conversion: a trained ReLU network becomes an integrate-and-fire network.

Rate-coding argument (Cao et al. 2015; Diehl et al. 2015; Rueckauer et al. 2017). An IAF
neuron with subtract reset, threshold 1 and a constant input current ``z ∈ [0, 1]`` fires
at the rate ``r = z`` (up to one spike's worth of residue over ``T`` steps), i.e. it computes
``clamp(z, 0, 1)``: a ReLU saturated at 1. The conversion therefore rescales each layer so
that its ReLU activations rarely exceed 1:

.. math::
    λ_l = \\text{percentile}_p\\,(\\{a_l > 0\\}) \\quad\\text{over calibration data}

    W_l ← W_l · λ_{l-1} / λ_l, \\qquad b_l ← b_l / λ_l, \\qquad λ_0 = 1

so the spike rate of layer ``l`` approximates ``a_l / λ_l``. The last weight layer has no
ReLU (``λ_L = 1``): its outputs are input currents that :func:`simulate` sums over time,
giving ``T ×`` the ANN's logits in the limit. Inputs are presented as constant currents
(analog input, no Poisson sampling). Batch norm is folded into the preceding weight layer
first (:func:`fold_batchnorm`); dropout is dropped.

Supported layers, in an ``nn.Sequential`` (nested ones are flattened): ``Linear``,
``Conv1d``, ``Conv2d``, ``BatchNorm1d/2d`` after one of those, ``ReLU``, ``AvgPool2d``,
``Flatten``, ``Dropout``, ``Identity``. Max pooling has no exact rate equivalent (the max of
spike trains is not the train of the max) and is refused with a ``TypeError``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["activation_scales", "convert_to_snn", "fold_batchnorm", "reset_neurons", "simulate"]

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
_PASS_LAYERS = (nn.AvgPool2d, nn.Flatten)
_DROPPED_LAYERS = (nn.Dropout, nn.Identity)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _flat_layers(model: nn.Module) -> list[nn.Module]:
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model must be an nn.Sequential of supported layers, got {type(model).__name__}"
        )
    layers: list[nn.Module] = []
    for layer in model:
        layers.extend(_flat_layers(layer) if isinstance(layer, nn.Sequential) else [layer])
    return layers


def _fold(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """``BN(W x + b) = γ (W x + b − μ)/σ + β`` folded into one weight layer (eval statistics)."""
    folded = copy.deepcopy(layer)
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.affine else torch.ones_like(std)
    shift = bn.bias if bn.affine else torch.zeros_like(std)
    scale = (gamma / std).detach()
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros_like(std)
    shape = (-1,) + (1,) * (layer.weight.dim() - 1)
    with torch.no_grad():
        folded.weight = nn.Parameter(layer.weight.detach() * scale.reshape(shape))
        folded.bias = nn.Parameter((bias - bn.running_mean) * scale + shift.detach())
    return folded


def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` with every batch norm folded into the weight layer before it.

    Uses the running statistics (eval-mode behaviour). Dropout and Identity are removed.
    """
    out: list[nn.Module] = []
    for layer in _flat_layers(model):
        if isinstance(layer, _BATCHNORMS):
            if not out or not isinstance(out[-1], _WEIGHT_LAYERS):
                raise TypeError(
                    "fold_batchnorm: a BatchNorm must directly follow a Linear/Conv layer, "
                    f"got it after {type(out[-1]).__name__ if out else 'nothing'}"
                )
            if layer.running_mean is None:
                raise ValueError("fold_batchnorm: BatchNorm needs track_running_stats=True")
            out[-1] = _fold(out[-1], layer)
        elif isinstance(layer, _DROPPED_LAYERS):
            continue
        elif isinstance(layer, (*_WEIGHT_LAYERS, *_PASS_LAYERS, nn.ReLU)):
            out.append(copy.deepcopy(layer))
        else:
            hint = (
                " (use AvgPool2d: max pooling has no rate equivalent)"
                if "MaxPool" in type(layer).__name__
                else ""
            )
            raise TypeError(f"cannot convert layer {type(layer).__name__}{hint}")
    return nn.Sequential(*out)


def _batches(data: Tensor | Iterable, batch_size: int) -> Iterable[Tensor]:
    if isinstance(data, Tensor):
        yield from data.split(batch_size)
        return
    for batch in data:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


@torch.no_grad()
def activation_scales(
    model: nn.Sequential, data: Tensor | Iterable, percentile: float = 99.9, batch_size: int = 256
) -> list[float]:
    """``λ`` of every ReLU in ``model``: the ``percentile``-th of its positive activations.

    ``data`` is a tensor of inputs (split into ``batch_size`` chunks) or an iterable of
    batches (or ``(x, y)`` pairs). A ReLU that never fires gets ``λ = 1``.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    layers = _flat_layers(model)
    relus = [i for i, layer in enumerate(layers) if isinstance(layer, nn.ReLU)]
    collected: dict[int, list[Tensor]] = {i: [] for i in relus}
    was_training = model.training
    model.eval()
    for x in _batches(data, batch_size):
        for i, layer in enumerate(layers):
            x = layer(x)
            if i in collected:
                collected[i].append(x[x > 0].flatten().float())
    model.train(was_training)
    scales = []
    for i in relus:
        values = torch.cat(collected[i]) if collected[i] else torch.zeros(0)
        if values.numel() == 0:
            scales.append(1.0)
            continue
        k = max(1, min(values.numel(), round(percentile / 100 * values.numel())))
        scales.append(float(values.kthvalue(k).values))
    return scales


def _iaf(threshold: float) -> nn.Module:
    from .neurons import IAF

    return IAF(threshold=threshold, init_hidden=True, reset_mechanism="subtract")


def convert_to_snn(
    ann: nn.Sequential,
    calibration_data: Tensor | Iterable,
    percentile: float = 99.9,
    batch_size: int = 256,
) -> nn.Sequential:
    """Convert a trained ReLU ``ann`` into an ``nn.Sequential`` of layers and ``IAF`` neurons.

    Each ReLU becomes ``IAF(threshold=1, reset_mechanism="subtract", init_hidden=True)``;
    weights and biases are rescaled layer by layer with :func:`activation_scales` (see the
    module docstring). The result is called once per time step with the (constant) input
    and returns the last layer's output current; use :func:`simulate` to run it.
    """
    folded = fold_batchnorm(ann)
    scales = iter(activation_scales(folded, calibration_data, percentile, batch_size))
    layers = list(folded)
    out: list[nn.Module] = []
    previous = 1.0
    pending: nn.Module | None = None
    for layer in layers:
        if isinstance(layer, _WEIGHT_LAYERS):
            if pending is not None:
                raise TypeError("convert_to_snn: two weight layers in a row need a ReLU between")
            pending = layer
            out.append(layer)
        elif isinstance(layer, nn.ReLU):
            scale = next(scales)
            if pending is not None:
                with torch.no_grad():
                    pending.weight.mul_(previous / scale)
                    if pending.bias is not None:
                        pending.bias.div_(scale)
                previous, pending = scale, None
            else:
                raise TypeError("convert_to_snn: each ReLU must follow a Linear/Conv layer")
            out.append(_iaf(1.0))
        else:
            out.append(layer)
    if pending is not None:  # output layer: no ReLU, λ_L = 1
        with torch.no_grad():
            pending.weight.mul_(previous)
    snn = nn.Sequential(*out)
    snn.eval()
    return snn


def reset_neurons(net: nn.Module) -> None:
    """Forget the hidden state of every spiking neuron inside ``net`` (this net only), and
    of every other stateful module it holds (NIR readouts, ``SynapticDelay``, a
    ``NIRGraphModule``'s back edges: the ``reset_state()`` protocol)."""
    from .neurons import SpikingNeuron
    from .nn.stateful import stateful_modules

    for module in stateful_modules(net):
        if isinstance(module, SpikingNeuron):
            module.reset_mem()  # empty, so that the next batch may have another size
        else:
            module.reset_state()


@torch.no_grad()
def simulate(snn: nn.Module, x: Tensor, num_steps: int, checkpoints: Sequence[int] = ()):
    """Present ``x`` as a constant input for ``num_steps`` steps; sum the outputs over time.

    Returns the summed output ``[B, ...]``, or, when ``checkpoints`` is given, a dict
    ``{T: output summed over the first T steps}`` for each ``T`` in ``checkpoints``.
    The neurons are reset first.
    """
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    bad = [t for t in checkpoints if not 1 <= t <= num_steps]
    if bad:
        raise ValueError(f"checkpoints must lie in [1, num_steps={num_steps}], got {bad}")
    reset_neurons(snn)
    total = None
    saved = {}
    for step in range(1, num_steps + 1):
        out = snn(x)
        total = out.clone() if total is None else total + out
        if step in checkpoints:
            saved[step] = total.clone()
    return saved if checkpoints else total
