"""Lapicque trajectories worked out by hand from the forward-Euler equation (reference §1.3).

U_t = X_t·R·(1/(RC))·Δt + (1 − Δt/(RC))·U_{t-1}, then the reset.
"""

import math

import pytest
import torch

import spikeforge as snn


def run(lif, xs):
    mem = lif.init_lapicque()
    spikes, mems = [], []
    for x in xs:
        spk, mem = lif(torch.tensor([x]), mem)
        spikes.append(spk.item())
        mems.append(mem.item())
    return spikes, mems


RC = {"R": 5, "C": 1e-3, "time_step": 1e-3}  # gain Δt/C = 1, decay 1 − 1e-3/5e-3 = .8


def test_reference_check_r_c():
    # .5, then .8·.5 + .5 = .9
    assert run(snn.Lapicque(**RC), [0.5, 0.5])[1] == pytest.approx([0.5, 0.9], abs=1e-6)


@pytest.mark.parametrize(
    ("reset", "expected_spk", "expected_mem"),
    [
        # x = .6: .6; .48 + .6 = 1.08 (spike); .864 + .6 − 1 = .464; .3712 + .6 = .9712
        ("subtract", [0, 1, 0, 0], [0.6, 1.08, 0.464, 0.9712]),
        # zero: .6, 1.08, (1 − 1)(.864 + .6) = 0, .6
        ("zero", [0, 1, 0, 0], [0.6, 1.08, 0.0, 0.6]),
        # none: .6, 1.08, 1.464, 1.1712 + .6 = 1.7712
        ("none", [0, 1, 1, 1], [0.6, 1.08, 1.464, 1.7712]),
    ],
)
def test_reset_modes(reset, expected_spk, expected_mem):
    spikes, mems = run(snn.Lapicque(**RC, reset_mechanism=reset), [0.6] * 4)
    assert spikes == expected_spk
    assert mems == pytest.approx(expected_mem, abs=1e-6)


def test_beta_only_uses_euler_not_beta():
    # R = 1, C = 1/ln(1/.9): gain = decay gap = ln(1/.9) = .1053605; U_1 = .0526803,
    # U_2 = .0526803·.8946395 + .0526803 = .0998101
    _, mems = run(snn.Lapicque(beta=0.9), [0.5, 0.5])
    assert mems == pytest.approx([0.0526803, 0.0998101], abs=1e-6)


def test_beta_with_r_derives_c():
    # C = Δt/(R ln(1/β)): gain Δt/C = R ln(1/β) = .2107210, decay .8946395;
    # x = 1: U = .2107210, .1885186 + .2107210 = .3992396
    lif = snn.Lapicque(beta=0.9, R=2, time_step=1e-2)
    assert lif.C.item() == pytest.approx(1e-2 / (2 * math.log(1 / 0.9)), rel=1e-6)
    assert run(lif, [1.0, 1.0])[1] == pytest.approx([0.2107210, 0.3992396], abs=1e-6)


def test_beta_with_c_derives_r():
    # R = Δt/(C ln(1/β)) = 1/(.5·.1053605); gain Δt/C = 2, decay .8946395;
    # x = .3: .6, then .5367837 + .6 = 1.1367837 (spike)
    lif = snn.Lapicque(beta=0.9, C=0.5)
    assert lif.R.item() == pytest.approx(1 / (0.5 * math.log(1 / 0.9)), rel=1e-6)
    spikes, mems = run(lif, [0.3, 0.3])
    assert spikes == [0.0, 1.0]
    assert mems == pytest.approx([0.6, 1.1367837], abs=1e-6)


def test_r_c_stores_unused_beta():
    lif = snn.Lapicque(**RC)
    assert lif.beta.shape == (1,)
    assert lif.beta.item() == pytest.approx(math.exp(-0.2), rel=1e-6)


def test_membrane_equal_to_threshold_does_not_spike():
    # R = C = 1, Δt = .5: U_1 = 2·1·1·.5 = 1 = θ exactly: no spike
    spk, mem = snn.Lapicque(R=1, C=1, time_step=0.5)(torch.tensor([2.0]))
    assert (spk.item(), mem.item()) == (0.0, 1.0)


def test_per_neuron_beta():
    lif = snn.Lapicque(beta=torch.tensor([0.9, math.exp(-0.5)]))
    _, mem = lif(torch.tensor([1.0, 1.0]))
    # gains ln(1/β) = .1053605 and .5
    assert mem.tolist() == pytest.approx([0.1053605, 0.5], abs=1e-6)


def test_learn_beta_trains_through_the_derived_capacitance():
    lif = snn.Lapicque(beta=0.9, learn_beta=True)
    _, mem = lif(torch.tensor([2.0]))
    mem.sum().backward()
    # U_1 = x·ln(1/β): dU/dβ = −x/β = −2.2222
    assert lif.beta.grad.item() == pytest.approx(-2 / 0.9, rel=1e-5)


def test_returns_and_state_dict():
    lif = snn.Lapicque(**RC, init_hidden=True)
    assert isinstance(lif(torch.tensor([0.5])), torch.Tensor)
    assert lif.init_lapicque().numel() == 0
    keys = set(snn.Lapicque(beta=0.9).state_dict())
    assert keys == {
        "beta",
        "R",
        "C",
        "time_step",
        "threshold",
        "graded_spikes_factor",
        "reset_mechanism_val",
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "either beta or two of beta, R and C"),
        ({"R": 5}, "either beta or two of beta, R and C"),
        ({"beta": 0.9, "R": 1, "C": 1}, "got all three"),
        ({"R": -1, "C": 1}, "R must be > 0"),
        ({"R": 1, "C": 0}, "C must be > 0"),
        ({"beta": 0.9, "time_step": 0}, "time_step must be > 0"),
        ({"beta": 1.0}, r"beta must lie in \(0, 1\)"),
        ({"beta": 0.0}, r"beta must lie in \(0, 1\)"),
        ({"R": 1, "C": 1, "learn_beta": True}, "learn_beta=True needs beta"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn.Lapicque(**kwargs)
