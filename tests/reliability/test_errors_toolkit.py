"""Bad arguments to the encoders, losses, accuracies and surrogates: ValueError/TypeError
naming the argument, the expected and the received value."""

from __future__ import annotations

import math
import re

import pytest
import torch

import spikeforge as snn
from spikeforge import functional as SF
from spikeforge import spikegen, surrogate


def raises(error, *fragments):
    """``pytest.raises`` that requires every fragment (literal text) in the message."""
    return pytest.raises(error, match="".join(f"(?=[\\s\\S]*{re.escape(f)})" for f in fragments))


# ---------------------------------------------------------------------------- encoders
@pytest.mark.parametrize("steps", [0, -4])
@pytest.mark.parametrize(
    "encode",
    [
        lambda n: spikegen.rate(torch.rand(3), num_steps=n),
        lambda n: spikegen.latency(torch.rand(3), num_steps=n),
        lambda n: spikegen.latency(torch.rand(3), num_steps=n, normalize=True, linear=True),
        lambda n: spikegen.target_rate_code(num_steps=n, rate=0.5),
        lambda n: spikegen.targets_rate(torch.tensor([0, 1]), num_classes=2, num_steps=n),
        lambda n: spikegen.targets_latency(torch.tensor([0, 1]), num_classes=2, num_steps=n),
    ],
    ids=["rate", "latency", "latency-linear", "target_rate_code", "targets_rate", "targets_lat"],
)
def test_num_steps_must_be_positive(encode, steps):
    with raises(ValueError, "num_steps", "positive", str(steps)):
        encode(steps)


@pytest.mark.parametrize("tau", [0, -1.5])
def test_latency_tau_must_be_positive(tau):
    with raises(ValueError, "tau", "> 0", str(tau)):
        spikegen.latency(torch.rand(3), num_steps=10, tau=tau)


@pytest.mark.parametrize("value", [1.25, -0.5])
def test_latency_data_outside_unit_interval(value):
    data = torch.tensor([0.5, value])
    with raises(ValueError, "data", "[0, 1]", str(value)):
        spikegen.latency(data, num_steps=10)


def test_latency_threshold_outside_open_interval():
    for thr in (0.0, 1.0, 2.0):
        with raises(ValueError, "threshold", "(0, 1)", str(thr)):
            spikegen.latency(torch.rand(3), num_steps=10, threshold=thr)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda v: spikegen.target_rate_code(num_steps=5, rate=v), "rate"),
        (lambda v: spikegen.targets_rate(torch.tensor([0]), 2, 5, correct_rate=v), "correct_rate"),
        (
            lambda v: spikegen.targets_rate(torch.tensor([0]), 2, 5, incorrect_rate=v),
            "incorrect_rate",
        ),
        (lambda v: SF.mse_count_loss(correct_rate=v), "correct_rate"),
        (lambda v: SF.mse_count_loss(incorrect_rate=v), "incorrect_rate"),
        (lambda v: SF.mse_rate_loss(correct_rate=v), "correct_rate"),
    ],
)
@pytest.mark.parametrize("value", [1.5, -0.1])
def test_rates_outside_unit_interval(call, name, value):
    with raises(ValueError, f"`{name}`", "[0, 1]", str(value)):
        call(value)


def test_delta_threshold_must_not_be_negative():
    data = torch.tensor([0.0, 0.5, 0.2])
    with raises(ValueError, "threshold", ">= 0", "-0.1"):
        spikegen.delta(data, threshold=-0.1)
    with raises(ValueError, "threshold", ">= 0"):
        spikegen.delta(data, threshold=torch.tensor(-0.1))
    with raises(TypeError, "threshold", "real number", "'0.1'"):
        spikegen.delta(data, threshold="0.1")
    # 0 is allowed: with off_spike it is a sign encoder (+1 rise, −1 fall, 0 flat).
    out = spikegen.delta(torch.tensor([0.0, 0.5, 0.5, 0.2]), threshold=0, off_spike=True)
    # Step 0 and step 2 change by exactly 0: both >= 0 and <= -0, so +1 − 1 = 0.
    assert out.tolist() == [0.0, 1.0, 0.0, -1.0]


def test_one_hot_class_index_out_of_range():
    with raises(ValueError, "targets", "[0, 2]", "[0, 5]"):
        spikegen.to_one_hot(torch.tensor([0, 5]), num_classes=3)


def test_rate_clamps_out_of_range_data_as_documented():
    # snnTorch compatibility: probabilities are clamped, not rejected (rate's docstring).
    out = spikegen.rate(torch.tensor([1.5, -0.5]), num_steps=6)
    assert out[:, 0].tolist() == [1.0] * 6 and out[:, 1].tolist() == [0.0] * 6


# ---------------------------------------------------------------------------- losses
SPIKE_LOSSES = [
    SF.ce_rate_loss,
    SF.ce_count_loss,
    SF.ce_max_membrane_loss,
    SF.mse_count_loss,
    SF.mse_rate_loss,
    SF.mse_membrane_loss,
    SF.mse_temporal_loss,
    SF.ce_temporal_loss,
]
ACCURACIES = [SF.accuracy_rate, SF.accuracy_temporal]


@pytest.mark.parametrize("loss", SPIKE_LOSSES, ids=lambda f: f.__name__)
def test_loss_targets_of_another_batch_size(loss):
    spk = (torch.rand(6, 4, 3) > 0.5).float()
    with raises(ValueError, "targets", "batch size 3", "batch size 4"):
        loss()(spk, torch.tensor([0, 1, 2]))


@pytest.mark.parametrize(
    "loss", [f for f in SPIKE_LOSSES if f is not SF.mse_membrane_loss], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("bad", [3, -1])
def test_loss_class_index_out_of_range(loss, bad):
    spk = (torch.rand(6, 4, 3) > 0.5).float()
    with raises(ValueError, "targets", "[0, 2]", "3 classes", str(bad)):
        loss()(spk, torch.tensor([0, 1, bad, 0]))


@pytest.mark.parametrize("acc", ACCURACIES, ids=lambda f: f.__name__)
def test_accuracy_targets_that_do_not_fit(acc):
    spk = (torch.rand(6, 4, 3) > 0.5).float()
    with raises(ValueError, "targets", "batch size 2", "batch size 4"):
        acc(spk, torch.tensor([0, 1]))
    with raises(ValueError, "targets", "[0, 2]", "7"):
        acc(spk, torch.tensor([0, 1, 7, 0]))


@pytest.mark.parametrize("loss", [SF.ce_rate_loss, SF.mse_count_loss], ids=lambda f: f.__name__)
def test_loss_targets_of_a_float_dtype(loss):
    with raises(TypeError, "targets", "integer class indices", "torch.float32"):
        loss()(torch.zeros(6, 2, 3), torch.tensor([0.0, 1.0]))


def test_loss_recording_without_time_axis():
    with raises(ValueError, "record", "[T, B, C]", "(4, 3)"):
        SF.ce_count_loss()(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))


# ---------------------------------------------------------------------------- surrogates
@pytest.mark.parametrize(
    ("factory", "name", "bad"),
    [
        (surrogate.atan, "alpha", -2.0),
        (surrogate.sigmoid, "slope", -1),
        (lambda slope: surrogate.spike_rate_escape(slope=slope), "slope", 0),
        (lambda slope: surrogate.SFS(slope=slope), "slope", -3),
        (lambda threshold: surrogate.triangular(threshold=threshold), "threshold", 0),
        (lambda beta: surrogate.spike_rate_escape(beta=beta), "beta", -1),
        (lambda variance: surrogate.SSO(variance=variance), "variance", -0.2),
    ],
)
def test_surrogate_parameters_out_of_range(factory, name, bad):
    with raises(ValueError, name, str(bad)):
        factory(bad)


@pytest.mark.parametrize("bad", [math.inf, math.nan, -math.inf])
def test_surrogate_slopes_must_be_finite(bad):
    with raises(ValueError, "slope", "finite", str(bad)):
        surrogate.fast_sigmoid(slope=bad)
    with raises(ValueError, "alpha", "finite"):
        surrogate.atan(alpha=bad)


def test_surrogate_parameters_of_the_wrong_type():
    with raises(TypeError, "slope", "real number", "str"):
        surrogate.fast_sigmoid(slope="25")
    with raises(TypeError, "alpha", "real number", "bool"):
        surrogate.atan(alpha=True)


def test_a_bad_surrogate_fails_when_the_neuron_is_built():
    with raises(ValueError, "slope"):
        snn.Leaky(beta=0.5, spike_grad=surrogate.fast_sigmoid(slope=0))
