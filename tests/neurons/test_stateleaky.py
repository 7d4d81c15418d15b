"""StateLeaky and LinearLeaky: the O(T) chunked filter against its O(T²) reference, worked
numbers, and parity with snnTorch 1.0.0 (outputs within 1e-6, gradients within 1e-5)."""

from __future__ import annotations

import math
import zlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikeforge as sf
from spikeforge.ops.stateleaky import decay_filter, decay_filter_reference, decay_rate
from spikeforge.ops.stateleaky.chunked import MAX_BANDED

F64 = torch.float64


# -- the fast filter equals the reference ---------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(1, 300),
    batch=st.integers(1, 3),
    channels=st.integers(1, 4),
    per_channel=st.booleans(),
    truncation=st.one_of(st.none(), st.integers(1, 320)),
    chunk=st.sampled_from([4, 16, 64]),
    seed=st.integers(0, 2**16),
)
def test_chunked_filter_equals_reference(
    steps, batch, channels, per_channel, truncation, chunk, seed
):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, channels, generator=gen, dtype=F64)
    beta = torch.rand(channels if per_channel else (), generator=gen, dtype=F64)
    tau = decay_rate(beta)
    fast = decay_filter(x, tau, truncation, chunk=chunk)
    slow = decay_filter_reference(x, tau, truncation)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-10)


@pytest.mark.parametrize("truncation", [None, 5, MAX_BANDED + 44])
def test_chunked_filter_long_sequence_and_tau_gradient(truncation):
    """Three recursion levels (T=5000 > 64²), and d/dτ through the chunk taps."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5000, 1, 2, generator=gen, dtype=F64)
    tau_fast = decay_rate(torch.tensor([0.97, 0.5], dtype=F64)).requires_grad_()
    tau_slow = tau_fast.detach().clone().requires_grad_()
    cot = torch.randn(5000, 1, 2, generator=gen, dtype=F64)
    fast = decay_filter(x, tau_fast, truncation)
    slow = decay_filter_reference(x, tau_slow, truncation)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-9)
    (fast * cot).sum().backward()
    (slow * cot).sum().backward()
    torch.testing.assert_close(tau_fast.grad, tau_slow.grad, rtol=1e-9, atol=1e-9)


def test_worked_numbers():
    """β = 0.5: τ = 2, per-step decay e^{−1/2} = 0.60653 (snnTorch's quirk, not β)."""
    d = math.exp(-0.5)
    spk, mem = sf.StateLeaky(beta=0.5, channels=1)(torch.ones(3, 1, 1))
    assert mem.flatten().tolist() == pytest.approx([1, 1 + d, 1 + d + d * d], abs=1e-6)
    assert spk.flatten().tolist() == [0.0, 1.0, 1.0]
    # two taps: the third step forgets the first input
    mem2 = sf.StateLeaky(0.5, 1, kernel_truncation_steps=2, output=False)(torch.ones(3, 1, 1))
    assert mem2.flatten().tolist() == pytest.approx([1, 1 + d, 1 + d], abs=1e-6)
    # graded spikes: snnTorch multiplies by g twice
    spk3, _ = sf.StateLeaky(0.5, 1, graded_spikes_factor=3.0)(torch.ones(3, 1, 1))
    assert spk3.flatten().tolist() == [0.0, 9.0, 9.0]
    assert sf.StateLeaky(0.5, 1).beta.item() == pytest.approx(0.5, abs=1e-7)


def test_beta_one_is_an_integrator():
    mem = sf.StateLeaky(1.0, 2, output=False)(torch.ones(100, 1, 2))
    assert mem[-1, 0].tolist() == pytest.approx([100.0, 100.0], rel=1e-6)


# -- parity with snnTorch 1.0.0 --------------------------------------------------------------

snntorch = pytest.importorskip("snntorch")

OPTIONS = {
    "default": {},
    "learn-all": {"learn_beta": True, "learn_threshold": True, "learn_graded_spikes_factor": True},
    "graded": {"graded_spikes_factor": 1.7, "learn_graded_spikes_factor": True},
    "truncated": {"kernel_truncation_steps": 7, "learn_beta": True},
    "truncated-long": {"kernel_truncation_steps": 300, "learn_beta": True},
    "no-output": {"output": False, "learn_beta": True},
    "surrogate": {"spike_grad": "fast_sigmoid", "learn_threshold": True},
    "surrogate-disabled": {"surrogate_disable": True, "learn_beta": True},
}


def _make(lib, cls: str, options: dict, beta: torch.Tensor, **extra):
    kwargs = dict(options)
    if kwargs.get("spike_grad") == "fast_sigmoid":
        kwargs["spike_grad"] = lib.surrogate.fast_sigmoid(slope=5)
    for name in ("threshold", "graded_spikes_factor"):
        kwargs[name] = torch.tensor(kwargs.get(name, 1.0) * 0.9, dtype=beta.dtype)
    return getattr(lib, cls)(beta=beta.clone(), **kwargs, **extra)


def _params(module) -> dict:
    return {n: p for n, p in module.named_parameters() if n != "beta"}  # snnTorch's unused one


def _compare(ours, theirs, x: torch.Tensor, gen, atol_out: float, tol_grad: float) -> None:
    x_ours = x.clone().requires_grad_()
    x_theirs = x.clone().requires_grad_()
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    if not isinstance(out_ours, tuple):
        out_ours, out_theirs = (out_ours,), (out_theirs,)
    loss_ours = loss_theirs = 0
    for a, b in zip(out_ours, out_theirs):
        torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=atol_out)  # snnTorch: f32 spikes
        cot = torch.randn(a.shape, generator=gen, dtype=a.dtype)
        loss_ours = loss_ours + (a * cot).sum()
        loss_theirs = loss_theirs + (b * cot).sum()
    loss_ours.backward()
    loss_theirs.backward()
    pairs = [("input", x_ours.grad, x_theirs.grad)]
    p_ours, p_theirs = _params(ours), _params(theirs)
    assert p_ours.keys() == p_theirs.keys()
    pairs += [(n, p_ours[n].grad, p_theirs[n].grad) for n in p_ours]
    for name, a, b in pairs:
        if b is None:
            assert a is None or not a.any(), name
            continue
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a, b, rtol=0, atol=tol_grad * scale, msg=name)


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:.*unused when output=False")  # both libraries warn
@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("cls", ["StateLeaky", "LinearLeaky"])
def test_parity_float64(cls, option, per_channel):
    """50 steps, shapes drawn per case; double precision (snnTorch's kernel is exp(−k/τ)
    per tap, ours multiplies chunk taps: they agree to rounding)."""
    seed = zlib.crc32(f"{cls}-{option}-{per_channel}".encode())
    gen = torch.Generator().manual_seed(seed)
    batch, channels = (int(v) for v in torch.randint(1, 6, (2,), generator=gen))
    extra = {"channels": channels}
    x = torch.randn(50, batch, channels, generator=gen, dtype=F64) * 0.8
    if cls == "LinearLeaky":
        in_features = int(torch.randint(1, 6, (), generator=gen))
        extra = {"in_features": in_features, "out_features": channels, "dtype": F64}
        x = torch.randn(50, batch, in_features, generator=gen, dtype=F64)
    beta = torch.rand(channels if per_channel else (), generator=gen, dtype=F64) * 0.3 + 0.65
    ours = _make(sf, cls, OPTIONS[option], beta, **extra)
    theirs = _make(snntorch, cls, OPTIONS[option], beta, **extra)
    if cls == "LinearLeaky":
        theirs.linear.load_state_dict(ours.linear.state_dict())
    _compare(ours, theirs, x, gen, atol_out=1e-6, tol_grad=1e-5)


@pytest.mark.parity
@pytest.mark.parametrize("truncation", [None, 10])
def test_parity_float32(truncation):
    """Single precision, as users run it: same spikes, membranes and gradients within
    float32 rounding (inputs kept away from the threshold)."""
    gen = torch.Generator().manual_seed(11)
    kwargs = {"learn_beta": True, "learn_threshold": True, "learn_graded_spikes_factor": True}
    kwargs["kernel_truncation_steps"] = truncation
    beta = torch.rand(6, generator=gen) * 0.3 + 0.65
    ours = sf.StateLeaky(beta.clone(), 6, **kwargs)
    theirs = snntorch.StateLeaky(beta.clone(), 6, **kwargs)
    x = torch.randn(200, 4, 6, generator=gen)
    mem = decay_filter_reference(x.double(), ours.tau.double(), truncation)
    x = torch.where((mem - 1).abs() < 1e-3, torch.zeros_like(x), x)  # no decision near θ
    _compare(ours, theirs, x, gen, atol_out=1e-5, tol_grad=1e-5)


@pytest.mark.parity
def test_loads_snntorch_state_dict():
    theirs = snntorch.StateLeaky(torch.tensor([0.3, 0.8]), 2, learn_beta=True)
    with torch.no_grad():
        theirs.tau.mul_(1.5)
    ours = sf.StateLeaky(torch.tensor([0.5, 0.5]), 2, learn_beta=True)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(20, 3, 2)
    torch.testing.assert_close(ours(x)[1], theirs(x)[1], rtol=0, atol=1e-6)


# -- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"beta": torch.rand(3), "channels": 2}, ValueError, "beta must have shape"),
        ({"beta": 1.5, "channels": 2}, ValueError, "beta must lie in"),
        ({"beta": float("nan"), "channels": 2}, ValueError, "NaN"),
        ({"beta": "0.9", "channels": 2}, TypeError, "beta must be a number"),
        ({"beta": 0.9, "channels": 0}, ValueError, "channels must be a positive int"),
        ({"beta": 0.9, "channels": 2.0}, ValueError, "channels must be a positive int"),
        (
            {"beta": 0.9, "channels": 2, "kernel_truncation_steps": 0},
            ValueError,
            "kernel_truncation_steps must be a positive int",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        sf.StateLeaky(**kwargs)


def test_bad_inputs():
    per_channel = sf.StateLeaky(torch.full((3,), 0.9), 3)
    with pytest.raises(ValueError, match=r"shape \[T, B, channels=3\], got \(5, 2, 4\)"):
        per_channel(torch.zeros(5, 2, 4))
    lif = sf.StateLeaky(0.9, 3)
    assert lif(torch.zeros(5, 2, 4))[1].shape == (5, 2, 4)  # one shared decay: any width
    with pytest.raises(ValueError, match="got \\(5, 3\\)"):
        lif(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="floating-point"):
        lif(torch.zeros(5, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        lif([[0.0, 0.0, 0.0]])
    lin = sf.LinearLeaky(0.9, 4, 3)
    with pytest.raises(ValueError, match="in_features=4"):
        lin(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match="float64"):
        lin(torch.zeros(5, 2, 4, dtype=F64))
    with pytest.raises(NotImplementedError):
        lif.mem_reset(torch.zeros(1))


def test_spike_settings_without_output_warn():
    with pytest.warns(UserWarning, match="unused when output=False"):
        sf.StateLeaky(0.9, 2, output=False, learn_threshold=True)


def test_learn_beta_trains_tau():
    lif = sf.StateLeaky(0.9, 2, learn_beta=True)
    assert [n for n, _ in lif.named_parameters()] == ["tau"]
    lif(torch.randn(10, 1, 2))[1].sum().backward()
    assert lif.tau.grad is not None and lif.tau.grad.abs().sum() > 0


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("steps", [3, 40, 150])
def test_full_filter_backward_gradcheck(per_channel, steps):
    """The hand-written backward (anti-causal filter; τ from ⟨Fᵀg − g, U⟩) against finite
    differences, with small chunks so the recursion runs two levels deep."""
    from spikeforge.ops.stateleaky.chunked import _FullFilter

    gen = torch.Generator().manual_seed(steps)
    x = torch.randn(steps, 2, 3, generator=gen, dtype=F64, requires_grad=True)
    beta = torch.rand(3 if per_channel else (), generator=gen, dtype=F64) * 0.9
    tau = decay_rate(beta).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: _FullFilter.apply(a, b, 4), (x, tau))
