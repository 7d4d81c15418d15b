"""Synaptic trajectories worked out by hand from the equations (reference §1.3)."""

import pytest
import torch

import spikeforge as snn


def run(lif, xs):
    syn, mem = lif.init_synaptic()
    spikes, syns, mems = [], [], []
    for x in xs:
        spk, syn, mem = lif(torch.tensor([x]), syn, mem)
        spikes.append(spk.item())
        syns.append(syn.item())
        mems.append(mem.item())
    return spikes, syns, mems


# alpha = .8, beta = .9, x = .5: I = .8 I + .5 -> .5, .9, 1.22, 1.476 in every mode.
SYN = [0.5, 0.9, 1.22, 1.476]


@pytest.mark.parametrize(
    ("kwargs", "expected_spk", "expected_mem"),
    [
        # subtract: U = .9 U + I − R: .5; .45 + .9 = 1.35 (spike); 1.215 + 1.22 − 1 = 1.435;
        # 1.2915 + 1.476 − 1 = 1.7675
        ({}, [0, 1, 1, 1], [0.5, 1.35, 1.435, 1.7675]),
        # zero: U = (1 − R)(.9 U + I): .5, 1.35, 0 (R = 1; I is kept), 0 + 1.476 = 1.476
        ({"reset_mechanism": "zero"}, [0, 1, 0, 1], [0.5, 1.35, 0.0, 1.476]),
        # none: .5, 1.35, 1.215 + 1.22 = 2.435, 2.1915 + 1.476 = 3.6675
        ({"reset_mechanism": "none"}, [0, 1, 1, 1], [0.5, 1.35, 2.435, 3.6675]),
        # immediate subtract: .5; 1.35 − 1 = .35; .315 + 1.22 − 1 = .535;
        # .4815 + 1.476 − 1 = .9575
        ({"reset_delay": False}, [0, 1, 1, 1], [0.5, 0.35, 0.535, 0.9575]),
        # immediate zero: .5; 1.35 -> 0; 0 + 1.22 -> 0; 0 + 1.476 -> 0
        (
            {"reset_mechanism": "zero", "reset_delay": False},
            [0, 1, 1, 1],
            [0.5, 0.0, 0.0, 0.0],
        ),
    ],
)
def test_constant_input_trajectory(kwargs, expected_spk, expected_mem):
    spikes, syns, mems = run(snn.Synaptic(alpha=0.8, beta=0.9, **kwargs), [0.5] * 4)
    assert spikes == expected_spk
    assert syns == pytest.approx(SYN, abs=1e-6)
    assert mems == pytest.approx(expected_mem, abs=1e-6)


def test_membrane_equal_to_threshold_does_not_spike():
    # I = 1, U = .5·0 + 1 = 1 = θ: no spike (strict >)
    spk, syn, mem = snn.Synaptic(alpha=0.5, beta=0.5)(torch.tensor([1.0]))
    assert (spk.item(), syn.item(), mem.item()) == (0.0, 1.0, 1.0)


def test_per_neuron_alpha_beta_threshold():
    lif = snn.Synaptic(
        alpha=torch.tensor([0.0, 1.0]),
        beta=torch.tensor([0.5, 0.0]),
        threshold=torch.tensor([0.6, 2.5]),
    )
    x = torch.tensor([0.4, 1.0])
    syn, mem = lif.init_synaptic()
    out = []
    for _ in range(3):
        spk, syn, mem = lif(x, syn, mem)
        out.append(spk.tolist())
    # neuron 0: I = .4 always; U = .4, .2 + .4 = .6 (= θ, no spike), .3 + .4 = .7 (spike)
    # neuron 1: I = 1, 2, 3; U = I (β = 0): 1, 2, 3 (spike at step 3)
    assert out == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    assert syn.tolist() == pytest.approx([0.4, 3.0])
    assert mem.tolist() == pytest.approx([0.7, 3.0])


def test_gradient_reaches_alpha_beta_threshold():
    lif = snn.Synaptic(alpha=0.8, beta=0.9, learn_alpha=True, learn_beta=True, learn_threshold=True)
    _, syn, mem = lif(torch.tensor([0.5]))
    _, syn, mem = lif(torch.tensor([0.5]), syn, mem)
    mem.sum().backward()
    # U_2 = β·x + (α·x + x): dU/dβ = .5, dU/dα = .5, no reset yet so dU/dθ = 0
    assert lif.beta.grad.item() == pytest.approx(0.5)
    assert lif.alpha.grad.item() == pytest.approx(0.5)
    assert lif.threshold.grad.item() == 0.0


def test_returns_and_state_handling():
    lif = snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True)
    spk = lif(torch.tensor([0.5]))
    assert isinstance(spk, torch.Tensor)
    assert lif.syn.item() == 0.5
    assert lif.mem.item() == 0.5
    with pytest.raises(TypeError, match="init_hidden"):
        lif(torch.tensor([0.5]), torch.zeros(1), torch.zeros(1))
    syn, mem = lif.init_synaptic()
    assert syn.numel() == 0 and mem.numel() == 0
    out = snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True, output=True)(torch.tensor([0.5]))
    assert len(out) == 3
    spk, state = snn.Synaptic(alpha=0.8, beta=0.9).step(torch.tensor([0.5]))
    assert state._fields == ("syn", "mem")


def test_state_dict_keys_match_snntorch():
    keys = set(snn.Synaptic(alpha=0.8, beta=0.9).state_dict())
    assert keys == {"alpha", "beta", "threshold", "graded_spikes_factor", "reset_mechanism_val"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5, "beta": 0.9}, "alpha must lie in"),
        ({"alpha": 0.8, "beta": -0.1}, "beta must lie in"),
        ({"alpha": 0.8, "beta": 0.9, "reset_mechanism": "hard"}, "reset_mechanism"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn.Synaptic(**kwargs)


def test_learnable_alpha_may_start_outside_unit_interval():
    lif = snn.Synaptic(alpha=1.5, beta=0.9, learn_alpha=True)
    # α is clamped to 1 in the forward pass: I = 1·0 + .5
    _, syn, _ = lif(torch.tensor([0.5]))
    _, syn, _ = lif(torch.tensor([0.5]), syn)
    assert syn.item() == pytest.approx(1.0)
