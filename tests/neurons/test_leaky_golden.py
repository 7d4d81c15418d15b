"""Leaky trajectories worked out by hand from the equations (reference §1.3)."""

import pytest
import torch

import spikeforge as snn


def run(lif, xs):
    mem = lif.init_leaky()
    spikes, mems = [], []
    for x in xs:
        spk, mem = lif(torch.tensor([x]), mem)
        spikes.append(spk.item())
        mems.append(mem.item())
    return spikes, mems


@pytest.mark.parametrize(
    ("kwargs", "expected_mem"),
    [
        # U = .9U + 1.2 - R: 1.2, 1.08+1.2-1 = 1.28, 1.152+.2 = 1.352, 1.2168+.2 = 1.4168
        ({}, [1.2, 1.28, 1.352, 1.4168]),
        # zero: U = .9(1-R)U + 1.2 -> 1.2 every step
        ({"reset_mechanism": "zero"}, [1.2, 1.2, 1.2, 1.2]),
        # none: U = .9U + 1.2 -> 1.2, 2.28, 3.252, 4.1268
        ({"reset_mechanism": "none"}, [1.2, 2.28, 3.252, 4.1268]),
        # immediate reset: 0.2, .18+1.2-1 = .38, .342+.2 = .542, .4878+.2 = .6878
        ({"reset_delay": False}, [0.2, 0.38, 0.542, 0.6878]),
    ],
)
def test_constant_input_trajectory(kwargs, expected_mem):
    spikes, mems = run(snn.Leaky(beta=0.9, **kwargs), [1.2] * 4)
    assert spikes == [1.0, 1.0, 1.0, 1.0]
    assert mems == pytest.approx(expected_mem, abs=1e-6)


def test_membrane_equal_to_threshold_does_not_spike():
    spk, mem = snn.Leaky(beta=0.5)(torch.tensor([1.0]))
    assert spk.item() == 0.0
    assert mem.item() == 1.0


def test_subthreshold_integration_then_first_spike():
    # x = .4, beta = .9: U = .4, .76, 1.084 -> first spike at step 3; then
    # U = .9*1.084 + .4 - 1 = .3756
    spikes, mems = run(snn.Leaky(beta=0.9), [0.4] * 4)
    assert spikes == [0.0, 0.0, 1.0, 0.0]
    assert mems == pytest.approx([0.4, 0.76, 1.084, 0.3756], abs=1e-6)


def test_graded_spikes_scale_output_not_reset():
    lif = snn.Leaky(beta=0.9, graded_spikes_factor=2.5)
    spikes, mems = run(lif, [1.2, 1.2])
    assert spikes == [2.5, 2.5]
    assert mems == pytest.approx([1.2, 1.28], abs=1e-6)


def test_per_neuron_threshold_and_beta():
    lif = snn.Leaky(beta=torch.tensor([0.5, 1.0]), threshold=torch.tensor([0.5, 2.0]))
    x = torch.tensor([0.4, 0.8])
    mem = lif.init_leaky()
    out = []
    for _ in range(3):
        spk, mem = lif(x, mem)
        out.append(spk.tolist())
    # neuron 0: U = .4, .6 (spike), .3+.4-.5 = .2 ; neuron 1: .8, 1.6, 2.4 (spike at 3)
    assert out == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert mem.tolist() == pytest.approx([0.2, 2.4])


def test_surrogate_gradient_is_atan_by_default():
    x = torch.tensor([0.9], requires_grad=True)
    spk, _ = snn.Leaky(beta=0.5)(x)
    spk.sum().backward()
    # dS/dU at U - θ = -0.1 with α = 2: 1 / (1 + (π · -0.1)²)
    assert x.grad.item() == pytest.approx(1 / (1 + (torch.pi * 0.1) ** 2), rel=1e-6)
