"""``step_mode="multi"`` equals running the single-step API T times; backend selection."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.nn import SeqToANN, set_step_mode


def single_loop(neuron, x_seq, mem=None):
    spikes, mems = [], []
    for x in x_seq:
        spk, mem = neuron(x, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("backend", ["auto", "reference", "cpu", "torch"])
@pytest.mark.parametrize("kwargs", [{}, {"reset_mechanism": "zero"}, {"reset_delay": False}])
def test_multi_equals_single_steps(backend, kwargs):
    x = torch.rand(12, 3, 5) * 1.5
    single = snn.Leaky(beta=0.8, backend=backend, **kwargs)
    multi = snn.Leaky(beta=0.8, backend=backend, step_mode="multi", **kwargs)
    spk_s, mem_s = single_loop(single, x)
    spk_m, mem_m = multi(x)
    assert spk_m.shape == mem_m.shape == (12, 3, 5)
    assert torch.equal(spk_s, spk_m)
    torch.testing.assert_close(mem_s, mem_m, rtol=0, atol=0)
    torch.testing.assert_close(multi.mem, mem_s[-1], rtol=0, atol=0)


def test_first_steps_worked_by_hand():
    # β = .9, x = 1.2, subtract: U = 1.2, 1.28, 1.352; spikes every step (U > 1).
    lif = snn.Leaky(beta=0.9, step_mode="multi")
    spk, mem = lif(torch.full((3, 1), 1.2))
    assert spk.flatten().tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(mem.flatten(), torch.tensor([1.2, 1.28, 1.352]))


def test_state_carries_over_between_multi_calls():
    x = torch.rand(10, 2, 4) * 1.5
    ref = snn.Leaky(beta=0.7, step_mode="multi")
    spk_all, mem_all = ref(x)
    lif = snn.Leaky(beta=0.7, step_mode="multi")
    spk_a, _ = lif(x[:6])
    spk_b, mem_b = lif(x[6:])
    assert torch.equal(torch.cat([spk_a, spk_b]), spk_all)
    torch.testing.assert_close(mem_b, mem_all[6:])


def test_init_hidden_returns_spikes_and_keeps_final_state():
    x = torch.rand(7, 2, 3) * 1.5
    lif = snn.Leaky(beta=0.9, init_hidden=True, step_mode="multi")
    spk = lif(x)
    assert isinstance(spk, torch.Tensor) and spk.shape == (7, 2, 3)
    _, mem_ref = single_loop(snn.Leaky(beta=0.9), x)
    torch.testing.assert_close(lif.mem, mem_ref[-1])
    out = snn.Leaky(beta=0.9, init_hidden=True, output=True, step_mode="multi")(x)
    assert len(out) == 2 and out[1].shape == (7, 2, 3)


def test_gradients_of_multi_equal_single():
    x = (torch.rand(9, 2, 6) * 1.5).requires_grad_(True)
    single = snn.Leaky(beta=0.8, learn_beta=True, learn_threshold=True)
    multi = snn.Leaky(beta=0.8, learn_beta=True, learn_threshold=True, step_mode="multi")
    w = torch.randn(9, 2, 6)
    grads = []
    for neuron, fn in ((single, lambda: single_loop(single, x)), (multi, lambda: multi(x))):
        spk, mem = fn()
        grads.append(torch.autograd.grad((spk * w).sum() + mem.sum(), [x, *neuron.parameters()]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_multi_rejects_a_scalar_and_an_empty_sequence():
    lif = snn.Leaky(beta=0.9, step_mode="multi")
    with pytest.raises(ValueError, match="time-major"):
        lif(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="step_mode"):
        snn.Leaky(beta=0.9, step_mode="many")


def test_set_step_mode_switches_every_neuron():
    net = torch.nn.Sequential(
        SeqToANN(torch.nn.Linear(4, 6)),
        snn.Leaky(beta=0.9, init_hidden=True),
        SeqToANN(torch.nn.Linear(6, 2)),
        snn.Leaky(beta=0.9, init_hidden=True),
    )
    assert set_step_mode(net, "multi") is net
    assert [m.step_mode for m in net if isinstance(m, snn.Leaky)] == ["multi", "multi"]
    assert net(torch.rand(5, 3, 4)).shape == (5, 3, 2)
    with pytest.raises(ValueError, match="step_mode"):
        set_step_mode(net, "double")


def test_seq_to_ann_folds_time_into_batch():
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(4, 5, 2, 8, 8)
    out = SeqToANN(conv, torch.nn.MaxPool2d(2))(x)
    want = torch.stack([torch.nn.functional.max_pool2d(conv(xt), 2) for xt in x])
    torch.testing.assert_close(out, want)
    with pytest.raises(ValueError, match="T, B"):
        SeqToANN(conv)(torch.rand(2, 8))


def test_backend_selection(monkeypatch):
    x = torch.rand(3, 2)
    with pytest.raises(ValueError, match="backend"):
        snn.Leaky(beta=0.9, backend="gpu")
    # A user closure cannot run in a kernel: auto takes the reference, a named kernel raises.
    closure = lambda v: sg.ATan()(v)  # noqa: E731
    assert snn.Leaky(beta=0.9, spike_grad=closure).select_backend(x, snn.Leaky(0.9).config()) in (
        "cpu", "torch"
    )  # fmt: skip
    lif = snn.Leaky(beta=0.9, spike_grad=closure, backend="cpu")
    with pytest.raises(ValueError, match="user callable"):
        lif(x)
    assert snn.Leaky(beta=0.9, spike_grad=closure).select_backend(x, lif.config()) == "reference"
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="CUDA"):
        snn.Leaky(beta=0.9, backend="triton")(x)
    monkeypatch.setenv("SPIKEFORGE_BACKEND", "torch")
    assert snn.Leaky(beta=0.9).select_backend(x, snn.Leaky(0.9).config()) == "torch"
    monkeypatch.setenv("SPIKEFORGE_BACKEND", "nope")
    with pytest.raises(ValueError, match="SPIKEFORGE_BACKEND"):
        snn.Leaky(beta=0.9)(x)
