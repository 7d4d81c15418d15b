"""spikeforge: spiking neural networks on PyTorch with snnTorch's API.

``import spikeforge as snn`` offers snnTorch's public names. Importing it loads torch and
nothing heavy (no triton, numba, matplotlib or nir).
"""

from . import (
    backprop,
    functional,
    learning,
    nn,
    quantization,
    spikegen,
    spikeplot,
    surrogate,
    utils,
)
from .neurons import (
    IAF,
    LIF,
    SLSTM,
    Alpha,
    AssociativeLeaky,
    DeltaLeaky,
    GradedRefractory,
    Lapicque,
    Leaky,
    LeakyParallel,
    LinearLeaky,
    RLeaky,
    RSynaptic,
    SConv2dLSTM,
    SpikingNeuron,
    StateLeaky,
    Synaptic,
    SynapticDelay,
)
from .nir import export_to_nir, import_from_nir
from .nn import BatchNormTT1d, BatchNormTT2d, GradedSpikes

__version__ = "0.1.0"

__all__ = [
    "IAF",
    "LIF",
    "SLSTM",
    "Alpha",
    "AssociativeLeaky",
    "BatchNormTT1d",
    "BatchNormTT2d",
    "DeltaLeaky",
    "GradedRefractory",
    "GradedSpikes",
    "Lapicque",
    "Leaky",
    "LeakyParallel",
    "LinearLeaky",
    "RLeaky",
    "RSynaptic",
    "SConv2dLSTM",
    "SpikingNeuron",
    "StateLeaky",
    "Synaptic",
    "SynapticDelay",
    "__version__",
    "backprop",
    "export_to_nir",
    "functional",
    "import_from_nir",
    "learning",
    "nn",
    "quantization",
    "spikegen",
    "spikeplot",
    "surrogate",
    "utils",
]
