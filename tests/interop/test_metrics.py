"""Monitors and NeuroBench-style counts on networks small enough to count by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.metrics import ENERGY_45NM, ActivityRecorder, OpCounter, format_summary


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


# -- energy estimates ---------------------------------------------------------------------------


def _counted(net: nn.Module, x: torch.Tensor, steps: int) -> OpCounter:
    with OpCounter(net) as counter:
        for _ in range(steps):
            net(x)
    return counter


def test_energy_of_spiking_input_matches_hand_computation():
    # The counts of the test above: layer 0 does 18 ACs (dense 18), layer 2 12 ACs (dense 18).
    counter = _counted(_net(), torch.tensor([[1.0, 1.0, 1.0]]), 3)
    energy = counter.energy()
    assert energy["table"] == ENERGY_45NM and (ENERGY_45NM.pj_per_ac, ENERGY_45NM.pj_per_mac) == (
        0.9,
        4.6,
    )
    assert energy["layers"]["0"]["snn_pj"] == pytest.approx(18 * 0.9)  # 16.2 pJ
    assert energy["layers"]["2"]["snn_pj"] == pytest.approx(12 * 0.9)  # 10.8 pJ
    assert energy["layers"]["0"]["ann_pj"] == pytest.approx(18 * 4.6)  # 82.8 pJ
    assert energy["totals"]["snn_pj"] == pytest.approx(27.0)
    assert energy["totals"]["ann_pj"] == pytest.approx(165.6)
    assert set(energy["layers"]) == {"0", "2"}  # neurons cost no synaptic operations


def test_energy_of_analog_input_costs_multiply_accumulates():
    # x = [.5, 1, 0] is not binary: layer 0 does 2 nonzero inputs × fan-out 2 = 4 MACs
    # (dense 6). Currents [1.5, 0] -> spikes [1, 0]; layer 2 then does 1 × 3 = 3 ACs (dense 6).
    counter = _counted(_net(), torch.tensor([[0.5, 1.0, 0.0]]), 1)
    energy = counter.energy()
    assert energy["layers"]["0"]["snn_pj"] == pytest.approx(4 * 4.6)  # 18.4 pJ
    assert energy["layers"]["2"]["snn_pj"] == pytest.approx(3 * 0.9)  # 2.7 pJ
    assert energy["totals"]["snn_pj"] == pytest.approx(21.1)
    assert energy["totals"]["ann_pj"] == pytest.approx(12 * 4.6)  # 55.2 pJ


def test_energy_table_is_replaceable_and_per_sample():
    from spikeforge.metrics import EnergyTable

    counter = _counted(_net(), torch.tensor([[1.0, 1.0, 1.0]]), 3)
    table = EnergyTable("test node", pj_per_ac=0.5, pj_per_mac=2.0)
    energy = counter.energy(table, num_samples=3)
    assert energy["per_sample"] and energy["table"] is table
    assert energy["totals"]["snn_pj"] == pytest.approx(30 * 0.5 / 3)  # 5 pJ per sample
    assert energy["totals"]["ann_pj"] == pytest.approx(36 * 2.0 / 3)  # 24 pJ per sample
    summary = counter.summary(num_samples=3, energy=table)
    assert summary["layers"]["2"]["snn_energy_pj"] == pytest.approx(12 * 0.5 / 3)
    assert summary["energy_table"] == {"name": "test node", "pj_per_ac": 0.5, "pj_per_mac": 2.0}
    assert "energy_table" not in counter.summary(energy=None)


def test_energy_line_formats_units_and_ratio():
    from spikeforge.metrics import EnergyTable, format_energy

    counter = _counted(_net(), torch.tensor([[1.0, 1.0, 1.0]]), 3)
    line = format_energy(counter.summary())
    assert line == (
        " energy (45 nm: 0.9 pJ/AC, 4.6 pJ/MAC)  SNN 27 pJ vs ANN 166 pJ total (ANN/SNN 6.13x)"
    )
    # The table stored in the summary is used (metrics.json keeps it); nJ above 1000 pJ.
    big = EnergyTable("big", pj_per_ac=100.0, pj_per_mac=1000.0)
    line = format_energy(counter.summary(num_samples=3, energy=big))
    assert "SNN 1 nJ vs ANN 12 nJ per sample" in line and line.startswith(" energy (big:")


def test_energy_table_rejects_bad_values():
    from spikeforge.metrics import EnergyTable

    with pytest.raises(ValueError, match="pj_per_ac must be finite and >= 0"):
        EnergyTable(pj_per_ac=-1.0)
    with pytest.raises(TypeError, match="pj_per_mac must be a number"):
        EnergyTable(pj_per_mac="4.6")
    counter = OpCounter(_net())
    with pytest.raises(TypeError, match="energy must be an EnergyTable, got str"):
        counter.energy("45nm")
