"""Hidden state, serialisation, dtypes and input checks of the stateful shells."""

import io
import pickle

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge import surrogate


def test_init_hidden_networks_in_sequential_return_spikes_only():
    net = nn.Sequential(
        nn.Linear(3, 4),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(4, 2),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    x = torch.rand(5, 3)
    spk, mem = net(x)
    assert spk.shape == mem.shape == (5, 2)
    assert net[1](torch.rand(5, 4)).shape == (5, 4)  # a bare spike tensor


def test_init_hidden_rejects_passed_states():
    lif = snn.Leaky(beta=0.9, init_hidden=True)
    with pytest.raises(TypeError, match="init_hidden=True"):
        lif(torch.rand(2), torch.zeros(2))


def test_state_persists_between_calls_without_passing_it():
    lif = snn.Leaky(beta=0.5)
    lif(torch.tensor([0.6]))
    _, mem = lif(torch.tensor([0.6]))
    assert mem.item() == pytest.approx(0.9)  # .5·.6 + .6


def test_batch_size_change_starts_from_zero():
    lif = snn.Leaky(beta=0.5, init_hidden=True, output=True)
    lif(torch.full((4, 3), 0.6))
    _, mem = lif(torch.full((2, 3), 0.6))
    assert torch.equal(mem, torch.full((2, 3), 0.6))


def test_passed_state_of_another_shape_is_an_error():
    lif = snn.Leaky(beta=0.5)
    with pytest.raises(ValueError, match=r"mem has shape \(2,\)"):
        lif(torch.rand(2, 3), torch.zeros(2))  # (3,) would broadcast: test_state_broadcast


def test_passed_state_of_another_dtype_is_an_error():
    lif = snn.Leaky(beta=0.5)
    with pytest.raises(ValueError, match="dtype"):
        lif(torch.rand(2, dtype=torch.float64), torch.zeros(2))


def test_integer_and_non_tensor_inputs_are_errors():
    lif = snn.Leaky(beta=0.5)
    with pytest.raises(TypeError, match="floating-point"):
        lif(torch.ones(2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        lif([1.0, 2.0])


@pytest.mark.parametrize("beta", [-0.1, 1.5])
def test_fixed_beta_outside_unit_interval_is_an_error(beta):
    with pytest.raises(ValueError, match="beta must lie in"):
        snn.Leaky(beta=beta)


def test_learnable_beta_may_leave_the_interval_and_is_clamped():
    lif = snn.Leaky(beta=1.5, learn_beta=True)
    lif(torch.tensor([0.5]))
    _, mem = lif(torch.tensor([0.5]))
    assert mem.item() == pytest.approx(1.0)  # clamp(1.5) = 1: .5 + .5


def test_unknown_reset_mechanism_is_an_error():
    with pytest.raises(ValueError, match="reset_mechanism"):
        snn.Leaky(beta=0.5, reset_mechanism="soft")


def test_reset_hidden_and_detach_act_on_one_instance_only():
    a, b = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9)
    x = torch.ones(2, requires_grad=True)
    a(x)
    b(x)
    a.reset_hidden()
    assert torch.equal(a.mem, torch.zeros(2))
    assert torch.equal(b.mem, torch.ones(2))
    b.detach_hidden()
    assert b.mem.grad_fn is None


def test_reset_mem_returns_an_empty_state_that_sizes_itself():
    lif = snn.Leaky(beta=0.9)
    lif(torch.ones(3))
    mem = lif.reset_mem()
    assert mem.shape == (0,)
    _, mem = lif(torch.ones(3), mem)
    assert torch.equal(mem, torch.ones(3))


def test_learnable_parameters_receive_gradients():
    lif = snn.Leaky(
        beta=0.8,
        threshold=0.5,
        learn_beta=True,
        learn_threshold=True,
        graded_spikes_factor=1.0,
        learn_graded_spikes_factor=True,
    )
    mem = lif.init_leaky()
    total = 0
    for _ in range(4):
        spk, mem = lif(torch.tensor([0.3, 0.45]), mem)
        total = total + spk.sum() + mem.sum()
    total.backward()
    for name in ("beta", "threshold", "graded_spikes_factor"):
        grad = getattr(lif, name).grad
        assert grad is not None and grad.abs().item() > 0, name


def test_state_dict_round_trip_keeps_parameters_and_config():
    lif = snn.Leaky(
        beta=torch.tensor([0.3, 0.7]), threshold=0.8, learn_beta=True, reset_mechanism="zero"
    )
    restored = snn.Leaky(beta=torch.tensor([0.5, 0.5]), learn_beta=True)
    restored.load_state_dict(lif.state_dict())
    assert torch.equal(restored.beta, lif.beta)
    assert restored.threshold.item() == pytest.approx(0.8)
    assert restored.reset_mechanism_val.item() == 1
    assert restored.reset_mechanism == "zero"
    restored(torch.tensor([2.0, 2.0]))
    _, mem = restored(torch.tensor([0.25, 0.25]))
    assert mem.tolist() == [0.25, 0.25]  # zero reset after the spike


def test_whole_model_torch_save_round_trip():
    net = nn.Sequential(
        nn.Linear(3, 2),
        snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(slope=10), init_hidden=True),
    )
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.rand(4, 3)
    assert torch.equal(loaded(x), net(x))
    assert loaded[1].spike_grad == surrogate.FastSigmoid(10)
    assert pickle.loads(pickle.dumps(surrogate.atan())) == surrogate.ATan(2.0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_to_dtype_moves_parameters_and_runs(dtype):
    lif = snn.Leaky(beta=0.9).to(dtype)
    assert lif.beta.dtype == dtype and lif.threshold.dtype == dtype
    spk, mem = lif(torch.full((3,), 1.2, dtype=dtype))
    assert spk.dtype == mem.dtype == dtype
    assert spk.tolist() == [1.0, 1.0, 1.0]


def test_surrogate_disable_blocks_gradient_through_spikes():
    x = torch.tensor([0.9], requires_grad=True)
    spk, mem = snn.Leaky(beta=0.5, surrogate_disable=True)(x)
    (spk.sum() + 0 * mem.sum()).backward()
    assert x.grad.item() == 0.0


def test_per_neuron_parameters_may_not_widen_the_input():
    lif = snn.Leaky(beta=torch.tensor([0.5, 0.9]))
    with pytest.raises(ValueError, match="broadcast"):
        lif(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="broadcast"):
        lif.step(torch.tensor([1.0]))


def test_recurrent_layer_of_another_dtype_is_a_clear_error():
    rleaky = snn.RLeaky(beta=0.8, linear_features=5)
    with pytest.raises(TypeError, match=r"recurrent layer holds torch\.float32"):
        rleaky(torch.rand(2, 5, dtype=torch.float64))
    _spk, mem = rleaky.to(torch.float64)(torch.rand(2, 5, dtype=torch.float64))
    assert mem.dtype == torch.float64
