"""A multi-step neuron called on a new sequence after ``backward()`` without a reset.

snnTorch 1.0.0 keeps the state between calls, runs the forward and fails at the next
``backward()`` with PyTorch's "backward through the graph a second time". spikeforge fails at
that same ``backward()``, with a message naming ``utils.reset(net)`` / ``reset_mem()``; every
legitimate use (a reset, ``detach_hidden()``, ``retain_graph=True``, a forward alone) is
unchanged.
"""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import utils
from spikeforge.neurons._stale_graph import graph_was_freed

BACKENDS = ["reference", "auto"]


def _neuron(cls_name: str, backend: str):
    extra = {"alpha": 0.8} if cls_name == "Synaptic" else {}
    neuron = getattr(snn, cls_name)(beta=0.9, backend=backend, **extra)
    neuron.step_mode = "multi"
    return neuron


def _loss(out) -> torch.Tensor:
    return out[0].sum() + out[-1].sum()


def test_snntorch_fails_at_the_second_backward_with_pytorchs_message():
    snntorch = pytest.importorskip("snntorch")
    lif = snntorch.Leaky(beta=0.9, init_hidden=True)
    w = torch.nn.Parameter(torch.ones(4))
    for _ in range(3):
        spk = lif(torch.rand(2, 4) * w)
    spk.sum().backward()
    for _ in range(3):
        spk = lif(torch.rand(2, 4) * w)  # the forward runs
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        spk.sum().backward()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls_name", ["Leaky", "Synaptic"])
def test_backward_over_a_stale_state_names_the_reset(cls_name, backend):
    neuron = _neuron(cls_name, backend)
    w = torch.nn.Parameter(torch.ones(4))
    _loss(neuron(torch.rand(5, 2, 4) * w)).backward()
    out = neuron(torch.rand(5, 2, 4) * w)  # a forward alone still runs, as in snnTorch
    assert out[0].shape == (5, 2, 4)
    with pytest.raises(RuntimeError, match=r"utils\.reset\(net\)` or `neuron\.reset_mem\(\)") as e:
        _loss(out).backward()
    assert f"{cls_name}: this backward() reaches the stored" in str(e.value)
    assert "detach_hidden()" in str(e.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["utils.reset", "reset_mem", "detach_hidden"])
def test_a_reset_or_detach_between_sequences_trains_as_before(backend, reset):
    torch.manual_seed(1)
    neuron = _neuron("Leaky", backend)
    net = torch.nn.Sequential(neuron)
    w = torch.nn.Parameter(torch.full((4,), 0.7))
    first, second = torch.rand(6, 3, 4), torch.rand(6, 3, 4)
    _loss(neuron(first * w)).backward()
    carried = neuron.mem.detach().clone()
    {"utils.reset": lambda: utils.reset(net), "reset_mem": neuron.reset_mem}.get(
        reset, neuron.detach_hidden
    )()
    w.grad = None
    _loss(neuron(second * w)).backward()
    # The same gradient as a fresh neuron started from the state the reset leaves.
    fresh = _neuron("Leaky", backend)
    w2 = torch.nn.Parameter(torch.full((4,), 0.7))
    start = (carried,) if reset == "detach_hidden" else ()  # snnTorch-style explicit state
    out = fresh(second * w2, *start)
    _loss(out).backward()
    torch.testing.assert_close(w.grad, w2.grad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_retain_graph_keeps_chunked_bptt_exact(backend):
    # Two chunks with retain_graph=True between them: the gradient of the second chunk's
    # loss flows into the first chunk, exactly as one call over the whole sequence.
    torch.manual_seed(2)
    x = torch.rand(8, 2, 4)
    neuron = _neuron("Leaky", backend)
    w = torch.nn.Parameter(torch.full((4,), 0.6))
    _loss(neuron(x[:4] * w)).backward(retain_graph=True)
    assert not graph_was_freed(neuron.mem)
    w.grad = None
    second = neuron(x[4:] * w)
    _loss(second).backward()
    whole = _neuron("Leaky", backend)
    w2 = torch.nn.Parameter(torch.full((4,), 0.6))
    out = whole(x * w2)
    (out[0][4:].sum() + out[-1][4:].sum()).backward()
    torch.testing.assert_close(w.grad, w2.grad)


def test_graph_was_freed_tells_a_freed_graph_from_a_live_one():
    w = torch.nn.Parameter(torch.ones(3))
    state = (torch.rand(3) * w).sigmoid() * 2
    assert not graph_was_freed(state)
    state.sum().backward()
    assert graph_was_freed(state)
