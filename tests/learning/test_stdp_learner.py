"""``functional.stdp_learner`` (issue 14, item 3): parity with snnTorch 1.0.0 on random
spikes, numbers by hand, and the learner's bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import spikeforge as sf
from spikeforge.functional import stdp_learner as ours

theirs = pytest.importorskip("snntorch.functional.stdp_learner")

STEPS = 50


def _spikes(*shape, p=0.3):
    return (torch.rand(*shape) < p).to(torch.float64)


def _bounded_pre(w):
    return w.clamp(min=0.0) ** 0.5


def _bounded_post(w):
    return (1.0 - w).clamp(min=0.0)


F_PAIRS = {"identity": {}, "bounded": {"f_pre": _bounded_pre, "f_post": _bounded_post}}


def _run(fn, layer, ins, outs, *taus, **kw):
    pre = post = None
    results = []
    for x, y in zip(ins, outs):
        pre, post, dw = fn(layer, x, y, pre, post, *taus, **kw)
        results.append((pre, post, dw))
    return results


def _assert_same(got, want):
    for step, (a, b) in enumerate(zip(got, want)):
        for u, v in zip(a, b):
            torch.testing.assert_close(u, v, rtol=0, atol=1e-10, msg=f"step {step}")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("fs", F_PAIRS, ids=str)
@pytest.mark.parametrize("name", ["stdp_linear_single_step", "mstdp_linear_single_step"])
def test_linear_rules_match_snntorch(name, fs):
    fc = nn.Linear(5, 3).double()
    ins, outs = _spikes(STEPS, 4, 5), _spikes(STEPS, 4, 3)
    got = _run(getattr(ours, name), fc, ins, outs, 2.0, 3.0, **F_PAIRS[fs])
    want = _run(getattr(theirs, name), fc, ins, outs, 2.0, 3.0, **F_PAIRS[fs])
    _assert_same(got, want)
    assert any(r[2].abs().sum() > 0 for r in got)


@pytest.mark.parametrize("fs", F_PAIRS, ids=str)
def test_mstdpet_matches_snntorch_on_single_samples(fs):
    fc = nn.Linear(5, 3).double()
    ins, outs = _spikes(STEPS, 5), _spikes(STEPS, 3)
    got = _run(ours.mstdpet_linear_single_step, fc, ins, outs, 2.0, 3.0, 4.0, **F_PAIRS[fs])
    want = _run(theirs.mstdpet_linear_single_step, fc, ins, outs, 2.0, 3.0, 4.0, **F_PAIRS[fs])
    _assert_same(got, want)


CONV2D = [
    {},
    {"stride": 2},
    {"padding": 1},
    {"padding": (1, 2), "stride": (2, 1)},
    {"padding": 1, "padding_mode": "reflect"},
    {"padding": 1, "padding_mode": "circular"},
]


@pytest.mark.parametrize("fs", F_PAIRS, ids=str)
@pytest.mark.parametrize("options", CONV2D, ids=str)
def test_conv2d_rule_matches_snntorch(options, fs):
    conv = nn.Conv2d(2, 3, 3, **options).double()
    ins = _spikes(STEPS, 2, 2, 7, 6)
    outs = _spikes(STEPS, *conv(ins[0]).shape)
    got = _run(ours.stdp_conv2d_single_step, conv, ins, outs, 2.0, 3.0, **F_PAIRS[fs])
    want = _run(theirs.stdp_conv2d_single_step, conv, ins, outs, 2.0, 3.0, **F_PAIRS[fs])
    _assert_same(got, want)


@pytest.mark.parametrize("options", [{}, {"stride": 2}, {"padding": 2}, {"padding": 1,
                                     "padding_mode": "replicate"}], ids=str)  # fmt: skip
def test_conv1d_rule_matches_snntorch(options):
    conv = nn.Conv1d(2, 3, 3, **options).double()
    ins = _spikes(STEPS, 2, 2, 9)
    outs = _spikes(STEPS, *conv(ins[0]).shape)
    got = _run(ours.stdp_conv1d_single_step, conv, ins, outs, 2.0, 3.0)
    want = _run(theirs.stdp_conv1d_single_step, conv, ins, outs, 2.0, 3.0)
    _assert_same(got, want)


def test_conv2d_with_dilation_and_groups_equals_the_unfolded_definition():
    """A superset of snnTorch (which refuses both): ΔW from im2col windows by hand."""
    conv = nn.Conv2d(4, 2, 2, dilation=2, groups=2, bias=False).double()
    x, y = _spikes(3, 4, 6, 6), _spikes(3, 2, 4, 4)
    pre, post, dw = ours.stdp_conv2d_single_step(conv, x, y, None, None, 2.0, 2.0)
    # first step: traces equal the spikes, so ΔW = W·(Σ y⊗x-windows) − W·(same) = 0 ...
    torch.testing.assert_close(dw, torch.zeros_like(dw))
    x2, y2 = _spikes(3, 4, 6, 6), _spikes(3, 2, 4, 4)
    pre, post, dw = ours.stdp_conv2d_single_step(conv, x2, y2, pre, post, 2.0, 2.0)
    w = conv.weight.detach()
    want = torch.zeros_like(w)
    for g in range(2):  # group g: input channels 2g..2g+1 feed output channel g
        cols_pre = nn.functional.unfold(pre[:, 2 * g : 2 * g + 2], 2, dilation=2)  # [B, 8, 16]
        cols_in = nn.functional.unfold(x2[:, 2 * g : 2 * g + 2], 2, dilation=2)
        pot = torch.einsum("bl,bkl->k", y2[:, g].flatten(1), cols_pre)
        dep = torch.einsum("bl,bkl->k", post[:, g].flatten(1), cols_in)
        want[g] = (w[g].flatten() * (pot - dep)).view(2, 2, 2)
    torch.testing.assert_close(dw, want)


def test_linear_rule_by_hand():
    """One synapse, τ = 2: pre spikes at t=0, post at t=1."""
    fc = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        fc.weight.fill_(0.5)
    pre, post, dw = ours.stdp_linear_single_step(
        fc, torch.tensor([[1.0]]), torch.tensor([[0.0]]), None, None, 2.0, 2.0
    )
    # x = 1, y = 0: a pre spike meets no post trace, and no post spike
    assert (pre.item(), post.item(), dw.item()) == (1.0, 0.0, 0.0)
    pre, post, dw = ours.stdp_linear_single_step(
        fc, torch.tensor([[0.0]]), torch.tensor([[1.0]]), pre, post, 2.0, 2.0
    )
    # x = 1 − 1/2 = 0.5; y = 1; ΔW = f_post(0.5)·1·0.5 − 0 = 0.25 (potentiation)
    assert (pre.item(), post.item(), dw.item()) == (0.5, 1.0, 0.25)
    pre, post, dw = ours.stdp_linear_single_step(
        fc, torch.tensor([[1.0]]), torch.tensor([[0.0]]), pre, post, 2.0, 2.0
    )
    # x = 0.25 + 1; y = 0.5; ΔW = −f_pre(0.5)·0.5·1 = −0.25 (depression)
    assert (pre.item(), post.item(), dw.item()) == (1.25, 0.5, -0.25)


def test_mstdp_decays_exponentially_and_keeps_the_batch():
    fc = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        fc.weight.fill_(1.0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pre, _, elig = ours.mstdp_linear_single_step(fc, x, torch.zeros(2, 1), None, None, 4.0, 4.0)
    pre, _, elig = ours.mstdp_linear_single_step(fc, torch.zeros(2, 2), torch.ones(2, 1),
                                                 pre, None, 4.0, 4.0)  # fmt: skip
    decay = math.exp(-1 / 4)
    torch.testing.assert_close(pre, x * decay)
    assert elig.shape == (2, 1, 2)
    torch.testing.assert_close(elig, (x * decay).unsqueeze(1))


def _learners(synapse, neuron, **kw):
    return (ours.STDPLearner(synapse, neuron, 2.0, 3.0, **kw),
            theirs.STDPLearner(synapse, neuron, 2.0, 3.0, **kw))  # fmt: skip


@pytest.mark.parametrize("kind", ["linear", "conv2d", "conv1d"])
def test_learner_matches_snntorchs_learner(kind):
    synapse = {"linear": nn.Linear(6, 4), "conv2d": nn.Conv2d(1, 2, 3, padding=1),
               "conv1d": nn.Conv1d(1, 2, 3)}[kind]  # fmt: skip
    shape = {"linear": (3, 6), "conv2d": (3, 1, 5, 5), "conv1d": (3, 1, 8)}[kind]
    lif = sf.Leaky(beta=0.8, threshold=0.3, init_hidden=True)
    mine, ref = _learners(synapse, lif, f_pre=_bounded_pre, f_post=_bounded_post)
    with torch.no_grad():
        for _ in range(6):
            lif(synapse((torch.rand(shape) < 0.5).float()))
    got = mine.step(on_grad=False, scale=0.5)
    want = ref.step(on_grad=False, scale=0.5)
    # float32: the convolution's weight gradient sums in another order than snnTorch's loop
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    assert got.abs().sum() > 0
    assert mine.in_spike_monitor.records == [] and ref.in_spike_monitor.records == []


def test_learner_writes_minus_delta_into_grad_and_sgd_adds_it():
    fc, lif = nn.Linear(4, 2, bias=False), sf.Leaky(beta=0.9, threshold=0.2, init_hidden=True)
    learner = ours.STDPLearner(fc, lif, 2.0, 2.0)
    before = fc.weight.detach().clone()
    with torch.no_grad():
        for _ in range(5):
            lif(fc(torch.ones(1, 4)))
    twin = ours.stdp_linear_single_step  # recompute ΔW from the same records
    records = list(zip(learner.in_spike_monitor.records, learner.out_spike_monitor.records))
    pre = post = None
    total = torch.zeros_like(before)
    for x, y in records:
        pre, post, dw = twin(fc, x, y, pre, post, 2.0, 2.0)
        total += dw
    assert learner.step() is None
    torch.testing.assert_close(fc.weight.grad, -total)
    torch.optim.SGD(fc.parameters(), lr=0.1).step()
    torch.testing.assert_close(fc.weight.detach(), before + 0.1 * total)
    learner.step()  # nothing recorded since: adds zero
    torch.testing.assert_close(fc.weight.grad, -total)


def test_learner_reset_disable_enable():
    fc, lif = nn.Linear(3, 2), sf.Leaky(beta=0.9, init_hidden=True)
    learner = ours.STDPLearner(fc, lif, 2.0, 2.0)
    lif(fc(torch.ones(1, 3)))
    learner.step(on_grad=False)
    assert learner.trace_pre is not None
    lif(fc(torch.ones(1, 3)))
    learner.reset()
    assert learner.trace_pre is None and learner.trace_post is None
    assert learner.in_spike_monitor.records == [] and learner.out_spike_monitor.records == []
    learner.disable()
    lif(fc(torch.ones(1, 3)))
    assert learner.in_spike_monitor.records == []
    learner.enable()
    lif(fc(torch.ones(1, 3)))
    assert len(learner.out_spike_monitor.records) == 1


def test_learner_takes_spikes_from_a_neuron_returning_states():
    fc, lif = nn.Linear(3, 2), sf.Leaky(beta=0.9)
    learner = ours.STDPLearner(fc, lif, 2.0, 2.0)
    spk, _ = lif(fc(torch.ones(1, 3)))
    assert torch.equal(learner.out_spike_monitor.records[0], spk)


def test_bad_arguments_are_named():
    fc, lif = nn.Linear(3, 2), sf.Leaky(beta=0.9, init_hidden=True)
    with pytest.raises(TypeError, match="synapse must be"):
        ours.STDPLearner(nn.Conv3d(1, 1, 1), lif, 2.0, 2.0)
    with pytest.raises(ValueError, match="tau_pre"):
        ours.STDPLearner(fc, lif, 0.0, 2.0)
    with pytest.raises(ValueError, match=r"in_spike \[\.\.\., 3\]"):
        ours.stdp_linear_single_step(fc, torch.ones(1, 4), torch.ones(1, 2), None, None, 2, 2)
    with pytest.raises(ValueError, match="batched"):
        ours.stdp_conv2d_single_step(nn.Conv2d(1, 1, 2), torch.ones(1, 3, 3), torch.ones(1, 2, 2),
                                     None, None, 2, 2)  # fmt: skip
    learner = ours.STDPLearner(fc, lif, 2.0, 2.0)
    fc(torch.ones(1, 3))  # the synapse ran, the neuron did not
    with pytest.raises(RuntimeError, match="1 synapse calls but 0 neuron calls"):
        learner.step()


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    size=st.integers(3, 7),
    seed=st.integers(0, 2**16),
)
def test_conv2d_and_linear_parity_on_random_shapes(
    batch, c_in, c_out, kernel, stride, padding, size, seed
):
    torch.manual_seed(seed)
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding).double()
    ins = _spikes(8, batch, c_in, size, size)
    outs = _spikes(8, *conv(ins[0]).shape)
    got = _run(ours.stdp_conv2d_single_step, conv, ins, outs, 2.0, 5.0)
    want = _run(theirs.stdp_conv2d_single_step, conv, ins, outs, 2.0, 5.0)
    _assert_same(got, want)
    fc = nn.Linear(c_in * size, c_out * kernel).double()
    ins, outs = _spikes(8, batch, c_in * size), _spikes(8, batch, c_out * kernel)
    for name in ("stdp_linear_single_step", "mstdp_linear_single_step"):
        got = _run(getattr(ours, name), fc, ins, outs, 3.0, 2.0)
        want = _run(getattr(theirs, name), fc, ins, outs, 3.0, 2.0)
        _assert_same(got, want)
