"""snnTorch's ``functional`` (used as ``SF``): losses, accuracy, regularisers, probes."""

from . import acc, loss, probe, quant, reg, stdp_learner
from .acc import accuracy_rate, accuracy_temporal
from .loss import (
    LossFunctions,
    SpikeTime,
    ce_count_loss,
    ce_max_membrane_loss,
    ce_rate_loss,
    ce_temporal_loss,
    mse_count_loss,
    mse_membrane_loss,
    mse_rate_loss,
    mse_temporal_loss,
)
from .probe import (
    AttributeMonitor,
    BaseMonitor,
    GradInputMonitor,
    GradOutputMonitor,
    InputMonitor,
    OutputMonitor,
    unpack_len1_tuple,
)
from .quant import state_quant
from .reg import l1_rate_sparsity, min_firing_penalty, population_spike_budget

__all__ = [
    "AttributeMonitor",
    "BaseMonitor",
    "GradInputMonitor",
    "GradOutputMonitor",
    "InputMonitor",
    "LossFunctions",
    "OutputMonitor",
    "SpikeTime",
    "acc",
    "accuracy_rate",
    "accuracy_temporal",
    "ce_count_loss",
    "ce_max_membrane_loss",
    "ce_rate_loss",
    "ce_temporal_loss",
    "l1_rate_sparsity",
    "loss",
    "min_firing_penalty",
    "mse_count_loss",
    "mse_membrane_loss",
    "mse_rate_loss",
    "mse_temporal_loss",
    "population_spike_budget",
    "probe",
    "quant",
    "reg",
    "state_quant",
    "stdp_learner",
    "unpack_len1_tuple",
]
