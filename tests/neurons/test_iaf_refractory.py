"""IAF and the hand-made network's GradedRefractory neuron, against hand-worked numbers."""

import pytest
import torch

import spikeforge as snn


def run(neuron, xs):
    outs, mems = [], []
    for x in xs:
        out, mem = neuron(torch.tensor([x]))
        outs.append(out.item())
        mems.append(mem.item())
    return outs, mems


def test_iaf_integrates_without_leak():
    # U = U + .4 - R: .4, .8, 1.2 (spike), 1.2 + .4 - 1 = .6, 1.0 (== θ: no spike), 1.4 (spike)
    spikes, mems = run(snn.IAF(), [0.4] * 6)
    assert spikes == [0, 0, 1, 0, 0, 1]
    assert mems == pytest.approx([0.4, 0.8, 1.2, 0.6, 1.0, 1.4], abs=1e-6)


def test_iaf_immediate_reset_like_the_workshop():
    # reset_delay=False subtracts θ in the step of the spike: .4, .8, .2, .6, 1.0, .4
    spikes, mems = run(snn.IAF(reset_delay=False), [0.4] * 6)
    assert spikes == [0, 0, 1, 0, 0, 1]
    assert mems == pytest.approx([0.4, 0.8, 0.2, 0.6, 1.0, 0.4], abs=1e-6)


def test_iaf_has_no_beta_argument_and_beta_is_one():
    iaf = snn.IAF(threshold=2.0)
    assert iaf.beta.item() == 1.0
    with pytest.raises(TypeError):
        snn.IAF(beta=0.5)


def test_graded_refractory_trajectory():
    # V = x + .9 V; O = relu(V - 2); V -= (2.5 + O)·H(O); emitted = previous O
    # x = 2.5: V = 2.5, O = .5, V = -.5 | V = 2.5 - .45 = 2.05, O = .05, V = -.5 | repeats
    emitted, mems = run(snn.GradedRefractory(), [2.5, 2.5, 2.5, 0.0])
    assert emitted == pytest.approx([0.0, 0.5, 0.05, 0.05])
    # last step: V = 0 + .9 · -.5 = -.45, no firing
    assert mems == pytest.approx([-0.5, -0.5, -0.5, -0.45])


def test_graded_refractory_below_threshold_only_decays():
    # V = 1, 1.9, 2.71 -> O = .71, V = 2.71 - 3.21 = -.5
    emitted, mems = run(snn.GradedRefractory(), [1.0, 1.0, 1.0, 1.0])
    assert emitted == pytest.approx([0.0, 0.0, 0.0, 0.71])
    assert mems == pytest.approx([1.0, 1.9, -0.5, 0.55])


def test_graded_refractory_gradient_flows_through_relu_only_above_threshold():
    neuron = snn.GradedRefractory()
    x = torch.tensor([2.5, 1.0], requires_grad=True)
    neuron(x)
    emitted, _ = neuron(torch.zeros(2))
    emitted.sum().backward()
    # emitted = O_1 = relu(x - 2): d/dx = 1 above threshold, 0 below
    assert x.grad.tolist() == [1.0, 0.0]


def test_graded_refractory_validates_hyperparameters():
    with pytest.raises(ValueError, match="decay_multiplier"):
        snn.GradedRefractory(decay_multiplier=1.5)
    with pytest.raises(ValueError, match="penalty_threshold"):
        snn.GradedRefractory(penalty_threshold=-1.0)
