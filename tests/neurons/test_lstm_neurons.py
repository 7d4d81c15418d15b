"""SLSTM and SConv2dLSTM: shapes, state carry, spikes = H(U − θ), gate order by hand."""

import math

import pytest
import torch

import spikeforge as snn


def test_slstm_keeps_state_when_input_size_differs_from_hidden_size():
    # snnTorch 1.0.0 zeroes the state every step here; ours must carry it.
    lstm = snn.SLSTM(input_size=2, hidden_size=3)
    x = torch.tensor([[1.0, -2.0]])
    syn, mem = lstm.init_slstm()
    _, syn1, mem1 = lstm(x, syn, mem)
    spk2, syn2, mem2 = lstm(x, syn1, mem1)
    with torch.no_grad():
        h1, c1 = lstm.lstm_cell(x, (torch.zeros(1, 3), torch.zeros(1, 3)))
        h2, c2 = lstm.lstm_cell(x, (h1, c1))
    torch.testing.assert_close(mem1, h1)
    torch.testing.assert_close((syn2, mem2), (c2, h2))
    assert not torch.allclose(mem2, mem1)
    assert torch.equal(spk2, (mem2 > 1.0).float())


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_slstm_reset_uses_previous_membrane(reset):
    lstm = snn.SLSTM(input_size=1, hidden_size=1, threshold=0.5, reset_mechanism=reset)
    with torch.no_grad():  # i = f = o = σ(0) = .5, g = tanh(10 x) ≈ 1 for x = 1
        lstm.lstm_cell.weight_ih.copy_(torch.tensor([[0.0], [0.0], [10.0], [0.0]]))
        lstm.lstm_cell.weight_hh.zero_()
        lstm.lstm_cell.bias_ih.zero_()
        lstm.lstm_cell.bias_hh.zero_()
    x = torch.ones(1, 1)
    g = math.tanh(10.0)
    c1 = 0.5 * g  # C = f·0 + i·g
    h1 = 0.5 * math.tanh(c1)  # U = o·tanh(C) ≈ .2311 < .5: no spike
    spk, syn, mem = lstm(x)
    assert spk.item() == 0.0 and mem.item() == pytest.approx(h1, abs=1e-6)
    lstm.threshold.fill_(0.2)  # now U_1 > θ, so step 2 is reset
    c2 = 0.5 * c1 + 0.5 * g
    h2 = 0.5 * math.tanh(c2)
    expected = h2 - 0.2 if reset == "subtract" else 0.0
    spk, syn, mem = lstm(x)
    assert syn.item() == pytest.approx(c2, abs=1e-6)
    assert mem.item() == pytest.approx(expected, abs=1e-6)


def test_sconv2dlstm_gate_order_is_i_f_o_g():
    cell = snn.SConv2dLSTM(1, 1, kernel_size=1)
    with torch.no_grad():
        cell.conv.weight.zero_()
        # biases (i, f, o, g) = (0, ln 3, 0, atanh .8): i = o = .5, f = .75, g = .8
        cell.conv.bias.copy_(torch.tensor([0.0, math.log(3.0), 0.0, math.atanh(0.8)]))
    x = torch.zeros(1, 1, 2, 2)
    _, syn, mem = cell(x)
    # C1 = .75·0 + .5·.8 = .4 ; U1 = .5·tanh(.4)
    torch.testing.assert_close(syn, torch.full_like(x, 0.4))
    torch.testing.assert_close(mem, torch.full_like(x, 0.5 * math.tanh(0.4)))
    _, syn, mem = cell(x)
    # C2 = .75·.4 + .4 = .7 ; U2 = .5·tanh(.7)
    torch.testing.assert_close(syn, torch.full_like(x, 0.7))
    torch.testing.assert_close(mem, torch.full_like(x, 0.5 * math.tanh(0.7)))


@pytest.mark.parametrize(("pool", "spk_hw"), [({}, 6), ({"max_pool": 2}, 3), ({"avg_pool": 3}, 2)])
def test_sconv2dlstm_shapes_and_spikes_from_pooled_membrane(pool, spk_hw):
    cell = snn.SConv2dLSTM(2, 3, kernel_size=(3, 5), threshold=0.05, **pool)
    syn, mem = cell.init_sconv2dlstm()
    for _ in range(3):
        spk, syn, mem = cell(torch.randn(4, 2, 6, 6), syn, mem)
    assert syn.shape == mem.shape == (4, 3, 6, 6)
    assert spk.shape == (4, 3, spk_hw, spk_hw)
    pooled = mem
    if "max_pool" in pool:
        pooled = torch.nn.functional.max_pool2d(mem, 2)
    elif "avg_pool" in pool:
        pooled = torch.nn.functional.avg_pool2d(mem, 3)
    assert torch.equal(spk, (pooled > 0.05).float())


def test_slstm_shapes_state_carry_and_spikes():
    lstm = snn.SLSTM(4, 6, threshold=0.1, init_hidden=True, output=True)
    for batch in (5, 5, 2):  # a new batch size starts from zero
        spk, syn, mem = lstm(torch.randn(batch, 4))
        assert spk.shape == syn.shape == mem.shape == (batch, 6)
        assert torch.equal(spk, (mem > 0.1).float())
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), snn.SLSTM(4, 2, init_hidden=True))
    assert net(torch.randn(7, 3)).shape == (7, 2)


def test_slstm_stateless_step_matches_stateful_call():
    lstm = snn.SLSTM(3, 2, threshold=0.05)
    x = torch.randn(4, 3)
    spk, state = lstm.step(x)
    spk, state = lstm.step(x, state)
    lstm.reset_mem()
    lstm(x)
    spk2, syn2, mem2 = lstm(x)
    assert torch.equal(spk, spk2) and torch.equal(state.mem, mem2) and torch.equal(state.syn, syn2)


def test_lstm_arguments_and_inputs_are_checked():
    with pytest.raises(ValueError, match="max_pool"):
        snn.SConv2dLSTM(1, 2, 3, max_pool=2, avg_pool=2)
    with pytest.raises(ValueError, match="odd"):
        snn.SConv2dLSTM(1, 2, 4)
    with pytest.raises(ValueError, match="in_channels=1"):
        snn.SConv2dLSTM(1, 2, 3)(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="input_size=3"):
        snn.SLSTM(3, 2)(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="hidden_size"):
        snn.SLSTM(3, 0)
    with pytest.raises(ValueError, match="syn has shape"):
        snn.SLSTM(3, 2)(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 2))


def test_lstm_defaults_match_snntorch():
    assert snn.SLSTM(2, 2).reset_mechanism == "none"
    assert snn.SConv2dLSTM(1, 1, 1).reset_mechanism == "none"
    assert snn.SLSTM(2, 2).init_slstm()[0].numel() == 0
