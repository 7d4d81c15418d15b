"""spikegen: hand-worked numbers, the first seed's calls, argument checks, snnTorch parity."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import spikegen

SEED_X = torch.tensor(
    [0.0100, 0.0200, 0.8423, 0.8253, 0.4189, 0.1415, 0.1781, 0.8496, 0.8847, 0.0609]
)


# ---------------------------------------------------------------------------- the first seed
def test_seed_delta_example():
    # x[t] - x[t-1] with x[-1] = 0: 0.01, 0.01, 0.8223 (>= 0.8 -> spike), -0.017, -0.4064, ...
    # 0.8496 - 0.1781 = 0.6715 and 0.8847 - 0.8496 = 0.0351 stay below 0.8.
    out = spikegen.delta(SEED_X, threshold=0.8)
    assert out.shape == SEED_X.shape
    assert out.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]


def test_seed_rate_and_latency_shapes():
    assert spikegen.rate(torch.rand(10), num_steps=20).shape == (20, 10)
    assert spikegen.latency(SEED_X, num_steps=13).shape == (13, 10)


# ---------------------------------------------------------------------------- rate
def test_rate_extremes_and_first_spike_time():
    x = torch.tensor([0.0, 1.0, 1.7, -0.3])  # 1.7 and -0.3 are clamped to 1 and 0
    out = spikegen.rate(x, num_steps=5, first_spike_time=2)
    assert out[:2].sum() == 0
    assert out[2:].tolist() == [[0.0, 1.0, 1.0, 0.0]] * 3


def test_rate_gain_offset():
    # 0.2 * 0 + 1 = 1 -> always fires; 0.5 * 2 - 1 = 0 -> never fires
    out = spikegen.rate(torch.tensor([0.2, 0.5]), num_steps=4, gain=torch.tensor([0.0, 2.0]),
                        offset=torch.tensor([1.0, -1.0]))  # fmt: skip
    assert out.tolist() == [[1.0, 0.0]] * 4


def test_rate_time_varying_prepends_zeros():
    data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = spikegen.rate(data, time_var_input=True, first_spike_time=1)
    assert out.tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]


def test_rate_generator_reproducible_and_mean():
    x = torch.full((2000,), 0.3)
    a = spikegen.rate(x, num_steps=10, generator=torch.Generator().manual_seed(5))
    b = spikegen.rate(x, num_steps=10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    # 20000 Bernoulli(0.3) draws: std of the mean = sqrt(0.21/20000) = 0.0032; 5 sigma = 0.016
    assert abs(a.mean().item() - 0.3) < 0.016


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ValueError),  # num_steps missing
        ({"num_steps": 0}, ValueError),
        ({"num_steps": -3}, ValueError),
        ({"num_steps": 2.5}, TypeError),
        ({"num_steps": 4, "first_spike_time": 4}, ValueError),
        ({"num_steps": 4, "time_var_input": True}, ValueError),
    ],
)
def test_rate_bad_arguments(kwargs, error):
    with pytest.raises(error):
        spikegen.rate(torch.rand(3), **kwargs)


def test_encoders_reject_non_tensors_and_nan():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        spikegen.rate([0.1, 0.2], num_steps=3)
    with pytest.raises(TypeError, match="floating-point"):
        spikegen.rate(torch.tensor([1, 0]), num_steps=3)
    with pytest.raises(ValueError, match="NaN"):
        spikegen.rate(torch.tensor([0.1, math.nan]), num_steps=3)
    with pytest.raises(TypeError):
        spikegen.delta([0.0, 1.0])


# ---------------------------------------------------------------------------- latency
def test_latency_log_code_by_hand():
    # t = tau * ln(x / (x - 0.01)), x clamped to >= 0.01 + 1e-7:
    # x = 1 -> ln(1/0.99) = 0.01005 -> step 0; x = 0.5 -> ln(0.5/0.49) = 0.0202 -> 0
    # x = 0.02 -> ln(2) = 0.693 -> 1; x = 0 -> ln(0.0100001/1e-7) = 11.513 -> 12
    x = torch.tensor([1.0, 0.5, 0.02, 0.0])
    t, below = spikegen.latency_code(x, num_steps=13)
    # (float32 cancellation in x - 0.01 for the clamped x = 0 costs ~5e-4 relative)
    assert t.tolist() == pytest.approx([0.0100503, 0.0202027, 0.6931472, 11.512935], rel=1e-3)
    assert below.tolist() == [False, False, False, True]
    out = spikegen.latency(x, num_steps=13)
    assert out.sum(0).tolist() == [1.0] * 4
    assert out.argmax(0).tolist() == [0, 0, 1, 12]


def test_latency_tau_scales_times():
    # tau = 5: x = 0.02 -> 5 ln 2 = 3.466 -> 3
    out = spikegen.latency(torch.tensor([0.02]), num_steps=8, tau=5)
    assert out[:, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]


def test_latency_linear_normalize_clip_and_targets():
    # linear + normalize: tau = T - 1 = 4, t = min(4 (1 - x), 4 * 0.99):
    # x = 1 -> 0, x = 0.5 -> 2, x = 0 -> 3.96 -> 4
    x = torch.tensor([1.0, 0.5, 0.0])
    out = spikegen.latency(x, num_steps=5, linear=True, normalize=True)
    assert out.argmax(0).tolist() == [0, 2, 4]
    clipped = spikegen.latency(x, num_steps=5, linear=True, normalize=True, clip=True)
    assert clipped.sum(0).tolist() == [1.0, 1.0, 0.0]  # x = 0 < threshold drops its spike
    # on_target 3, off_target 0.5: output = max(spike * 3, 0.5)
    scaled = spikegen.latency(
        x, num_steps=5, linear=True, normalize=True, on_target=3, off_target=0.5
    )
    assert scaled[:, 1].tolist() == [0.5, 0.5, 3.0, 0.5, 0.5]


def test_latency_bypass_sets_steps():
    # latest time: x = 0 -> 11.51 -> 12, so T = 13
    assert spikegen.latency(torch.tensor([0.0, 1.0]), bypass=True).shape == (13, 2)


@pytest.mark.parametrize(
    ("data", "kwargs"),
    [
        (torch.tensor([0.5, 1.2]), {"num_steps": 13}),  # data above 1
        (torch.tensor([-0.1, 0.5]), {"num_steps": 13}),  # data below 0
        (torch.tensor([0.5]), {}),  # num_steps missing
        (torch.tensor([0.5]), {"num_steps": 13, "tau": 0}),
        (torch.tensor([0.5]), {"num_steps": 13, "tau": -1}),
        (torch.tensor([0.5]), {"num_steps": 13, "threshold": 1.5}),
        (torch.tensor([0.0]), {"num_steps": 5}),  # spike at 12 does not fit in 5 steps
    ],
)
def test_latency_bad_arguments(data, kwargs):
    with pytest.raises(ValueError):
        spikegen.latency(data, **kwargs)


def test_latency_interpolate_ramps():
    # spike at 4: ramp k/4 for k = 0..4 then off (ratio > 1); spike at 0: 1 at step 0 then off
    ramp = spikegen.latency_interpolate(torch.tensor([4.0, 0.0]), num_steps=6)
    assert ramp[:, 0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 0.0]
    assert ramp[:, 1].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_rate_interpolate_ramps():
    # spikes at 2 and 5 over 8 steps: 0, .5, 1 | .5?  gap 2 -> arange(0, 1, 0.5) = 0, .5, 1
    ramp = spikegen.rate_interpolate(torch.tensor([2, 5]), num_steps=8)
    assert ramp.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0])


# ---------------------------------------------------------------------------- delta, targets
def test_delta_padding_and_off_spikes():
    x = torch.tensor([0.5, 0.7, 0.2, 0.2])
    # padding: prev = [0.5, 0.5, 0.7, 0.2] -> diff [0, .2, -.5, 0] against threshold 0.15
    assert spikegen.delta(x, threshold=0.15, padding=True, off_spike=True).tolist() == [0, 1, -1, 0]
    # no padding: prev[0] = 0 -> diff[0] = 0.5 -> spike
    assert spikegen.delta(x, threshold=0.3).tolist() == [1, 0, 0, 0]


def test_one_hot_helpers():
    oh = spikegen.to_one_hot(torch.tensor([2, 0]), 3)
    assert oh.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert spikegen.to_one_hot_inverse(oh).tolist() == [[1, 1, 0], [0, 1, 1]]
    assert spikegen.from_one_hot(torch.tensor([0.0, 0.0, 1.0])).tolist() == [2]
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        spikegen.to_one_hot(torch.tensor([3]), 3)
    with pytest.raises(ValueError):
        spikegen.to_one_hot(torch.tensor([-1]), 3)


def test_targets_rate_static_and_trains():
    y = torch.tensor([1, 0])
    assert spikegen.targets_convert(y, num_classes=2, on_target=5, off_target=-1).tolist() == [
        [-1, 5],
        [5, -1],
    ]  # off_target -1 kept (snnTorch's clamp would give 0 here)
    # correct rate 0.5 over 4 steps: regular at 0, 2; incorrect 0.25: at 0
    trains = spikegen.targets_rate(y, 2, num_steps=4, correct_rate=0.5, incorrect_rate=0.25)
    assert trains.shape == (4, 2, 2)
    assert trains[:, 0, 1].tolist() == [1, 0, 1, 0]
    assert trains[:, 0, 0].tolist() == [1, 0, 0, 0]


def test_target_rate_code_regular():
    train, times = spikegen.target_rate_code(num_steps=10, first_spike_time=1, rate=0.25)
    # arange(1, 10, 4) = 1, 5, 9
    assert times.tolist() == [1, 5, 9]
    assert train.nonzero().flatten().tolist() == [1, 5, 9]


def test_targets_latency_shape():
    out = spikegen.targets_latency(torch.tensor([0, 2]), num_classes=3, num_steps=13)
    # the label's 1.0 fires at step 0, the zeros at step 12
    assert out.shape == (13, 2, 3)
    assert out[0].tolist() == [[1, 0, 0], [0, 0, 1]]
    assert out[12].tolist() == [[0, 1, 1], [1, 1, 0]]


# ---------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(0, 1), min_size=1, max_size=12),
    steps=st.integers(1, 8),
)
def test_rate_output_is_binary_with_time_axis(values, steps):
    out = spikegen.rate(torch.tensor(values), num_steps=steps)
    assert out.shape == (steps, len(values))
    assert set(out.unique().tolist()) <= {0.0, 1.0}


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=12), linear=st.booleans())
def test_latency_single_spike_per_input(values, linear):
    out = spikegen.latency(torch.tensor(values), num_steps=13, linear=linear, normalize=linear)
    assert out.shape == (13, len(values))
    assert out.sum(0).tolist() == [1.0] * len(values)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-5, 5), min_size=1, max_size=12), thr=st.floats(0.01, 2))
def test_delta_values_in_minus_one_zero_one(values, thr):
    out = spikegen.delta(torch.tensor(values), threshold=thr, off_spike=True)
    assert out.shape == (len(values),)
    assert set(out.unique().tolist()) <= {-1.0, 0.0, 1.0}


# ---------------------------------------------------------------------------- snnTorch parity
@pytest.mark.parity
@pytest.mark.parametrize(
    "kwargs",
    [{"num_steps": 7}, {"num_steps": 7, "gain": 2, "offset": -0.3, "first_spike_time": 2}],
)
def test_rate_parity_same_seed(kwargs):
    ref = pytest.importorskip("snntorch.spikegen")
    x = torch.rand(4, 5)
    torch.manual_seed(11)
    ours = spikegen.rate(x, **kwargs)
    torch.manual_seed(11)
    theirs = ref.rate(x, **kwargs)
    assert torch.equal(ours, theirs)


@pytest.mark.parity
@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 13},
        {"num_steps": 6, "normalize": True},
        {"num_steps": 6, "normalize": True, "linear": True},
        {"num_steps": 50, "tau": 3, "threshold": 0.2, "clip": True, "first_spike_time": 3},
        {"bypass": True},
        {"num_steps": 6, "bypass": True, "tau": 2},
        {"num_steps": 10, "linear": True, "tau": 5},
        {"num_steps": 10, "normalize": True, "interpolate": True},
    ],
)
def test_latency_parity(kwargs):
    ref = pytest.importorskip("snntorch.spikegen")
    x = torch.rand(4, 5)
    ours, theirs = spikegen.latency(x, **kwargs), ref.latency(x, **kwargs)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parity
def test_delta_targets_and_interpolation_parity():
    ref = pytest.importorskip("snntorch.spikegen")
    d = torch.randn(8, 3)
    for kwargs in ({}, {"padding": True}, {"off_spike": True, "threshold": 0.5}):
        assert torch.equal(spikegen.delta(d, **kwargs), ref.delta(d, **kwargs))
    y = torch.tensor([1, 0, 2, 2])
    for kwargs in (
        {},
        {"on_target": 5, "off_target": 100},
        {"num_steps": 5, "first_spike_time": 2},
    ):
        assert torch.equal(
            spikegen.targets_convert(y, 3, **kwargs), ref.targets_convert(y, 3, **kwargs)
        )
    for times in (torch.tensor([2, 5]), torch.tensor([0, 1, 4, 9]), torch.tensor([3])):
        torch.testing.assert_close(
            spikegen.rate_interpolate(times, 10, off_target=0.2),
            ref.rate_interpolate(times, 10, off_target=0.2),
        )
    times = torch.tensor([[0.0, 3.4, 12.0], [5.6, 0.2, 9.0]])
    torch.testing.assert_close(
        spikegen.latency_interpolate(times, 10, on_target=2, off_target=0.5),
        ref.latency_interpolate(times.clone(), 10, on_target=2, off_target=0.5),
    )
    for kwargs in (
        {"rate": 0.3},
        {"rate": 0.4, "firing_pattern": "uniform"},
        {"rate": 0.4, "firing_pattern": "poisson", "first_spike_time": 2},
    ):
        torch.manual_seed(3)
        ours = spikegen.target_rate_code(10, **kwargs)
        torch.manual_seed(3)
        theirs = ref.target_rate_code(10, **kwargs)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_target_rate_code_uniform_never_indexes_past_the_last_step(monkeypatch):
    """u · (T − t0) + t0 with u = 1 − 2⁻²⁴ rounds to exactly T in float32 (T=2, t0=1): the
    spike lands on the last step instead of raising an index error."""
    u = torch.tensor([1 - 2**-24], dtype=torch.float32)
    assert (u * 1 + 1).item() == 2.0  # the rounding this guards against
    monkeypatch.setattr(torch, "rand", lambda *size, generator=None: u.clone())
    train, times = spikegen.target_rate_code(2, first_spike_time=1, rate=1.0,
                                             firing_pattern="uniform")  # fmt: skip
    assert times.tolist() == [1]
    assert train.tolist() == [0.0, 1.0]
