"""RLeaky and RSynaptic trajectories worked out by hand (β = α = V = 0.5, θ = 1).

Inputs are dyadic, so every number below is exact in float32.
"""

import pytest
import torch

import spikeforge as snn

X_RLEAKY = [1.5, 0.0, 0.75, 0.625, 0.25]
X_RSYN = [1.5, 0.0, 0.25, 0.5, 0.0]


def run_rleaky(lif, xs):
    spk, mem = lif.init_rleaky()
    spikes, mems = [], []
    for x in xs:
        spk, mem = lif(torch.tensor([x]), spk, mem)
        spikes.append(spk.item())
        mems.append(mem.item())
    return spikes, mems


def run_rsynaptic(lif, xs):
    spk, syn, mem = lif.init_rsynaptic()
    out = ([], [], [])
    for x in xs:
        spk, syn, mem = lif(torch.tensor([x]), spk, syn, mem)
        for seq, value in zip(out, (spk, syn, mem)):
            seq.append(value.item())
    return out


@pytest.mark.parametrize(
    ("kwargs", "expected_spk", "expected_mem"),
    [
        # U = .5U + x + .5S - R: 1.5 | .75+0+.5-1 = .25 | .125+.75 = .875 |
        # .4375+.625 = 1.0625 | .53125+.25+.5-1 = .28125
        ({}, [1, 0, 0, 1, 0], [1.5, 0.25, 0.875, 1.0625, 0.28125]),
        # zero: U = (1-R)(.5U + x + .5S): 1.5 | 0 | .75 | .375+.625 = 1.0 (== θ, no spike) |
        # R = 0: .5+.25 = .75
        ({"reset_mechanism": "zero"}, [1, 0, 0, 0, 0], [1.5, 0.0, 0.75, 1.0, 0.75]),
        # none: 1.5 | .75+.5 = 1.25 | .625+.75+.5 = 1.875 | .9375+.625+.5 = 2.0625 |
        # 1.03125+.25+.5 = 1.78125
        ({"reset_mechanism": "none"}, [1, 1, 1, 1, 1], [1.5, 1.25, 1.875, 2.0625, 1.78125]),
        # immediate subtract: 1.5-1 = .5 | .25+.5 = .75 | .375+.75 = 1.125 -> .125 |
        # .0625+.625+.5 = 1.1875 -> .1875 | .09375+.25+.5 = .84375
        ({"reset_delay": False}, [1, 0, 1, 1, 0], [0.5, 0.75, 0.125, 0.1875, 0.84375]),
        # immediate zero: 1.5 -> 0 | .5 | .25+.75 = 1.0 (no spike) | .5+.625 = 1.125 -> 0 | .25+.5
        (
            {"reset_mechanism": "zero", "reset_delay": False},
            [1, 0, 0, 1, 0],
            [0.0, 0.5, 1.0, 0.0, 0.75],
        ),
    ],
)
def test_rleaky_one_to_one_trajectory(kwargs, expected_spk, expected_mem):
    lif = snn.RLeaky(beta=0.5, V=0.5, all_to_all=False, **kwargs)
    spikes, mems = run_rleaky(lif, X_RLEAKY)
    assert spikes == expected_spk
    assert mems == expected_mem


@pytest.mark.parametrize(
    ("kwargs", "expected_spk", "expected_syn", "expected_mem"),
    [
        # I = .5I + x + .5S; U = .5U + I - R:
        # t1 I 1.5 U 1.5 | t2 I .75+.5 = 1.25, U .75+1.25-1 = 1.0 (== θ, no spike) |
        # t3 I .625+.25 = .875, U .5+.875 = 1.375 | t4 I .4375+.5+.5 = 1.4375,
        # U .6875+1.4375-1 = 1.125 | t5 I .71875+.5 = 1.21875, U .5625+1.21875-1 = .78125
        (
            {},
            [1, 0, 1, 1, 0],
            [1.5, 1.25, 0.875, 1.4375, 1.21875],
            [1.5, 1.0, 1.375, 1.125, 0.78125],
        ),
        # zero: U = (1-R)(.5U + I), I not reset: I 1.5, 1.25, .875, .4375+.5 = .9375,
        # .46875+.5 = .96875; U 1.5, 0, .875, .4375+.9375 = 1.375, 0
        (
            {"reset_mechanism": "zero"},
            [1, 0, 0, 1, 0],
            [1.5, 1.25, 0.875, 0.9375, 0.96875],
            [1.5, 0.0, 0.875, 1.375, 0.0],
        ),
        # none: I 1.5, 1.25, 1.375, 1.6875, 1.34375; U 1.5, 2.0, 2.375, 2.875, 2.78125
        (
            {"reset_mechanism": "none"},
            [1, 1, 1, 1, 1],
            [1.5, 1.25, 1.375, 1.6875, 1.34375],
            [1.5, 2.0, 2.375, 2.875, 2.78125],
        ),
        # immediate subtract (snnTorch skips it): U 1.5-1 = .5 | .25+1.25-1 = .5 |
        # .25+1.375-1 = .625 | .3125+1.6875-1 = 1.0 | R = 0: .5+1.34375-1 = .84375
        (
            {"reset_delay": False},
            [1, 1, 1, 1, 1],
            [1.5, 1.25, 1.375, 1.6875, 1.34375],
            [0.5, 0.5, 0.625, 1.0, 0.84375],
        ),
        # immediate zero: every step spikes and lands at 0; I as in "none"
        (
            {"reset_mechanism": "zero", "reset_delay": False},
            [1, 1, 1, 1, 1],
            [1.5, 1.25, 1.375, 1.6875, 1.34375],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ),
    ],
)
def test_rsynaptic_one_to_one_trajectory(kwargs, expected_spk, expected_syn, expected_mem):
    lif = snn.RSynaptic(alpha=0.5, beta=0.5, V=0.5, all_to_all=False, **kwargs)
    spikes, syns, mems = run_rsynaptic(lif, X_RSYN)
    assert spikes == expected_spk
    assert syns == expected_syn
    assert mems == expected_mem


def test_rleaky_dense_recurrence_feeds_back_previous_spikes():
    lif = snn.RLeaky(beta=0.5, linear_features=2)
    with torch.no_grad():
        lif.recurrent.weight.copy_(torch.tensor([[0.0, 0.25], [0.5, 0.0]]))
        lif.recurrent.bias.zero_()
    spk, mem = lif(torch.tensor([[1.5, 0.0]]))
    # rec(0) = 0: U = [1.5, 0]; S = [1, 0]
    assert spk.tolist() == [[1.0, 0.0]] and mem.tolist() == [[1.5, 0.0]]
    spk, mem = lif(torch.tensor([[0.0, 0.0]]), spk, mem)
    # rec([1, 0]) = W·S = [0, .5]: U = [.75 + 0 - 1, 0 + .5] = [-.25, .5]
    assert mem.tolist() == [[-0.25, 0.5]]


def test_graded_spikes_are_stored_in_the_state():
    lif = snn.RLeaky(beta=0.5, V=0.5, all_to_all=False)
    lif.graded_spikes_factor.fill_(2.0)
    spk, mem = lif(torch.tensor([1.5]))
    assert spk.item() == 2.0 and lif.spk.item() == 2.0
    # next: .75 + 0 + .5·2 - 1 = .75 (the reset stays binary)
    spk, mem = lif(torch.tensor([0.0]))
    assert mem.item() == 0.75


def test_threshold_equality_does_not_spike():
    spk, mem = snn.RLeaky(beta=0.5, all_to_all=False)(torch.tensor([1.0]))
    assert (spk.item(), mem.item()) == (0.0, 1.0)
    spk, _syn, mem = snn.RSynaptic(alpha=0.5, beta=0.5, all_to_all=False)(torch.tensor([1.0]))
    assert (spk.item(), mem.item()) == (0.0, 1.0)


def test_init_hidden_returns_spikes_only_and_keeps_state():
    lif = snn.RLeaky(beta=0.5, V=0.5, all_to_all=False, init_hidden=True)
    assert lif(torch.tensor([1.5])).item() == 1.0
    assert lif(torch.tensor([0.0])).item() == 0.0
    assert lif.mem.item() == 0.25 and lif.spk.item() == 0.0
    with pytest.raises(TypeError, match="init_hidden"):
        lif(torch.tensor([0.0]), torch.zeros(1), torch.zeros(1))


def test_recurrent_weights_learn_and_can_be_frozen():
    lif = snn.RSynaptic(alpha=0.5, beta=0.5, linear_features=3)
    x = torch.full((2, 3), 1.5)
    lif(x)
    _spk, _syn, mem = lif(x)
    mem.sum().backward()
    assert lif.recurrent.weight.grad.abs().sum() > 0
    frozen = snn.RLeaky(beta=0.5, V=0.5, all_to_all=False, learn_recurrent=False)
    assert "V" in dict(frozen.named_buffers()) and not list(frozen.parameters())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "linear_features"),
        ({"linear_features": 4, "kernel_size": 3}, TypeError, "not both"),
        ({"conv2d_channels": 4}, TypeError, "kernel_size is missing"),
        ({"all_to_all": False, "linear_features": 4}, TypeError, "all_to_all=False"),
        ({"conv2d_channels": 2, "kernel_size": 2}, ValueError, "odd"),
        ({"linear_features": 0}, ValueError, "linear_features"),
        ({"linear_features": 2.5}, TypeError, "linear_features"),
    ],
)
def test_recurrence_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        snn.RLeaky(beta=0.5, **kwargs)
    with pytest.raises(error, match=match):
        snn.RSynaptic(alpha=0.5, beta=0.5, **kwargs)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="linear_features=4"):
        snn.RLeaky(beta=0.5, linear_features=4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="conv2d_channels=2"):
        snn.RLeaky(beta=0.5, conv2d_channels=2, kernel_size=3)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="V of shape"):
        snn.RLeaky(beta=0.5, V=torch.ones(3), all_to_all=False)(torch.zeros(2, 4))


def test_pickle_and_dtype_round_trip(tmp_path):
    lif = snn.RSynaptic(alpha=0.5, beta=0.5, V=torch.tensor([0.5, 0.25]), all_to_all=False)
    torch.save(lif, tmp_path / "n.pt")
    loaded = torch.load(tmp_path / "n.pt", weights_only=False)
    assert torch.equal(loaded.V, lif.V)
    double = snn.RLeaky(beta=0.5, linear_features=2).to(torch.float64)
    spk, mem = double(torch.ones(1, 2, dtype=torch.float64))
    spk, mem = double(torch.ones(1, 2, dtype=torch.float64), spk, mem)
    assert mem.dtype == torch.float64
