"""Parity with snnTorch 1.0.0 for RLeaky, RSynaptic, SLSTM and SConv2dLSTM.

snnTorch's recurrent weights are copied into ours; both run 50 steps on the same random input.
Inputs are redrawn until no membrane comes within ``MARGIN`` of the threshold, so the
Heaviside decisions cannot flip on rounding. Spikes must be equal, membranes within 1e-6 and
the gradients (input, beta, alpha, threshold, recurrent weights) within 1e-5.

The runs are in float64: snnTorch evaluates the zero-reset branch twice, so in float32 the
summed weight gradients differ from ours by reduction order alone (about 2e-5 on a gradient
of 1). A float32 run is checked separately where there is no such second branch. snnTorch's
spike functions always return float32, which its own float64 dense recurrence rejects, so its
neurons get ``atan_keeping_dtype`` (the same ATan, cast back to the membrane's dtype).
"""

from __future__ import annotations

import math

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")

pytestmark = pytest.mark.parity

STEPS = 50
MARGIN = 1e-3


@pytest.fixture(autouse=True)
def _float64_one_thread():
    """float64 (see above); one thread, since tiny convs slow down 100x when oversubscribed."""
    saved_dtype, saved_threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(saved_dtype)
    torch.set_num_threads(saved_threads)


def atan_keeping_dtype(x: torch.Tensor) -> torch.Tensor:
    return snntorch.surrogate.atan()(x).to(x.dtype)


class MarginRecorder:
    """A Heaviside that records the smallest ``|U − θ|`` it is asked about."""

    def __init__(self) -> None:
        self.smallest = math.inf

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.smallest = min(self.smallest, x.detach().abs().min().item())
        return (x > 0).to(x.dtype)


def run(neuron, xs):
    """Call ``neuron(x)`` for every step (state kept on the instance): spikes and membranes."""
    spikes, mems = [], []
    for x in xs:
        out = neuron(x)
        spikes.append(out[0])
        mems.append(out[-1])
    return torch.stack(spikes), torch.stack(mems)


def usable(ours, xs, margin) -> bool:
    """True if no ``|U − θ|`` falls within ``margin`` and the neuron spikes at least once."""
    recorder, saved = MarginRecorder(), ours.spike_grad
    ours.spike_grad = recorder
    ours.reset_mem()
    with torch.no_grad():
        spikes, _ = run(ours, xs)
    ours.spike_grad, _ = saved, ours.reset_mem()
    return recorder.smallest > margin and spikes.sum().item() > 0


def draw_inputs(ours, shape, scale=1.0, offset=0.0, margin=MARGIN):
    for _ in range(50):
        xs = torch.randn(STEPS, *shape) * scale + offset
        if usable(ours, xs, margin):
            return xs
    raise AssertionError("could not draw an input that spikes and keeps membranes off threshold")


def named_grads(module):
    return {n: p.grad for n, p in module.named_parameters() if p.requires_grad}


def assert_parity(ours, theirs, xs):
    x_ours = xs.clone().requires_grad_(True)
    x_theirs = xs.clone().requires_grad_(True)
    ours.reset_mem()
    spk_o, mem_o = run(ours, x_ours)
    spk_t, mem_t = run(theirs, x_theirs)
    assert torch.equal(spk_o, spk_t)
    assert spk_o.sum() > 0, "the test input never makes the neuron spike"
    torch.testing.assert_close(mem_o, mem_t, atol=1e-6, rtol=0)
    w_spk, w_mem = torch.randn_like(spk_o), torch.randn_like(mem_o)
    ((spk_o * w_spk).sum() + (mem_o * w_mem).sum()).backward()
    ((spk_t * w_spk).sum() + (mem_t * w_mem).sum()).backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, atol=1e-5, rtol=1e-5)
    grads_o, grads_t = named_grads(ours), named_grads(theirs)
    assert set(grads_o) <= set(grads_t)
    for name, grad in grads_o.items():
        assert grad is not None, name
        torch.testing.assert_close(
            grad, grads_t[name], atol=1e-5, rtol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
        )
    return grads_o


def copy_params(ours, theirs):
    """Ours takes snnTorch's values (recurrent weights, V, beta, alpha, threshold, cell)."""
    theirs_state = theirs.state_dict()
    with torch.no_grad():
        for name, tensor in ours.state_dict().items():
            tensor.copy_(theirs_state[name])


RECURRENCES = {
    # kind -> (constructor kwargs, input shape per step)
    "linear": ({"linear_features": 6}, (4, 6)),
    "conv2d": ({"conv2d_channels": 2, "kernel_size": 3}, (1, 2, 4, 4)),
    "V": ({"all_to_all": False, "V": torch.linspace(-0.6, 0.8, 6)}, (4, 6)),
}
LEARN = {"learn_beta": True, "learn_threshold": True, "learn_recurrent": True}


def beta_for(kind):
    return torch.linspace(0.5, 0.95, 6) if kind == "V" else 0.8


@pytest.mark.parametrize("kind", list(RECURRENCES))
@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_rleaky_parity(kind, reset, reset_delay):
    kwargs, shape = RECURRENCES[kind]
    common = dict(beta=beta_for(kind), threshold=0.9, reset_mechanism=reset, **kwargs, **LEARN)
    theirs = snntorch.RLeaky(**common, reset_delay=reset_delay, spike_grad=atan_keeping_dtype)
    ours = sf.RLeaky(**common, reset_delay=reset_delay)
    copy_params(ours, theirs)
    grads = assert_parity(ours, theirs, draw_inputs(ours, shape, 0.6, 0.3))
    assert {"beta", "threshold"} <= set(grads)
    assert ({"V"} if kind == "V" else {"recurrent.weight", "recurrent.bias"}) <= set(grads)


@pytest.mark.parametrize("kind", ["linear", "V"])
def test_rleaky_parity_fixed_parameters_and_inhibition(kind):
    kwargs, shape = RECURRENCES[kind]
    common = dict(beta=0.7, learn_recurrent=False, inhibition=True, **kwargs)
    with pytest.warns(UserWarning):
        theirs = snntorch.RLeaky(**common, spike_grad=atan_keeping_dtype)
    with pytest.warns(UserWarning):
        ours = sf.RLeaky(**common)
    copy_params(ours, theirs)
    assert named_grads(ours) == {}
    assert_parity(ours, theirs, draw_inputs(ours, shape, 0.6, 0.4))


@pytest.mark.parametrize("kind", list(RECURRENCES))
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_rsynaptic_parity(kind, reset):
    kwargs, shape = RECURRENCES[kind]
    common = {"alpha": 0.6, "beta": beta_for(kind), "threshold": 1.1, "reset_mechanism": reset}
    learn = {**LEARN, "learn_alpha": True}
    theirs = snntorch.RSynaptic(**common, **kwargs, **learn, spike_grad=atan_keeping_dtype)
    ours = sf.RSynaptic(**common, **kwargs, **learn)
    copy_params(ours, theirs)
    grads = assert_parity(ours, theirs, draw_inputs(ours, shape, 0.5, 0.1))
    assert {"alpha", "beta", "threshold"} <= set(grads)


@pytest.mark.parametrize("reset", ["none", "subtract", "zero"])
def test_slstm_parity_when_input_size_equals_hidden_size(reset):
    kwargs = {"input_size": 3, "hidden_size": 3, "threshold": 0.2, "learn_threshold": True}
    theirs = snntorch.SLSTM(**kwargs, reset_mechanism=reset, spike_grad=atan_keeping_dtype)
    ours = sf.SLSTM(**kwargs, reset_mechanism=reset)
    copy_params(ours, theirs)
    grads = assert_parity(ours, theirs, draw_inputs(ours, (2, 3), 1.5))
    assert {"threshold", "lstm_cell.weight_ih", "lstm_cell.weight_hh"} <= set(grads)


@pytest.mark.parametrize(
    ("reset", "pool"),
    [
        ("none", {}),
        ("subtract", {}),
        ("zero", {}),
        ("none", {"max_pool": 2}),
        ("subtract", {"avg_pool": 2}),
    ],
)
def test_sconv2dlstm_parity(reset, pool):
    kwargs = dict(in_channels=1, out_channels=2, kernel_size=3, threshold=0.3, **pool)
    theirs = snntorch.SConv2dLSTM(
        **kwargs, learn_threshold=True, reset_mechanism=reset, spike_grad=atan_keeping_dtype
    )
    ours = sf.SConv2dLSTM(**kwargs, learn_threshold=True, reset_mechanism=reset)
    with torch.no_grad():
        theirs.conv.weight.mul_(3)  # larger gates, so that pooled membranes cross 0.3
    copy_params(ours, theirs)
    grads = assert_parity(ours, theirs, draw_inputs(ours, (1, 1, 4, 4), 1.5))
    assert {"threshold", "conv.weight", "conv.bias"} <= set(grads)


def test_float32_parity_rleaky_and_rsynaptic_linear():
    torch.set_default_dtype(torch.float32)
    kwargs, shape = RECURRENCES["linear"]
    for cls, extra in ((snntorch.RLeaky, {}), (snntorch.RSynaptic, {"alpha": 0.6})):
        theirs = cls(beta=0.8, **extra, **kwargs, **LEARN)
        ours = getattr(sf, cls.__name__)(beta=0.8, **extra, **kwargs, **LEARN)
        copy_params(ours, theirs)
        assert_parity(ours, theirs, draw_inputs(ours, shape, 0.5, 0.2))


def test_fixed_bug_slstm_state_when_input_size_differs():
    theirs = snntorch.SLSTM(2, 3, spike_grad=atan_keeping_dtype)
    ours = sf.SLSTM(2, 3)
    copy_params(ours, theirs)
    x = torch.tensor([[1.0, -2.0]])
    mems_t = [theirs(x)[2] for _ in range(2)]
    mems_o = [ours(x)[2] for _ in range(2)]
    torch.testing.assert_close(mems_o[0], mems_t[0])
    torch.testing.assert_close(mems_t[1], mems_t[0])  # snnTorch: state zeroed every step
    assert not torch.allclose(mems_o[1], mems_o[0])  # ours: the memory is kept


def test_fixed_bug_rsynaptic_immediate_reset():
    kwargs = {"alpha": 0.5, "beta": 0.5, "V": 0.5, "all_to_all": False, "reset_delay": False}
    theirs = snntorch.RSynaptic(**kwargs, spike_grad=atan_keeping_dtype)
    ours = sf.RSynaptic(**kwargs)
    _, _, mem = theirs(torch.tensor([1.5]), torch.zeros(1), torch.zeros(1), torch.zeros(1))
    assert mem.item() == 1.5  # snnTorch: reset_delay=False does nothing
    spk, _, mem = ours(torch.tensor([1.5]))
    assert (spk.item(), mem.item()) == (1.0, 0.5)  # ours: 1.5 − θ in the same step
