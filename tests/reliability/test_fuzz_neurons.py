"""Property tests (hypothesis) over random shapes, parameters and dtypes: spikes are 0 or
the graded factor, every fused Leaky backend equals the reference, NaN/Inf never crash."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikeforge as snn
from spikeforge.ops import registry

from ._neurons import BY_NAME, CASES, IDS

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fused_backends() -> list[str]:
    """Registered Leaky backends that can run float64 CPU tensors here (never 'reference')."""
    snn.Leaky(beta=0.5)  # importing the neuron registers its backends
    specs = registry.kernels("leaky")
    return sorted(
        name
        for name, spec in specs.items()
        if spec.available() and spec.why_not(torch.device("cpu"), torch.float64) is None
    )


leaky_params = st.fixed_dictionaries(
    {
        "T": st.integers(1, 12),
        "batch": st.integers(1, 3),
        "features": st.integers(1, 6),
        "beta": st.floats(0.0, 1.0),
        "threshold": st.floats(0.05, 2.0),
        "graded": st.floats(0.25, 3.0),
        "reset": st.sampled_from(["subtract", "zero", "none"]),
        "reset_delay": st.booleans(),
        "per_neuron": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


def _leaky(p, backend, step_mode="multi"):
    if p["reset"] == "none" and not p["reset_delay"]:
        p = {**p, "reset_delay": True}
    beta, thr = p["beta"], p["threshold"]
    if p["per_neuron"]:
        beta = torch.linspace(0, 1, p["features"], dtype=torch.float64) * p["beta"]
        thr = torch.linspace(0.5, 1.5, p["features"], dtype=torch.float64) * p["threshold"]
    lif = snn.Leaky(
        beta=beta,
        threshold=thr,
        graded_spikes_factor=p["graded"],
        reset_mechanism=p["reset"],
        reset_delay=p["reset_delay"],
        step_mode=step_mode,
        backend=backend,
    )
    return lif.double()


def _seq(p, dtype=torch.float64):
    g = torch.Generator().manual_seed(p["seed"])
    shape = (p["T"], p["batch"], p["features"])
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 0.4).to(dtype)


@pytest.mark.parametrize("backend", fused_backends())
@FAST
@given(p=leaky_params)
def test_every_fused_backend_equals_the_reference(backend, p):
    x = _seq(p).requires_grad_(True)
    ref_spk, ref_mem = _leaky(p, "reference")(x)
    spk, mem = _leaky(p, backend)(x)
    # float64 keeps every membrane far (relative to rounding) from the threshold.
    torch.testing.assert_close(spk, ref_spk, rtol=0, atol=0)
    torch.testing.assert_close(mem, ref_mem, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(mem)
    (g_ref,) = torch.autograd.grad((ref_mem * upstream).sum() + ref_spk.sum(), x)
    (g,) = torch.autograd.grad((mem * upstream).sum() + spk.sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-10)


@FAST
@given(p=leaky_params)
def test_multi_step_equals_single_steps_on_the_reference(p):
    x = _seq(p)
    spk_seq, mem_seq = _leaky(p, "reference")(x)
    single = _leaky(p, "reference", step_mode="single")
    mem = None
    for t in range(p["T"]):
        spk, mem = single(x[t], mem)
        assert torch.equal(spk, spk_seq[t]) and torch.equal(mem, mem_seq[t])


@FAST
@given(
    case=st.sampled_from(CASES),
    batch=st.integers(1, 4),
    threshold=st.floats(0.05, 2.0),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_outputs_are_binary_spikes(case, batch, threshold, dtype, seed):
    neuron = case.make(threshold=threshold).to(dtype)
    if hasattr(neuron, "backend"):
        neuron.backend = "reference"
    g = torch.Generator().manual_seed(seed)
    for _ in range(5):
        out = neuron(case.input(batch=batch, dtype=dtype, generator=g) * 2)
        spk = out[0]
        assert spk.dtype == dtype
        if case.name == "GradedRefractory":  # a graded ReLU output: >= 0, finite
            assert bool((spk >= 0).all()) and bool(torch.isfinite(spk).all())
        else:
            assert set(spk.unique().tolist()) <= {0.0, 1.0}


@FAST
@given(graded=st.floats(0.1, 4.0), seed=st.integers(0, 2**16))
def test_graded_spikes_take_exactly_zero_or_the_factor(graded, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(8, 3, 4, generator=g) * 2
    spk, _ = snn.Leaky(beta=0.7, graded_spikes_factor=graded, step_mode="multi")(x)
    factor = torch.tensor(graded, dtype=torch.float32).item()
    assert set(spk.unique().tolist()) <= {0.0, factor}


# ---------------------------------------------------------------------------- NaN / Inf
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_input_propagates_into_the_state_and_never_crashes(case):
    neuron = case.make()
    if hasattr(neuron, "backend"):
        neuron.backend = "reference"
    x = case.input()
    x.view(-1)[0] = math.nan
    for _ in range(3):
        out = neuron(x)
    assert any(bool(torch.isnan(s).any()) for s in out[1:])  # NaN is not hidden
    if case.name != "GradedRefractory":
        # A NaN membrane never fires: H(NaN − θ) = 0, so spikes stay binary.
        assert not bool(torch.isnan(out[0]).any())
        assert set(out[0].unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("backend", ["reference", *fused_backends()])
@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_nan_and_inf_in_multi_step_leaky(backend, reset):
    x = torch.tensor([[math.nan, math.inf, -math.inf, 0.6]] * 3)
    spk, mem = snn.Leaky(beta=0.5, reset_mechanism=reset, step_mode="multi", backend=backend)(x)
    assert spk[:, 0].tolist() == [0.0] * 3 and bool(torch.isnan(mem[:, 0]).all())
    assert spk[:, 1].tolist() == [1.0] * 3 and mem[:, 1].tolist() == [math.inf] * 3
    assert spk[:, 2].tolist() == [0.0] * 3 and mem[:, 2].tolist() == [-math.inf] * 3
    assert bool(torch.isfinite(mem[:, 3]).all())  # other neurons are untouched


@pytest.mark.parametrize("backend", fused_backends())
def test_zero_reset_of_an_infinite_membrane_agrees_across_backends(backend):
    x = torch.tensor([[math.inf, 0.5]] * 3)
    ref = snn.Leaky(beta=0.5, reset_mechanism="zero", step_mode="multi", backend="reference")
    ref_spk, ref_mem = ref(x)
    spk, mem = snn.Leaky(beta=0.5, reset_mechanism="zero", step_mode="multi", backend=backend)(x)
    torch.testing.assert_close(mem, ref_mem, equal_nan=True)
    torch.testing.assert_close(spk, ref_spk)


def test_nan_gradient_does_not_crash_backward():
    lif = BY_NAME["Leaky"].make(step_mode="multi", backend="reference")
    x = torch.tensor([[math.nan, 0.5]] * 4, requires_grad=True)
    spk, mem = lif(x)
    (spk.sum() + mem.sum()).backward()
    assert bool(torch.isfinite(x.grad[:, 1]).all())


@pytest.mark.slow
@pytest.mark.parametrize("backend", fused_backends())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=leaky_params)
def test_every_fused_backend_equals_the_reference_big_sweep(backend, p):
    test_every_fused_backend_equals_the_reference.hypothesis.inner_test(backend, p)
