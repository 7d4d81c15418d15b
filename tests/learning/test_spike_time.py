"""Spike-time gradients: t* and dt*/dU against the interpolation formula by hand."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import Leaky
from spikeforge.learning import (
    ce_time_loss,
    first_spike_time,
    mse_time_loss,
    run_neuron,
    time_coded_spikes,
)


def test_two_step_hand_example_time_and_gradient():
    # θ = 1, U_0 = 0.5, U_1 = 1.3: first crossing at t = 1,
    # t* = 0 + (1 − 0.5)/(1.3 − 0.5) = 0.625
    # ∂t*/∂U_1 = −(θ − U_0)/ΔU² = −0.5/0.64 = −0.78125
    # ∂t*/∂U_0 = (θ − U_1)/ΔU² = −0.3/0.64 = −0.46875
    mem = torch.tensor([[0.5], [1.3]], dtype=torch.float64, requires_grad=True)
    t = first_spike_time(mem, threshold=1.0)
    assert t.item() == pytest.approx(0.625)
    t.sum().backward()
    assert mem.grad[:, 0].tolist() == pytest.approx([-0.46875, -0.78125])


def test_crossing_at_first_step_uses_initial_membrane():
    # U_{-1} = 0.2 (given), U_0 = 1.8: t* = −1 + 0.8/1.6 = −0.5; ∂t*/∂U_0 = −0.8/2.56
    mem = torch.tensor([[1.8], [0.1]], dtype=torch.float64, requires_grad=True)
    t = first_spike_time(mem, 1.0, mem_init=torch.tensor([0.2], dtype=torch.float64))
    t.sum().backward()
    assert t.item() == pytest.approx(-0.5)
    assert mem.grad[:, 0].tolist() == pytest.approx([-0.8 / 2.56, 0.0])


def test_silent_neuron_extrapolates_from_its_largest_membrane():
    # T = 3, max U = 0.6 at t = 1, θ = 2: t* = 2 + (2 − 0.6)/2 = 2.7; ∂t*/∂U_1 = −1/2
    mem = torch.tensor([[0.1], [0.6], [0.4]], dtype=torch.float64, requires_grad=True)
    t = first_spike_time(mem, threshold=2.0)
    t.sum().backward()
    assert t.item() == pytest.approx(2.7)
    assert mem.grad[:, 0].tolist() == pytest.approx([0.0, -0.5, 0.0])
    constant = first_spike_time(mem.detach(), threshold=2.0, silent=3.0)
    assert constant.item() == 3.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1.0, 3.0, allow_nan=False), min_size=2, max_size=6),
    st.floats(0.3, 2.0),
)
def test_time_lies_in_the_crossing_interval(values, threshold):
    mem = torch.tensor(values, dtype=torch.float64).unsqueeze(1)
    above = (mem[:, 0] > threshold).nonzero()
    t = first_spike_time(mem, threshold).item()
    if len(above):
        first = int(above[0])
        assert first - 1 <= t <= first + 1e-12  # U_{t-1} ≤ θ < U_t
    else:
        assert t >= len(values) - 1


def test_gradient_matches_finite_difference_through_a_leaky_neuron():
    # Away from crossings changing step, t*(w) is smooth: compare autograd to a central
    # finite difference in float64 through a real Leaky membrane recording.
    lif = Leaky(beta=0.8).double()
    x = torch.tensor([0.3, 0.4, 0.5, 0.2], dtype=torch.float64).reshape(4, 1, 1)
    w = torch.tensor(1.1, dtype=torch.float64, requires_grad=True)

    def time_of(weight):
        _, mem = run_neuron(lif, x * weight)
        return first_spike_time(mem, 1.0).sum()

    time_of(w).backward()
    eps = 1e-6
    numeric = (time_of(w.detach() + eps) - time_of(w.detach() - eps)) / (2 * eps)
    assert w.grad.item() == pytest.approx(numeric.item(), rel=1e-6)
    assert w.grad.item() < 0  # a stronger weight fires earlier


def test_ce_time_loss_hand_value():
    times = torch.tensor([[1.0, 3.0]])
    # logits (−1, −3); CE for class 0 = log(1 + e^{−2})
    assert ce_time_loss(times, torch.tensor([0])).item() == pytest.approx(math.log1p(math.exp(-2)))
    # reciprocal: logits (1/2, 1/4)
    expected = -math.log(math.exp(0.5) / (math.exp(0.5) + math.exp(0.25)))
    assert ce_time_loss(times, torch.tensor([0]), "reciprocal").item() == pytest.approx(expected)


def test_mse_time_loss_hand_value():
    # T = 4, target class 1 should fire at 0, the other at T − 1 = 3
    times = torch.tensor([[2.0, 1.0]])
    expected = ((2 / 4 - 3 / 4) ** 2 + (1 / 4 - 0) ** 2) / 2
    assert mse_time_loss(times, torch.tensor([1]), num_steps=4).item() == pytest.approx(expected)


def test_time_coded_spikes_route_a_first_spike_loss_to_the_crossing():
    # A first-spike loss in snnTorch's convention sends −∂L/∂t to S at the first spike.
    mem = torch.tensor([[0.5], [1.3], [1.5]], dtype=torch.float64, requires_grad=True)
    spikes = time_coded_spikes(mem, 1.0)
    assert spikes[:, 0].tolist() == [0.0, 1.0, 1.0]
    dl_dt = 2.0
    (spikes * torch.tensor([[0.0], [-dl_dt], [0.0]], dtype=torch.float64)).sum().backward()
    assert mem.grad[:, 0].tolist() == pytest.approx([-0.46875 * dl_dt, -0.78125 * dl_dt, 0.0])


def _temporal_loss(library: str):
    if library == "snntorch":
        return pytest.importorskip("snntorch.functional").ce_temporal_loss()
    import spikeforge.functional as sf

    if not hasattr(sf, "ce_temporal_loss"):
        pytest.skip("spikeforge.functional.ce_temporal_loss is not there yet")
    return sf.ce_temporal_loss()


@pytest.mark.parametrize("library", ["snntorch", "spikeforge"])
def test_time_coded_spikes_work_with_temporal_loss(library):
    loss_fn = _temporal_loss(library)
    mem = torch.tensor([[[0.5, 0.2]], [[1.3, 0.4]], [[1.5, 1.4]]], requires_grad=True)
    loss = loss_fn(time_coded_spikes(mem, 1.0), torch.tensor([1]))
    loss.backward()
    # snnTorch sees whole-step times (1, 2); logits −t, so ∂L/∂t = onehot − softmax(−t)
    p = torch.softmax(-torch.tensor([1.0, 2.0]), 0)
    dl_dt = (torch.tensor([0.0, 1.0]) - p).tolist()
    # neuron 0 crosses at t=1 (U 0.5 -> 1.3); neuron 1 at t=2 (U 0.4 -> 1.4)
    assert mem.grad[1, 0, 0].item() == pytest.approx(dl_dt[0] * -0.5 / 0.64, rel=1e-5)
    assert mem.grad[2, 0, 1].item() == pytest.approx(dl_dt[1] * -0.6 / 1.0, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"mem": [0.1, 2.0]}, TypeError, id="not-a-tensor"),
        pytest.param({"mem": torch.ones(2, 1), "threshold": 0.0}, ValueError, id="threshold-0"),
        pytest.param({"mem": torch.ones(2, 1, dtype=torch.long)}, TypeError, id="int-mem"),
        pytest.param({"mem": torch.ones(2, 1), "silent": "never"}, ValueError, id="silent"),
    ],
)
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error):
        first_spike_time(**kwargs)
