"""Alpha trajectories worked out by hand from the equations (reference §1.3).

α = .9, β = .8: τ_α = ln .9 / (ln .8 − ln .9) + 1 = −.1053605 / −.1177830 + 1 = 1.8945305.
With x = 1 each step, E = .9E + 1 and I = .8I − 1 give (before any reset)
E = 1, 1.9, 2.71, 3.439, 4.0951 and I = −1, −1.8, −2.44, −2.952, −3.3616, so
U = τ_α(E + I) = 0, .1894530, .5115232, .9226363, 1.3896381: the first spike is at step 5.
"""

import pytest
import torch

import spikeforge as snn

TAU = 1.8945304820059299
BEFORE_RESET = {
    "spk": [0, 0, 0, 0, 1],
    "exc": [1.0, 1.9, 2.71, 3.439, 4.0951],
    "inh": [-1.0, -1.8, -2.44, -2.952, -3.3616],
    "mem": [0.0, 0.1894530, 0.5115232, 0.9226363, 1.3896381],
}


def run(lif, xs):
    syn_exc, syn_inh, mem = lif.init_alpha()
    out = {"spk": [], "exc": [], "inh": [], "mem": []}
    for x in xs:
        spk, syn_exc, syn_inh, mem = lif(torch.tensor([x]), syn_exc, syn_inh, mem)
        for key, value in zip(out, (spk, syn_exc, syn_inh, mem)):
            out[key].append(value.item())
    return out


@pytest.mark.parametrize(
    ("reset", "step6"),
    [
        # zero (the default): R = 1 zeroes all three states after the update
        ("zero", {"spk": 0, "exc": 0.0, "inh": 0.0, "mem": 0.0}),
        # subtract: E = .9·4.0951 + 1 − 1 = 3.68559; I = (.8·−3.3616 − 1)(1 − 1) = 0;
        # U = τ(4.68559 − 3.68928) + I_5 = 1.8875397 − 3.3616 = −1.4740603
        ("subtract", {"spk": 0, "exc": 3.68559, "inh": 0.0, "mem": -1.4740603}),
        # none: E = 4.68559, I = −3.68928, U = τ·.99631 = 1.8875397
        ("none", {"spk": 1, "exc": 4.68559, "inh": -3.68928, "mem": 1.8875397}),
    ],
)
def test_constant_input_trajectory(reset, step6):
    out = run(snn.Alpha(alpha=0.9, beta=0.8, reset_mechanism=reset), [1.0] * 6)
    for key in out:
        assert out[key][:5] == pytest.approx(BEFORE_RESET[key], abs=1e-5), key
        assert out[key][5] == pytest.approx(step6[key], abs=1e-5), key


def test_default_reset_is_zero():
    assert snn.Alpha(alpha=0.9, beta=0.8).reset_mechanism == "zero"


def test_membrane_equal_to_threshold_does_not_spike():
    # α = 1 gives τ_α = 0/ln β + 1 = 1; β = 0: step 1 U = 1 − 1 = 0; step 2: E = 2,
    # I = −1, U = 1 = θ exactly: no spike (strict >)
    lif = snn.Alpha(alpha=1.0, beta=0.0)
    out = run(lif, [1.0, 1.0])
    assert out["mem"] == [0.0, 1.0]
    assert out["spk"] == [0.0, 0.0]


def test_gradient_reaches_alpha_beta_threshold():
    lif = snn.Alpha(alpha=0.9, beta=0.8, learn_alpha=True, learn_beta=True, learn_threshold=True)
    _, e, i, mem = lif(torch.tensor([1.0]))
    spk, e, i, mem = lif(torch.tensor([1.0]), e, i, mem)
    mem.sum().backward(retain_graph=True)
    # U_2 = τ(α, β)·(α − β) with x = 1; ∂U/∂α = τ + (α − β)∂τ/∂α, ∂τ/∂α =
    # [ln β/α]/(ln β − ln α)^2 = (−.2231436/.9)/(.0138730) = −17.871, so ∂U/∂α =
    # 1.8945305 − 1.7871 = .10741; ∂τ/∂β = −ln α/β/(ln β − ln α)^2 = .1317006/.0138730
    # = 9.4933, so ∂U/∂β = −τ + .1·9.4933 = −.94520
    assert lif.alpha.grad.item() == pytest.approx(0.10741, abs=1e-4)
    assert lif.beta.grad.item() == pytest.approx(-0.94520, abs=1e-4)
    # θ enters U only through the detached reset, so it reaches the spikes alone:
    # ∂S/∂θ = −atan'(U − θ) = −1/(1 + (π·(.1894530 − 1))²) = −1/7.48420 = −.133615
    assert lif.threshold.grad is None
    spk.sum().backward()
    assert lif.threshold.grad.item() == pytest.approx(-0.133615, abs=1e-5)


def test_returns_and_state_handling():
    lif = snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True)
    spk = lif(torch.tensor([1.0]))
    assert isinstance(spk, torch.Tensor)
    assert (lif.syn_exc.item(), lif.syn_inh.item()) == (1.0, -1.0)
    with pytest.raises(TypeError, match="init_hidden"):
        lif(torch.tensor([1.0]), torch.zeros(1))
    states = lif.init_alpha()
    assert len(states) == 3 and all(s.numel() == 0 for s in states)
    _, state = snn.Alpha(alpha=0.9, beta=0.8).step(torch.tensor([1.0]))
    assert state._fields == ("syn_exc", "syn_inh", "mem")


def test_state_dict_keys_match_snntorch():
    keys = set(snn.Alpha(alpha=0.9, beta=0.8).state_dict())
    assert keys == {"alpha", "beta", "threshold", "graded_spikes_factor", "reset_mechanism_val"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.8, "beta": 0.9}, "alpha must be greater than beta"),
        ({"alpha": 0.8, "beta": 0.8}, "alpha must be greater than beta"),
        ({"alpha": torch.tensor([0.9, 0.5]), "beta": 0.6}, "alpha must be greater than beta"),
        ({"alpha": 1.0, "beta": 1.0}, "beta must not be 1"),
        ({"alpha": 1.2, "beta": 0.5}, "alpha must lie in"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn.Alpha(**kwargs)


def test_reference_rejects_immediate_reset():
    from spikeforge.ops.alpha.reference import alpha_step
    from spikeforge.ops.config import NeuronConfig

    z = torch.zeros(1)
    with pytest.raises(ValueError, match="reset_delay"):
        alpha_step(z, z, z, z, z + 0.9, z + 0.8, z + 1, z + 1, NeuronConfig(reset_delay=False))
