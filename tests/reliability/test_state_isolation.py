"""State never leaks: between instances, across batch sizes, through the autograd graph,
or into memory over long no-grad loops. Every neuron class is checked."""

from __future__ import annotations

import gc
import sys

import pytest
import torch
from torch import nn

from spikeforge import utils

from ._neurons import CASES, IDS


def _outputs(neuron, x):
    out = neuron(x)
    return out if isinstance(out, tuple) else (out,)


def _stored(neuron):
    return [getattr(neuron, n).clone() for n in neuron.state_names]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_two_instances_never_share_stored_state(case):
    torch.manual_seed(1)
    a, b = case.make(init_hidden=True), case.make(init_hidden=True)
    b.load_state_dict(a.state_dict())  # same weights: any leak would show as equal states
    xa, xb = case.input(), case.input() + 0.5
    for _ in range(3):
        a(xa)
    before = _stored(a)
    for _ in range(3):
        b(xb)
    assert all(torch.equal(s, t) for s, t in zip(before, _stored(a)))
    # b is a's twin fed other data: its state is its own, not a's.
    assert any(not torch.equal(s, t) for s, t in zip(before, _stored(b)))
    assert utils.reset(nn.Sequential(b)) == 1
    assert all(torch.equal(s, t) for s, t in zip(before, _stored(a)))
    assert all(not s.any() for s in _stored(b))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_step_api_leaves_every_instance_untouched(case):
    neuron, other = case.make(), case.make()
    x = case.input()
    neuron(x)
    other(x)
    stored, stored_other = _stored(neuron), _stored(other)
    _, state = neuron.step(x)
    _, state = neuron.step(x, state)
    for before, now in ((stored, _stored(neuron)), (stored_other, _stored(other))):
        assert all(torch.equal(s, t) for s, t in zip(before, now))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_second_network_in_explicit_state_mode_does_not_see_the_first(case):
    # snnTorch 1.0.0 class-level bookkeeping made reset of one network reach the other's
    # instances (issue #438); here each network's trajectory equals a solo run's.
    torch.manual_seed(2)
    template = case.make()
    x = case.input()
    solo = case.make()
    solo.load_state_dict(template.state_dict())
    expected = [_outputs(solo, x) for _ in range(4)]
    a, b = case.make(), case.make()
    a.load_state_dict(template.state_dict())
    b.load_state_dict(template.state_dict())
    for step in range(4):
        got = _outputs(a, x)
        _outputs(b, x * 2)
        utils.reset(nn.Sequential(b))
        for g, e in zip(got, expected[step]):
            torch.testing.assert_close(g, e, rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batch_size_change_restarts_from_zero(case):
    # Documented (neurons._base): a stored state of another shape is replaced by zeros.
    torch.manual_seed(3)
    neuron = case.make(init_hidden=True, output=True)
    fresh = case.make(init_hidden=True, output=True)
    fresh.load_state_dict(neuron.state_dict())
    for _ in range(3):
        neuron(case.input(batch=4))
    x = case.input(batch=2)
    for got, want in zip(_outputs(neuron, x), _outputs(fresh, x)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert all(getattr(neuron, n).shape[0] == 2 for n in neuron.state_names)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_detach_hidden_truncates_the_graph(case):
    neuron = case.make(init_hidden=True, output=True)
    early = case.input().requires_grad_(True)
    late = case.input().requires_grad_(True)
    neuron(early)
    neuron(early)
    assert any(getattr(neuron, n).grad_fn is not None for n in neuron.state_names)
    neuron.detach_hidden()
    assert all(getattr(neuron, n).grad_fn is None for n in neuron.state_names)
    out = _outputs(neuron, late)
    loss = sum(o.sum() for o in out)
    g_early, g_late = torch.autograd.grad(loss, (early, late), allow_unused=True)
    assert g_early is None  # nothing before the cut is reachable
    assert g_late is not None


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_utils_detach_keeps_values_and_cuts_every_neuron(case):
    net = nn.Sequential(case.make(init_hidden=True), case.make(init_hidden=True))
    x = case.input().requires_grad_(True)
    net[0](x)
    net[1](x)
    values = [_stored(m) for m in net]
    assert utils.detach(net) == 2
    for m, before in zip(net, values):
        for name, v in zip(m.state_names, before):
            assert getattr(m, name).grad_fn is None
            assert torch.equal(getattr(m, name), v)


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))


def _growth(run, warmup: int, steps: int) -> tuple[int, int]:
    """(extra live tensors, extra Python allocator blocks) after ``steps`` more steps.

    ``sys.getallocatedblocks`` counts live pymalloc blocks without tracing each allocation
    (tracemalloc would slow the loop a hundredfold).
    """
    run(warmup)
    _live_tensors()  # its first call in a process allocates caches of its own
    run(warmup)
    tensors = _live_tensors()
    blocks = sys.getallocatedblocks()
    run(steps)
    gc.collect()
    return _live_tensors() - tensors, sys.getallocatedblocks() - blocks


def _on_reference(neuron):
    """Keep the loops on the pure-PyTorch path: fused kernels are the engine tests' subject,
    and their per-call overhead dominates tiny single steps."""
    if hasattr(neuron, "backend"):
        neuron.backend = "reference"
    return neuron


def _step_loop(neuron, x, steps):
    holder = {"state": None}

    def run(n):
        with torch.no_grad():
            state = holder["state"]
            for _ in range(n):
                _, state = neuron.step(x, state)
            holder["state"] = state

    return _growth(run, warmup=200, steps=steps)


def test_no_memory_growth_over_10000_steps_of_the_step_api():
    case = CASES[0]  # Leaky: the step API used in inference loops
    tensors, blocks = _step_loop(_on_reference(case.make()), case.input(batch=8), 10_000)
    assert tensors <= 0
    assert blocks < 200, blocks  # allocator noise; a per-step leak would be >= 10,000


@pytest.mark.slow
def test_no_memory_growth_over_10000_steps_on_the_default_backend():
    case = CASES[0]
    tensors, blocks = _step_loop(case.make(), case.input(batch=8), 10_000)
    assert tensors <= 0
    assert blocks < 200, blocks


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_memory_growth_in_stateful_no_grad_loops(case):
    neuron = _on_reference(case.make(init_hidden=True))
    x = case.input(batch=4)

    def run(n):
        with torch.no_grad():
            for _ in range(n):
                neuron(x)

    tensors, blocks = _growth(run, warmup=50, steps=500)
    assert tensors <= 0
    assert blocks < 200, blocks


def test_truncated_bptt_with_grad_does_not_accumulate_graph():
    case = CASES[0]
    neuron = _on_reference(case.make(init_hidden=True))
    lin = nn.Linear(5, 5)
    x = case.input(batch=4)

    def run(n):
        for _ in range(n):
            spk = neuron(lin(x))
            spk.sum().backward()
            neuron.detach_hidden()

    tensors, blocks = _growth(run, warmup=20, steps=500)
    assert tensors <= 0
    assert blocks < 200, blocks
