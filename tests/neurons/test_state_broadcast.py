"""Passed states that broadcast with the input (issue 14, item 5).

snnTorch accepts a state of another shape and replaces it by zeros of the input's shape; its
tutorial 3 relies on that with ``mem = torch.zeros(1)`` and a 0-d input. spikeforge accepts
every state that broadcasts to the input's state shape and uses its values (so the zero states
snnTorch's code passes give snnTorch's numbers); one that cannot broadcast stays an error.
"""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")

STEPS = 12

# (name, constructor arguments, number of states passed positionally after the input)
NEURONS = [
    ("Leaky", {"beta": 0.8}, 1),
    ("Synaptic", {"alpha": 0.7, "beta": 0.8}, 2),
    ("Alpha", {"alpha": 0.8, "beta": 0.7}, 3),
    ("Lapicque", {"R": 2.0, "C": 0.05, "time_step": 0.01}, 1),
    ("RLeaky", {"beta": 0.8, "V": 0.5, "all_to_all": False, "learn_recurrent": False}, 2),
    ("RSynaptic", {"alpha": 0.7, "beta": 0.8, "V": 0.5, "all_to_all": False,
                   "learn_recurrent": False}, 3),
]  # fmt: skip

# (input shape, broadcastable state shape)
SHAPES = [((), (1,)), ((4, 3), (3,)), ((4, 3), (1,)), ((4, 3), ()), ((4, 3), (1, 1, 3))]


def _run(lib, name, kwargs, n_states, xs, state_shape):
    """First step with zero states of ``state_shape``; the rest with the returned states."""
    neuron = getattr(lib, name)(**kwargs)
    states = [torch.zeros(state_shape) for _ in range(n_states)]
    outs = []
    for x in xs:
        out = neuron(x, *states)
        outs.append(out)
        states = list(out) if name.startswith("R") else list(out[1:])  # RLeaky takes spk
    return neuron, outs


@pytest.mark.parametrize(("name", "kwargs", "n_states"), NEURONS, ids=[n[0] for n in NEURONS])
@pytest.mark.parametrize(("x_shape", "state_shape"), SHAPES, ids=str)
def test_zero_state_that_broadcasts_matches_snntorch(name, kwargs, n_states, x_shape, state_shape):
    torch.manual_seed(0)
    xs = [torch.rand(x_shape) * 0.9 for _ in range(STEPS)]
    ours, got = _run(sf, name, kwargs, n_states, xs, state_shape)
    theirs, want = _run(snntorch, name, kwargs, n_states, xs, state_shape)
    for step, (a, b) in enumerate(zip(got, want)):
        assert len(a) == len(b)
        for mine, ref in zip(a, b):
            assert mine.shape == ref.shape == torch.Size(x_shape), step
            torch.testing.assert_close(mine, ref, rtol=0, atol=1e-6)
    assert ours.mem.shape == theirs.mem.shape == torch.Size(x_shape)  # what each stores


def test_tutorial_three_zero_d_input_with_a_one_element_membrane():
    lif = sf.Leaky(beta=0.8)
    mem = torch.zeros(1)
    spk, mem = lif(torch.tensor(0.5), mem)
    assert spk.shape == mem.shape == torch.Size([])
    assert mem.item() == pytest.approx(0.5)
    spk, mem = lif(torch.tensor(0.7), mem)
    assert mem.item() == pytest.approx(0.8 * 0.5 + 0.7)
    assert spk.item() == 1.0  # 1.1 > 1


def test_nonzero_state_that_broadcasts_is_used_not_discarded():
    """A deliberate difference: snnTorch would replace ``mem`` by zeros here."""
    lif = sf.Leaky(beta=0.5)
    x = torch.full((2, 3), 0.25)
    spk, mem = lif(x, torch.tensor([1.0, 0.4, 0.0]))
    # U = β·U0 + X (no reset: U0 = 1 is not above θ = 1)
    torch.testing.assert_close(mem, torch.tensor([[0.75, 0.45, 0.25]] * 2))
    assert torch.equal(spk, torch.zeros(2, 3))
    assert lif.mem.shape == (2, 3) and lif.mem.is_contiguous()


def test_synaptic_nonzero_broadcast_states_by_hand():
    syn_neuron = sf.Synaptic(alpha=0.5, beta=0.5)
    _, syn, mem = syn_neuron(torch.full((2, 2), 0.2), torch.tensor(0.4), torch.tensor([0.2]))
    # I = α·I0 + X = 0.4; U = β·U0 + I = 0.5
    torch.testing.assert_close(syn, torch.full((2, 2), 0.4))
    torch.testing.assert_close(mem, torch.full((2, 2), 0.5))


def test_gradient_reaches_a_broadcast_state():
    lif = sf.Leaky(beta=0.5)
    mem0 = torch.zeros(3, requires_grad=True)
    _, mem = lif(torch.rand(4, 3) * 0.5, mem0)
    mem.sum().backward()
    torch.testing.assert_close(mem0.grad, torch.full((3,), 4 * 0.5))  # four rows, dU/dU0 = β


def test_step_api_broadcasts_too():
    lif = sf.Leaky(beta=0.5)
    _, state = lif.step(torch.full((2, 3), 0.5), (torch.ones(1),))
    torch.testing.assert_close(state.mem, torch.ones(2, 3))


def test_multi_step_broadcasts_the_initial_state():
    lif = sf.Leaky(beta=0.5, step_mode="multi")
    _, mem_seq = lif(torch.full((3, 2, 2), 0.1), torch.full((1,), 0.4))
    torch.testing.assert_close(mem_seq[0], torch.full((2, 2), 0.3))  # 0.5·0.4 + 0.1
    torch.testing.assert_close(mem_seq[1], torch.full((2, 2), 0.25))


@pytest.mark.parametrize(
    ("x_shape", "state_shape"), [((2, 3), (2,)), ((2, 3), (3, 2)), ((), (2,)), ((2, 3), (2, 2, 3))]
)
def test_state_that_cannot_broadcast_is_still_an_error(x_shape, state_shape):
    lif = sf.Leaky(beta=0.5)
    with pytest.raises(ValueError, match=r"mem has shape .* broadcasts"):
        lif(torch.rand(x_shape), torch.zeros(state_shape))
    with pytest.raises(ValueError, match="mem has shape"):
        lif.step(torch.rand(x_shape), (torch.zeros(state_shape),))
