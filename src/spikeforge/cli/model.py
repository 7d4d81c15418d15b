"""The networks ``spikeforge train`` builds: a stack of (synapse, spiking neuron) stages.

A stage maps its input current through a stateless synapse (``nn.Linear``, a convolution
and pooling, ...) and then a spiking neuron run over all ``T`` steps. With direct encoding
the image is the same at every step, so the first synapse runs once and its output current
``I`` is held constant: ``I_t = W x`` for every ``t`` (exact, and T times cheaper).

Convolutional stages keep their activations in channels-last memory (``[..., H, W, C]``
order, the layout oneDNN's CPU convolutions and pooling run fastest on): the neuron, which
is elementwise, runs on the ``[T, B, H, W, C]`` view, and its spikes reach the next
convolution as a channels-last ``[T·B, C, H, W]`` tensor without a copy. The tensors a
:class:`Record` holds keep their logical ``[T, B, C, H, W]`` shape (only their strides differ).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .options import TrainConfig

__all__ = ["Record", "SpikingClassifier", "build_model", "make_neuron", "run_neuron"]


class Record(NamedTuple):
    """Spikes and membranes ``[T, B, ...]`` of every stage; the last stage is the output."""

    spikes: list[Tensor]
    mems: list[Tensor]


def run_neuron(neuron: nn.Module, current: Tensor, num_steps: int, static: bool):
    """Run ``neuron`` from a zero state over ``num_steps`` steps: ``(S [T,...], U [T,...])``.

    ``current`` is ``[B, ...]`` when ``static`` (the same input at every step), else
    ``[T, B, ...]``. Neurons built with ``step_mode="multi"`` take the whole sequence in
    one call; others are stepped in a Python loop.
    """
    neuron.reset_mem()
    if getattr(neuron, "step_mode", "single") == "multi":
        if static:
            current = _HeldOverTime.apply(current, num_steps)
        out = neuron(current)
        return out[0], out[-1]
    spikes, mems = [], []
    for step in range(num_steps):
        out = neuron(current if static else current[step])
        spikes.append(out[0])
        mems.append(out[-1])
    return torch.stack(spikes), torch.stack(mems)


def _over_time(module: nn.Module, seq: Tensor) -> Tensor:
    """Apply a stateless module to every step of ``seq [T, B, ...]`` in one batched call."""
    steps, batch = seq.shape[:2]
    out = module(seq.reshape(steps * batch, *seq.shape[2:]))
    return out.reshape(steps, batch, *out.shape[1:])


def _channels_last_view(current: Tensor) -> Tensor:
    """``[..., C, H, W]`` as the ``[..., H, W, C]`` tensor holding the same values,
    contiguous (free when ``current`` already has channels-last memory)."""
    hwc = current.movedim(-3, -1).contiguous()
    # contiguous() keeps the stride of a size-1 channel axis; view() gives it stride 1, so
    # that a convolution reading the [..., C, H, W] view of it sees channels-last memory.
    return hwc.view(hwc.shape) if hwc.shape[-1] != 1 else hwc.flatten().view(hwc.shape)


def _channels_last_image(x: Tensor) -> Tensor:
    """``x [..., C, H, W]`` with channels-last memory (a view: free when ``x`` already has
    it, or has one channel, as the MNIST input does)."""
    return _channels_last_view(x).movedim(-1, -3)


class _HeldOverTime(torch.autograd.Function):
    """``I [B, ...] -> [T, B, ...]``, the same current at every step (a stride-0 view).

    Backward: ``∂L/∂I = Σ_t ∂L/∂I_t``. When the incoming gradient is itself constant over
    time (stride 0, as the fused neurons return it) that is ``T · ∂L/∂I_0``, one pass over
    ``[B, ...]`` instead of a reduction over ``[T, B, ...]``.
    """

    @staticmethod
    def forward(ctx, current: Tensor, num_steps: int) -> Tensor:
        ctx.num_steps = num_steps
        return current.unsqueeze(0).expand(num_steps, *current.shape)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if grad.stride(0) == 0 or ctx.num_steps == 1:
            return grad[0] * ctx.num_steps, None
        return grad.sum(0), None


def _unhooked(*modules: nn.Module) -> bool:
    return not any(m._forward_hooks or m._forward_pre_hooks for m in modules)


def _flat_linear_channels_last(synapse: nn.Module, x: Tensor) -> Tensor | None:
    """``Flatten -> Linear`` of ``x [T, B, C, H, W]`` held in channels-last memory, without
    the copy that flattening it in ``(C, H, W)`` order makes: the flat ``(H, W, C)`` view of
    ``x`` times the weight's columns put in that order,
    ``y = x_{hwc} W_{:, hwc}^T + b`` (the same sum, in another order).

    ``None`` when ``synapse`` is not that pair, ``x`` is not channels-last, or a hook watches
    the modules (counters see the plain call).
    """
    if not (isinstance(synapse, nn.Sequential) and len(synapse) == 2 and x.dim() == 5):
        return None
    flatten, linear = synapse
    if not (
        isinstance(flatten, nn.Flatten)
        and flatten.start_dim == 1
        and flatten.end_dim == -1
        and isinstance(linear, nn.Linear)
        and _unhooked(synapse, flatten, linear)
    ):
        return None
    hwc = x.movedim(-3, -1)
    if not hwc.is_contiguous():
        return None
    steps, batch, height, width, channels = hwc.shape
    weight = linear.weight.view(-1, channels, height, width).permute(0, 2, 3, 1)
    out = nn.functional.linear(hwc.reshape(steps * batch, -1), weight.flatten(1), linear.bias)
    return out.view(steps, batch, -1)


class SpikingClassifier(nn.Module):
    """``synapse_k -> neuron_k`` for each stage; returns a :class:`Record`.

    ``channels_last``: run the neurons of image-shaped stages (``[B, C, H, W]`` currents) on
    channels-last memory (for elementwise neurons only: a recurrent convolution inside the
    neuron needs ``[B, C, H, W]``).
    """

    def __init__(
        self, synapses: list[nn.Module], neurons: list[nn.Module], channels_last: bool = False
    ) -> None:
        super().__init__()
        self.channels_last = channels_last
        if len(synapses) != len(neurons):
            raise ValueError(
                f"need one neuron per synapse, got {len(synapses)} synapses "
                f"and {len(neurons)} neurons"
            )
        self.synapses = nn.ModuleList(synapses)
        self.neurons = nn.ModuleList(neurons)

    def forward(self, x: Tensor, num_steps: int, static: bool = True) -> Record:
        """``x``: ``[B, ...]`` if ``static`` (direct encoding), else spikes ``[T, B, ...]``."""
        spikes, mems = [], []
        for synapse, neuron in zip(self.synapses, self.neurons):
            current = None
            if self.channels_last and x.dim() == (4 if static else 5):
                x = _channels_last_image(x)  # so the convolution's output is channels-last
                if not static:
                    current = _flat_linear_channels_last(synapse, x)
            if current is None:
                current = synapse(x) if static else _over_time(synapse, x)
            image = self.channels_last and current.dim() == (4 if static else 5)
            if image:
                current = _channels_last_view(current)
            x, mem = run_neuron(neuron, current, num_steps, static)
            if image:  # back to the logical [T, B, C, H, W], channels-last in memory
                x, mem = x.movedim(-1, -3), mem.movedim(-1, -3)
            static = False
            spikes.append(x)
            mems.append(mem)
        return Record(spikes, mems)


def _surrogate(name: str):
    from .. import surrogate

    return getattr(surrogate, name)()


def make_neuron(config: TrainConfig, features: int | None = None, channels: int | None = None):
    """One spiking neuron layer as ``config.neuron`` names it, multi-step when available.

    ``features`` (dense) or ``channels`` (convolutional) size the recurrent weights of
    ``rleaky``/``rsynaptic``.
    """
    import spikeforge as snn

    class_names = {
        "leaky": "Leaky",
        "synaptic": "Synaptic",
        "alpha": "Alpha",
        "lapicque": "Lapicque",
        "iaf": "IAF",
        "rleaky": "RLeaky",
        "rsynaptic": "RSynaptic",
    }
    cls_name = class_names[config.neuron]
    cls = getattr(snn, cls_name, None)
    if cls is None:
        raise ValueError(
            f"--neuron {config.neuron}: spikeforge.{cls_name} is not available in this build"
        )
    kwargs: dict = {"spike_grad": _surrogate(config.surrogate)}
    name = config.neuron
    if name in ("leaky", "lapicque", "rleaky"):
        kwargs["beta"] = config.beta
    elif name in ("synaptic", "rsynaptic"):
        kwargs.update(alpha=config.alpha, beta=config.beta)
    elif name == "alpha":
        # snnTorch's Alpha needs alpha > beta: keep the membrane decay, make the synapse slower.
        kwargs.update(alpha=max(config.alpha, (1 + config.beta) / 2), beta=config.beta)
    if name in ("rleaky", "rsynaptic"):
        if channels is not None:
            kwargs.update(conv2d_channels=channels, kernel_size=3)
        else:
            kwargs["linear_features"] = features
    neuron = cls(**kwargs)
    if isinstance(getattr(cls, "step_mode", None), property):
        neuron.step_mode = "multi"  # the whole [T, B, ...] sequence in one (fused) call
    return neuron


def build_model(config: TrainConfig) -> SpikingClassifier:
    """The fully connected (784-H-10) or convolutional (12C5-MP2-64C5-MP2-FC10) network."""
    if config.model == "fc":
        synapses: list[nn.Module] = [
            nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, config.hidden)),
            nn.Linear(config.hidden, 10),
        ]
        neurons = [make_neuron(config, features=config.hidden), make_neuron(config, features=10)]
    elif config.model == "conv":
        synapses = [
            nn.Sequential(nn.Conv2d(1, 12, 5), nn.MaxPool2d(2)),
            nn.Sequential(nn.Conv2d(12, 64, 5), nn.MaxPool2d(2)),
            nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 10)),
        ]
        neurons = [
            make_neuron(config, channels=12),
            make_neuron(config, channels=64),
            make_neuron(config, features=10),
        ]
        elementwise = config.neuron not in ("rleaky", "rsynaptic")
        return SpikingClassifier(synapses, neurons, channels_last=elementwise)
    else:
        raise ValueError(f"model must be 'fc' or 'conv', got {config.model!r}")
    return SpikingClassifier(synapses, neurons)
