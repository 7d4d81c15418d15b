"""Bad input to every neuron class raises ValueError/TypeError whose message names the
argument, what was expected and what came (the rules of the reliability issue)."""

from __future__ import annotations

import re

import pytest
import torch

import spikeforge as snn

from ._neurons import BY_NAME, CASES, IDS

WITH_RESET = [c for c in CASES if c.name != "GradedRefractory"]  # it has no reset argument
WITH_DECAYS = [(c, d) for c in CASES for d in c.decays]


def raises(error, *fragments):
    """``pytest.raises`` that requires every fragment (literal text) in the message."""
    return pytest.raises(error, match="".join(f"(?=[\\s\\S]*{re.escape(f)})" for f in fragments))


@pytest.mark.parametrize(
    ("case", "decay"), WITH_DECAYS, ids=[f"{c.name}-{d}" for c, d in WITH_DECAYS]
)
@pytest.mark.parametrize("bad", [-0.25, 1.5])
def test_fixed_decay_rate_outside_unit_interval(case, decay, bad):
    with raises(ValueError, decay, "[0, 1]", str(bad)):
        case.make(**{decay: bad})


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5])
def test_lapicque_beta_must_be_strictly_inside(bad):
    with raises(ValueError, "beta", "(0, 1)", str(bad)):
        snn.Lapicque(beta=bad)


@pytest.mark.parametrize("name", ["R", "C"])
@pytest.mark.parametrize("bad", [0.0, -2.0])
def test_lapicque_r_and_c_must_be_positive(name, bad):
    other = "C" if name == "R" else "R"
    with raises(ValueError, f"{name} must be > 0", str(bad)):
        snn.Lapicque(**{name: bad, other: 1.0})
    with raises(ValueError, f"{name} must be > 0", str(bad)):
        snn.Lapicque(beta=0.5, **{name: bad})  # the other one is derived from beta


def test_lapicque_time_step_must_be_positive():
    with raises(ValueError, "time_step must be > 0", "-0.001"):
        snn.Lapicque(beta=0.5, time_step=-1e-3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_negative_threshold(case):
    with raises(ValueError, "threshold", ">= 0", "-0.5"):
        case.make(threshold=-0.5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_threshold(case):
    with raises(ValueError, "threshold", "NaN"):
        case.make(threshold=float("nan"))


@pytest.mark.parametrize("case", WITH_RESET, ids=[c.name for c in WITH_RESET])
def test_unknown_reset_mechanism_at_construction_and_assignment(case):
    with raises(ValueError, "reset_mechanism", "'subtract', 'zero', 'none'", "'soft'"):
        case.make(reset_mechanism="soft")
    neuron = case.make()
    with raises(ValueError, "reset_mechanism", "'Zero'"):
        neuron.reset_mechanism = "Zero"
    assert neuron.reset_mechanism in ("subtract", "zero", "none")  # unchanged


def test_unknown_step_mode_and_backend():
    with raises(ValueError, "step_mode", "'single', 'multi'", "'multiple'"):
        snn.Leaky(beta=0.5, step_mode="multiple")
    lif = snn.Leaky(beta=0.5)
    with raises(ValueError, "step_mode", "'seq'"):
        lif.step_mode = "seq"
    assert lif.step_mode == "single"
    with raises(ValueError, "backend", "'reference'", "'gpu'"):
        snn.Leaky(beta=0.5, backend="gpu")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8])
def test_integer_and_bool_inputs(case, dtype):
    x = torch.ones(case.input_shape, dtype=dtype)
    with raises(TypeError, "input_", "floating-point", str(dtype)):
        case.make()(x)
    with raises(TypeError, "input_", "floating-point", str(dtype)):
        case.make().step(x)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("value", [[1.0, 2.0], 1.0, None])
def test_non_tensor_inputs(case, value):
    with raises(TypeError, "input_", "torch.Tensor", type(value).__name__):
        case.make()(value)


def _first_state(case, x):
    neuron = case.make()
    _, state = neuron.step(x)
    return neuron, state


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_of_another_dtype(case):
    x = case.input()
    neuron, state = _first_state(case, x)
    name = neuron.state_names[0]
    wrong = state[0].double()
    with raises(ValueError, name, "torch.float64", "torch.float32"):
        neuron(x, **{name: wrong})
    with raises(ValueError, name, "torch.float64", "torch.float32"):
        neuron.step(x, state._replace(**{name: wrong}))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_on_another_device(case):
    # The meta device stands in for a second device (no GPU needed).
    x = case.input()
    neuron, state = _first_state(case, x)
    name = neuron.state_names[-1]
    wrong = torch.zeros(state[-1].shape, device="meta")
    with raises(ValueError, name, "meta", "cpu"):
        neuron(x, **{name: wrong})
    with raises(ValueError, name, "meta", "cpu"):
        neuron.step(x, state._replace(**{name: wrong}))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_of_another_shape_and_type(case):
    x = case.input(batch=3)
    neuron, state = _first_state(case, x)
    name = neuron.state_names[0]
    with raises(ValueError, name, "shape", str(tuple(state[0][:2].shape))):
        neuron.step(x, state._replace(**{name: state[0][:2]}))
    with raises(TypeError, name, "torch.Tensor", "list"):
        neuron(x, **{name: state[0].tolist()})


def test_multi_step_input_without_a_time_axis():
    lif = snn.Leaky(beta=0.5, step_mode="multi")
    with raises(ValueError, "step_mode='multi'", "[T, ...]", "shape ()"):
        lif(torch.tensor(1.0))
    with raises(ValueError, "step_mode='multi'", "T >= 1", "shape (0, 3)"):
        lif(torch.zeros(0, 3))
    with raises(TypeError, "input_", "floating-point", "torch.int64"):
        lif(torch.ones(4, 3, dtype=torch.int64))


def test_multi_step_state_checks_against_one_step():
    lif = snn.Leaky(beta=0.5, step_mode="multi")
    x_seq = torch.rand(4, 2, 3)
    with raises(ValueError, "mem", "(4, 2, 3)", "(2, 3)"):
        lif(x_seq, torch.zeros(4, 2, 3))  # a sequence-shaped state is not an initial state
    with raises(ValueError, "mem", "torch.float64", "torch.float32"):
        lif(x_seq, torch.zeros(2, 3, dtype=torch.float64))
    with raises(ValueError, "mem", "meta", "cpu"):
        lif(x_seq, torch.zeros(2, 3, device="meta"))


def test_errors_leave_the_stored_state_untouched():
    lif = BY_NAME["Synaptic"].make()
    x = torch.full((2, 5), 0.3)
    lif(x)
    before = (lif.syn.clone(), lif.mem.clone())
    with pytest.raises(ValueError):
        lif(x, torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError):
        lif(x.long())
    assert torch.equal(lif.syn, before[0]) and torch.equal(lif.mem, before[1])


@pytest.mark.parametrize("name", ["threshold", "graded_spikes_factor"])
@pytest.mark.parametrize("value", ["1.0", [1.0, "a"], object()])
def test_hyperparameters_of_the_wrong_type(name, value):
    with raises(TypeError, name, "a number or a tensor"):
        snn.Leaky(beta=0.5, **{name: value})


def test_bool_beta_is_not_a_number():
    with raises(TypeError, "beta", "got bool"):
        snn.Leaky(beta=True)


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"spike_grad": "atan"}, ("spike_grad", "callable", "str")),
        ({"state_quant": 3}, ("state_quant", "callable", "3")),
    ],
)
def test_spike_grad_and_state_quant_must_be_callable(kwargs, fragments):
    with raises(TypeError, *fragments):
        snn.Leaky(beta=0.5, **kwargs)
