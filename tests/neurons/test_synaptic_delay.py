"""``SynapticDelay`` (issue 14, item 6) with numbers worked out by hand, and
``surrogate.ATanSurrogate``."""

from __future__ import annotations

import math

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate

RAMP = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


def _run_steps(module, xs):
    return torch.stack([module(x) for x in xs])


def _ramp(channels=1, batch=1):
    return torch.tensor(RAMP).view(-1, 1, 1).expand(-1, batch, channels).contiguous()


@pytest.mark.parametrize("mode", ["single", "multi"])
@pytest.mark.parametrize("delay", [0, 1, 2, 4])
def test_integer_delay_shifts_exactly(mode, delay):
    module = snn.SynapticDelay(max_delay=4, delay=float(delay), step_mode=mode)
    x = _ramp()
    y = _run_steps(module, x) if mode == "single" else module(x)
    want = [0.0] * delay + RAMP[: len(RAMP) - delay]
    assert y.flatten().tolist() == want


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_fractional_linear_delay_interpolates(mode):
    module = snn.SynapticDelay(max_delay=3, delay=1.25, step_mode=mode)
    x = _ramp()
    y = (_run_steps(module, x) if mode == "single" else module(x)).flatten()
    # y_t = 0.75·x_{t−1} + 0.25·x_{t−2}
    want = [0.0, 0.75, 1.75, 3.5, 7.0, 14.0]
    torch.testing.assert_close(y, torch.tensor(want))


def test_per_channel_delays_in_both_modes():
    delays = torch.tensor([0.0, 1.5, 3.0])
    x = _ramp(channels=3, batch=2)
    multi = snn.SynapticDelay(4, delay=delays, channels=3, step_mode=False)(x)
    single = _run_steps(snn.SynapticDelay(4, delay=delays, channels=3, step_mode=True), x)
    torch.testing.assert_close(multi, single)
    # channel 1: 0.5·x_{t−1} + 0.5·x_{t−2}; channel 2: x_{t−3}
    assert multi[:, 0, 1].tolist() == [0.0, 0.5, 1.5, 3.0, 6.0, 12.0]
    assert multi[:, 1, 2].tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0]
    assert multi[:, 0, 0].tolist() == RAMP


def test_gaussian_kernel_by_hand():
    module = snn.SynapticDelay(max_delay=2, delay=1.0, kernel="gaussian", sigma=1.0)
    e = math.exp(-0.5)
    w = torch.tensor([e, 1.0, e]) / (1 + 2 * e)  # lags 0, 1, 2
    y = _run_steps(module, _ramp()).flatten()
    want = [w[0] * 1, w[0] * 2 + w[1] * 1, w[0] * 4 + w[1] * 2 + w[2] * 1]
    torch.testing.assert_close(y[:3], torch.stack(want))


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_gradient_reaches_the_delay(mode):
    module = snn.SynapticDelay(max_delay=3, delay=1.25, learn_delay=True, step_mode=mode)
    x = _ramp()
    y = _run_steps(module, x) if mode == "single" else module(x)
    y[4].sum().backward()
    # y_4 = (2 − d)·x_3 + (d − 1)·x_2 for d in (1, 2): dy/dd = x_2 − x_3 = 4 − 8
    assert module.delay.grad.item() == pytest.approx(-4.0)


def test_single_and_multi_agree_on_values_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(12, 3, 5, dtype=torch.float64)
    delays = torch.rand(5, dtype=torch.float64) * 6
    for kernel in ("linear", "gaussian"):
        grads = []
        outs = []
        for mode in ("single", "multi"):
            module = snn.SynapticDelay(6, delays, channels=5, learn_delay=True, kernel=kernel,
                                       sigma=0.7, step_mode=mode)  # fmt: skip
            y = _run_steps(module, x) if mode == "single" else module(x)
            (y * torch.linspace(-1, 1, 12, dtype=torch.float64).view(-1, 1, 1)).sum().backward()
            grads.append(module.delay.grad)
            outs.append(y)
        torch.testing.assert_close(outs[0], outs[1])
        torch.testing.assert_close(grads[0], grads[1])
        assert grads[0].abs().sum() > 0


def test_learning_moves_the_delay_to_the_target():
    """A smooth signal (period 16 steps): the loss falls all the way from d = 0.5 to 2.
    (With white noise, blending neighbouring steps has a local minimum below 1.)"""
    module = snn.SynapticDelay(max_delay=4, delay=0.5, learn_delay=True, step_mode="multi")
    x = torch.sin(2 * math.pi * torch.arange(40.0) / 16).view(40, 1, 1)
    target = torch.cat([torch.zeros(2, 1, 1), x[:-2]])  # x delayed by 2 steps
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(100):
        optimizer.zero_grad()
        ((module(x) - target) ** 2).mean().backward()
        optimizer.step()
    assert module.delay.item() == pytest.approx(2.0, abs=0.01)


def test_delay_is_clamped_to_its_range_in_the_forward_pass():
    module = snn.SynapticDelay(max_delay=2, delay=1.0, learn_delay=True, step_mode="multi")
    with torch.no_grad():
        module.delay.fill_(5.0)  # training may push it out of range
    y = module(_ramp())
    assert y.flatten().tolist() == [0.0, 0.0, *RAMP[:4]]  # read as max_delay = 2


def test_reset_and_new_batch_size_start_from_empty():
    module = snn.SynapticDelay(max_delay=2, delay=1.0)
    module(torch.ones(1, 1))
    assert module(torch.full((1, 1), 5.0)).item() == 1.0
    module.reset_delay()
    assert module(torch.full((1, 1), 7.0)).item() == 0.0  # nothing one step ago
    assert module(torch.full((3, 1), 2.0)).tolist() == [[0.0]] * 3  # new shape: empty again


def test_shared_delay_takes_any_channel_count_and_keeps_the_shape():
    module = snn.SynapticDelay(max_delay=1, delay=1.0, step_mode="multi")
    x = torch.rand(4, 2, 3, 7)
    y = module(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y[1:], x[:-1])


def test_constructor_and_input_errors():
    with pytest.raises(ValueError, match="max_delay"):
        snn.SynapticDelay(0)
    with pytest.raises(ValueError, match="max_delay"):
        snn.SynapticDelay(2.5)
    with pytest.raises(ValueError, match="lie in"):
        snn.SynapticDelay(2, delay=3.0)
    with pytest.raises(ValueError, match="lie in"):
        snn.SynapticDelay(2, delay=-0.5)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        snn.SynapticDelay(2, delay=torch.zeros(2), channels=3)
    with pytest.raises(ValueError, match="kernel"):
        snn.SynapticDelay(2, kernel="cubic")
    with pytest.raises(ValueError, match="sigma"):
        snn.SynapticDelay(2, kernel="gaussian", sigma=0.0)
    with pytest.raises(ValueError, match="step_mode"):
        snn.SynapticDelay(2, step_mode="double")
    module = snn.SynapticDelay(2, delay=1.0, channels=3)
    with pytest.raises(ValueError, match="3 per-channel delays"):
        module(torch.ones(2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        module(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\[T, \.\.\., channels\]"):
        snn.SynapticDelay(2, step_mode="multi")(torch.ones(3))


def test_state_dict_round_trip_and_repr():
    module = snn.SynapticDelay(3, delay=torch.tensor([0.5, 2.5]), channels=2, learn_delay=True)
    again = snn.SynapticDelay(3, channels=2, learn_delay=True)
    again.load_state_dict(module.state_dict())
    torch.testing.assert_close(again.delay, module.delay)
    assert "max_delay=3" in repr(module) and "learn_delay=True" in repr(module)


def test_atan_surrogate_is_the_class_behind_atan():
    spike_fn = surrogate.atan()
    assert isinstance(spike_fn, surrogate.ATanSurrogate)
    assert surrogate.ATanSurrogate(alpha=3.0) == surrogate.atan(alpha=3.0)
    x = torch.tensor([-0.5, 0.2], requires_grad=True)
    surrogate.ATanSurrogate()(x).sum().backward()
    # dS/dx = (α/2) / (1 + (π/2·α·x)²) with α = 2
    want = 1 / (1 + (math.pi * torch.tensor([-0.5, 0.2])) ** 2)
    torch.testing.assert_close(x.grad, want)
    lif = snn.Leaky(beta=0.9, spike_grad=surrogate.ATanSurrogate(alpha=2.0))
    assert lif.spike_grad == surrogate.atan()
