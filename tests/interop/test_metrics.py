"""Monitors and NeuroBench-style counts on networks small enough to count by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.metrics import ActivityRecorder, OpCounter, format_summary


def _fixed_linear(weight: list[list[float]]) -> nn.Linear:
    w = torch.tensor(weight)
    layer = nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer


def _net() -> nn.Sequential:
    # Layer 1 sums inputs 0 and 1 into neuron 0 and input 2 into neuron 1 (threshold 1).
    return nn.Sequential(
        _fixed_linear([[1.0, 1.0, 0.0], [0.0, 0.0, 0.6]]),
        snn.Leaky(beta=1.0, init_hidden=True),
        _fixed_linear([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
        snn.Leaky(beta=0.5, init_hidden=True),
    )


def test_counts_match_hand_computation_for_spiking_input():
    net = _net()
    x = torch.tensor([[1.0, 1.0, 1.0]])
    with OpCounter(net) as counter:
        for _ in range(3):
            net(x)
    # Layer 0: 3 binary nonzero inputs × fan-out 2 = 6 ACs per step (dense 6).
    # Neuron 1: U0 = 2, 2+2−1, … spikes every step; U1 = .6, 1.2 (spike), 1.8−1 = .8 → [0, 1, 0].
    # Layer 2: inputs [1,0], [1,1], [1,0] → nonzero 1, 2, 1 → ×3 fan-out = 12 ACs (dense 18).
    c0, c2 = counter.connections["0"], counter.connections["2"]
    assert (c0.dense_macs, c0.effective_acs, c0.effective_macs) == (18, 18, 0)
    assert (c2.dense_macs, c2.effective_acs, c2.effective_macs) == (18, 12, 0)
    n1 = counter.neurons["1"]
    assert (n1.spikes, n1.zeros, n1.activations) == (4.0, 2, 6)
    assert n1.firing_rate == pytest.approx(4 / 6) and n1.activation_sparsity == pytest.approx(2 / 6)
    # Neuron 3 gets currents [2,0,1], [2,1,2], [2,0,1] (β = .5, subtract reset):
    # U = [2, 0, 1] → [1,0,0] (1 is not > 1); U = [2, 1, 2.5] → [1,0,1];
    # U = [2, .5, 1.25] → [1,0,1]: 5 spikes, 4 zeros.
    n3 = counter.neurons["3"]
    assert (n3.spikes, n3.zeros, n3.activations) == (5.0, 4, 9)
    totals = counter.totals()
    assert totals["effective_acs"] == 30 and totals["dense_macs"] == 36
    assert totals["activation_sparsity"] == pytest.approx(6 / 15)
    per_sample = counter.summary(num_samples=3)
    assert per_sample["totals"]["effective_acs"] == pytest.approx(10.0)
    assert per_sample["layers"]["0"]["dense_macs"] == pytest.approx(6.0)
    table = format_summary(per_sample)
    assert "per sample" in table and table.splitlines()[-1].startswith("total")


def test_analog_and_graded_inputs_count_as_macs():
    layer = _fixed_linear([[1.0, 1.0, 1.0, 1.0]])
    with OpCounter(nn.Sequential(layer)) as counter:
        layer(torch.tensor([[0.5, 0.0, 2.0, 0.0]]))
    c = counter.connections["0"]
    assert (c.dense_macs, c.effective_macs, c.effective_acs) == (4, 2, 0)


def test_conv_fan_out_counts_each_receptive_field():
    conv = nn.Conv2d(1, 2, 2, bias=False)
    x = torch.zeros(1, 1, 3, 3)
    with OpCounter(nn.Sequential(conv)) as counter:
        x[0, 0, 1, 1] = 1.0  # the centre feeds all 4 output positions of both channels
        conv(x)
        x.zero_()
        x[0, 0, 0, 0] = 1.0  # a corner feeds one position per channel
        conv(x)
    c = counter.connections["0"]
    # Dense: 2 channels × 4 positions × 4 weights = 32 per call.
    assert (c.dense_macs, c.effective_acs, c.effective_macs) == (64, 8 + 2, 0)


def test_hooks_leave_the_model_untouched_and_can_be_removed():
    net = _net()
    counter = OpCounter(net)
    counter.remove()
    net(torch.ones(1, 3))
    assert counter.connections["0"].calls == 0
    assert not net[0]._forward_hooks


def test_recorder_keeps_spikes_and_membranes_per_layer():
    net = _net()
    with ActivityRecorder(net) as rec:
        for _ in range(3):
            net(torch.tensor([[1.0, 1.0, 1.0]]))
    spikes = rec.stack("1")
    assert spikes.shape == (3, 1, 2)
    assert spikes[:, 0, 1].tolist() == [0.0, 1.0, 0.0]
    assert rec.stack("1", membrane=True)[:, 0, 1].tolist() == pytest.approx([0.6, 1.2, 0.8])
    with pytest.raises(KeyError, match="recorded"):
        rec.stack("0")
    with pytest.raises(ValueError, match="no spiking neuron"):
        ActivityRecorder(nn.Linear(2, 2))
