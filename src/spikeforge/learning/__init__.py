"""Learning rules beyond backprop through time (the first seed).

* ``spike_time``: gradients through interpolated first-spike times.
* ``feedback_alignment``: feedback alignment (``FALinear``) and direct feedback alignment.
* ``local_losses``: per-block readouts and losses, no gradient between blocks.
* ``forward_forward``: positive/negative two-pass training of spiking layers.
* ``perturbation``: weight and node perturbation as optimiser-style ``step(closure)``.
* ``tricks``: spike majority pooling and spiking residual blocks (the neuron-level tricks
  are options of every neuron; see that module's docstring).

Only torch is imported.
"""

from ._layers import RateReadout, SpikingDense, run_neuron
from .feedback_alignment import DirectFeedbackAlignment, FALinear, to_feedback_alignment
from .forward_forward import ForwardForward, embed_label, ff_layer_loss, goodness
from .local_losses import LocalLossNet, local_loss
from .perturbation import NodePerturbation, WeightPerturbation
from .spike_time import ce_time_loss, first_spike_time, mse_time_loss, time_coded_spikes
from .tricks import SpikeMajorityPool2d, SpikingResidualBlock

__all__ = [
    "DirectFeedbackAlignment",
    "FALinear",
    "ForwardForward",
    "LocalLossNet",
    "NodePerturbation",
    "RateReadout",
    "SpikeMajorityPool2d",
    "SpikingDense",
    "SpikingResidualBlock",
    "WeightPerturbation",
    "ce_time_loss",
    "embed_label",
    "ff_layer_loss",
    "first_spike_time",
    "goodness",
    "local_loss",
    "mse_time_loss",
    "run_neuron",
    "time_coded_spikes",
    "to_feedback_alignment",
]
