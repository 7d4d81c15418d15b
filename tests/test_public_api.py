"""The snnTorch names a tutorial reaches through ``import spikeforge as snn`` exist."""

import spikeforge as snn

SNNTORCH_TOP_LEVEL = [
    "Alpha",
    "AssociativeLeaky",
    "BatchNormTT1d",
    "BatchNormTT2d",
    "DeltaLeaky",
    "GradedSpikes",
    "LIF",
    "Lapicque",
    "Leaky",
    "LeakyParallel",
    "LinearLeaky",
    "RLeaky",
    "RSynaptic",
    "SConv2dLSTM",
    "SLSTM",
    "SpikingNeuron",
    "StateLeaky",
    "Synaptic",
]
SNNTORCH_MODULES = ["backprop", "functional", "spikegen", "spikeplot", "surrogate", "utils"]


def test_snntorch_top_level_names_are_exported():
    for name in SNNTORCH_TOP_LEVEL + SNNTORCH_MODULES:
        assert hasattr(snn, name), name
        assert name in snn.__all__, name


def test_all_is_sorted_and_importable():
    assert list(snn.__all__) == sorted(snn.__all__, key=lambda n: (not n.isupper(), n))
    for name in snn.__all__:
        assert getattr(snn, name) is not None


def test_tutorial_functional_names():
    from spikeforge import functional as SF

    for name in [
        "ce_rate_loss",
        "ce_count_loss",
        "mse_count_loss",
        "mse_membrane_loss",
        "ce_temporal_loss",
        "mse_temporal_loss",
        "accuracy_rate",
        "l1_rate_sparsity",
    ]:
        assert callable(getattr(SF, name)), name
