"""Property tests for encoders and losses: documented output ranges, finite losses and
gradients for any finite recording (silent outputs included)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import functional as SF
from spikeforge import spikegen

FAST = settings(max_examples=20, deadline=None)


@FAST
@given(
    values=st.lists(st.floats(0, 1), min_size=1, max_size=10),
    steps=st.integers(2, 30),
    linear=st.booleans(),
    tau=st.floats(0.2, 8),
)
def test_latency_spike_times_fit_and_brighter_fires_no_later(values, steps, linear, tau):
    data = torch.tensor(values)
    out = spikegen.latency(data, num_steps=steps, linear=linear, tau=tau, normalize=True)
    assert out.shape == (steps, len(values))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert out.sum(0).tolist() == [1.0] * len(values)  # one spike each, inside [0, T)
    times = out.argmax(0)
    order = torch.argsort(data)
    assert bool((times[order][1:] <= times[order][:-1]).all())


@FAST
@given(
    values=st.lists(st.floats(-3, 3), min_size=1, max_size=10),
    steps=st.integers(1, 12),
    gain=st.floats(-2, 2),
    offset=st.floats(-1, 1),
)
def test_rate_is_binary_for_any_gain_and_offset(values, steps, gain, offset):
    out = spikegen.rate(torch.tensor(values), num_steps=steps, gain=gain, offset=offset)
    assert out.shape == (steps, len(values))
    assert set(out.unique().tolist()) <= {0.0, 1.0}


@FAST
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=6),
    steps=st.integers(1, 10),
    correct=st.floats(0.5, 1),
    incorrect=st.floats(0, 0.5),
)
def test_rate_targets_take_only_on_and_off_values(labels, steps, correct, incorrect):
    out = spikegen.targets_rate(
        torch.tensor(labels),
        num_classes=5,
        num_steps=steps,
        correct_rate=correct,
        incorrect_rate=incorrect,
        on_target=0.9,
        off_target=0.1,
    )
    assert out.shape[-2:] == (len(labels), 5)
    assert set(out.unique().tolist()) <= {torch.tensor(0.9).item(), torch.tensor(0.1).item()}


LOSSES = [
    SF.ce_rate_loss,
    SF.ce_count_loss,
    SF.ce_max_membrane_loss,
    SF.mse_count_loss,
    SF.mse_rate_loss,
    SF.mse_membrane_loss,
    SF.mse_temporal_loss,
    SF.ce_temporal_loss,
]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
@FAST
@given(
    steps=st.integers(1, 8),
    batch=st.integers(1, 4),
    classes=st.integers(2, 5),
    density=st.sampled_from([0.0, 0.3, 1.0]),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_losses_and_their_gradients_are_finite(loss, steps, batch, classes, density, scale, seed):
    g = torch.Generator().manual_seed(seed)
    membrane = loss in (SF.ce_max_membrane_loss, SF.mse_membrane_loss)
    if membrane:
        record = (torch.randn(steps, batch, classes, generator=g) * scale).requires_grad_(True)
        targets = torch.randint(0, classes, (batch,), generator=g)
    else:
        record = (torch.rand(steps, batch, classes, generator=g) < density).float()
        record.requires_grad_(True)
        targets = torch.randint(0, classes, (batch,), generator=g)
    value = loss()(record, targets)
    assert bool(torch.isfinite(value).all()), value
    (grad,) = torch.autograd.grad(value.sum(), record, allow_unused=True)
    assert grad is None or bool(torch.isfinite(grad).all())
