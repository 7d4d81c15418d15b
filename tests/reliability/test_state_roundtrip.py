"""Nothing lost: ``state_dict`` and ``torch.save(model)`` round trips keep every neuron's
learnable parameters, buffers and configuration (reset, surrogate, threshold, flags)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from spikeforge import surrogate

from ._neurons import CASES, IDS

WITH_RESET = [c for c in CASES if c.name != "GradedRefractory"]


def _configured(case):
    """A non-default configuration: learnable threshold, other surrogate, zero reset."""
    if case.name == "GradedRefractory":
        return case.make(threshold=0.7, learn_threshold=True, learn_decay=True)
    return case.make(
        threshold=0.7,
        learn_threshold=True,
        reset_mechanism="zero",
        spike_grad=surrogate.fast_sigmoid(slope=7),
    )


def _nudge(module):
    """Move every floating parameter and buffer away from its initial value."""
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if t.is_floating_point() and t.numel():
                t.mul_(0.9).add_(0.01)


def _run(neuron, x, steps=4):
    torch.manual_seed(5)
    return [neuron(x) for _ in range(steps)]


def _assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_round_trip_restores_parameters_and_buffers(case):
    src = _configured(case)
    _nudge(src)
    dst = _configured(case)
    dst.load_state_dict(src.state_dict())
    _assert_same_tensors(src.state_dict(), dst.state_dict())
    assert {n for n, _ in src.named_parameters()} == {n for n, _ in dst.named_parameters()}
    x = case.input()
    for got, want in zip(_run(dst, x), _run(src, x)):
        for g, w in zip(got, want):
            assert torch.equal(g, w)


@pytest.mark.parametrize("case", WITH_RESET, ids=[c.name for c in WITH_RESET])
def test_state_dict_carries_the_reset_mechanism(case):
    src = case.make(reset_mechanism="none")
    dst = case.make()  # the class default
    dst.load_state_dict(src.state_dict())
    assert dst.reset_mechanism == "none"
    assert int(dst.reset_mechanism_val) == 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_save_of_the_whole_model_keeps_configuration(case):
    neuron = _configured(case)
    _nudge(neuron)
    net = nn.Sequential(neuron)
    x = case.input()
    _run(neuron, x, steps=2)  # a stored hidden state travels too (non-persistent buffers)
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)[0]
    assert type(loaded) is type(neuron)
    assert loaded.spike_grad == neuron.spike_grad
    assert loaded.init_hidden == neuron.init_hidden and loaded.output == neuron.output
    if case.name != "GradedRefractory":
        assert loaded.reset_mechanism == "zero"
        assert loaded.spike_grad == surrogate.FastSigmoid(7)
    assert isinstance(loaded.threshold, nn.Parameter)
    _assert_same_tensors(neuron.state_dict(), loaded.state_dict())
    for name in neuron.state_names:
        assert torch.equal(getattr(loaded, name), getattr(neuron, name))
    for got, want in zip(_run(loaded, x), _run(neuron, x)):
        for g, w in zip(got, want):
            assert torch.equal(g, w)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hidden_state_is_not_in_the_state_dict(case):
    neuron = case.make()
    neuron(case.input())
    assert not set(neuron.state_names) & set(neuron.state_dict())


def test_multi_step_mode_and_backend_survive_torch_save():
    neuron = CASES[0].make(step_mode="multi", backend="reference")
    buffer = io.BytesIO()
    torch.save(neuron, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert loaded.step_mode == "multi" and loaded.backend == "reference"
    x = torch.rand(5, 2, 5)
    for g, w in zip(loaded(x), neuron(x)):
        assert torch.equal(g, w)


def test_learnable_decays_round_trip_as_parameters():
    case = next(c for c in CASES if c.name == "Synaptic")
    src = case.make(learn_alpha=True, learn_beta=True)
    _nudge(src)
    dst = case.make(learn_alpha=True, learn_beta=True)
    dst.load_state_dict(src.state_dict())
    assert isinstance(dst.alpha, nn.Parameter) and isinstance(dst.beta, nn.Parameter)
    assert torch.equal(dst.alpha, src.alpha) and torch.equal(dst.beta, src.beta)
