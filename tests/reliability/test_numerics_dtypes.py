"""float64, float32, bfloat16 and float16 through every neuron: the dtype is kept, and the
results stay within a documented tolerance of a float64 run of the same neuron.

Documented tolerances (measured over T = 20 steps, 16 × features neurons; see README):

=========  ==============================================  ============================
dtype      one step: |U − U64| ≤                           spikes equal to float64's
=========  ==============================================  ============================
float32    1e-6 · max(1, |U64|); 20 steps: 1e-5 · (1+|U|)  100 %
float16    2 · 2⁻¹¹ · max|U64| (≈ 1e-3 relative)            ≥ 99 % of all (neuron, step)
bfloat16   2 · 2⁻⁸ · max|U64| (≈ 8e-3 relative)             ≥ 95 % of all (neuron, step)
=========  ==============================================  ============================

A low-precision membrane that lands on the other side of the threshold fires (or not) a
step early, after which that neuron's trajectory differs by O(θ): hence a spike agreement
rate rather than a membrane bound for long runs in 16-bit types.
"""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge.ops import registry

from ._neurons import CASES, IDS

T = 20
LOW = {torch.float16: (2.0**-11, 0.99), torch.bfloat16: (2.0**-8, 0.95)}


def _pair(case, dtype):
    """The same neuron in float64 and in ``dtype`` (reference backend: engine tests cover
    the kernels), and T float64 inputs."""
    torch.manual_seed(0)
    ref = case.make().double()
    low = case.make()
    low.load_state_dict(ref.state_dict())
    low = low.to(dtype)
    for n in (ref, low):
        if hasattr(n, "backend"):
            n.backend = "reference"
    g = torch.Generator().manual_seed(1)
    xs = [case.input(batch=16, dtype=torch.float64, generator=g) for _ in range(T)]
    return ref, low, xs


def _spikes_equal(case, a, b):
    if case.name == "GradedRefractory":  # graded ReLU output: equal up to rounding
        return torch.isclose(a.double(), b, rtol=1e-2, atol=1e-2)
    return a.double() == b


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_dtype_is_kept_through_every_output_and_state(case, dtype):
    _, low, xs = _pair(case, dtype)
    for x in xs[:3]:
        out = low(x.to(dtype))
    assert all(t.dtype == dtype for t in out)
    assert all(getattr(low, n).dtype == dtype for n in low.state_names)
    _, state = low.step(xs[0].to(dtype))
    assert all(t.dtype == dtype for t in state)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_tracks_float64(case):
    ref, low, xs = _pair(case, torch.float32)
    for x in xs:
        want, got = ref(x), low(x.float())
        assert bool(_spikes_equal(case, got[0], want[0]).all())
        for g, w in zip(got[1:], want[1:]):
            torch.testing.assert_close(g.double(), w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", list(LOW), ids=str)
def test_sixteen_bit_types_stay_within_the_documented_tolerance(case, dtype):
    eps, min_agreement = LOW[dtype]
    ref, low, xs = _pair(case, dtype)
    want, got = ref(xs[0]), low(xs[0].to(dtype))
    for g, w in zip(got[1:], want[1:]):
        bound = 2 * eps * max(1.0, w.abs().max().item())
        assert (g.double() - w).abs().max().item() <= bound
    agree, total = 0, 0
    for x in xs[1:]:
        want, got = ref(x), low(x.to(dtype))
        same = _spikes_equal(case, got[0], want[0])
        agree, total = agree + int(same.sum()), total + same.numel()
        assert bool(torch.isfinite(got[-1]).all())
    assert agree / total >= min_agreement, agree / total


def _multi_backends(dtype):
    snn.Leaky(beta=0.5)
    specs = registry.kernels("leaky")
    names = [
        n
        for n, s in specs.items()
        if s.available() and s.why_not(torch.device("cpu"), dtype) is None
    ]
    return ["reference", *sorted(names)]


@pytest.mark.parametrize(
    ("dtype", "backend"),
    [(d, b) for d in (torch.float32, torch.bfloat16, torch.float16) for b in _multi_backends(d)],
    ids=str,
)
def test_multi_step_leaky_per_backend_and_dtype(dtype, backend):
    x = torch.rand(T, 16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = x * 1.5
    ref_spk, ref_mem = snn.Leaky(beta=0.8, step_mode="multi", backend="reference").double()(x)
    spk, mem = snn.Leaky(beta=0.8, step_mode="multi", backend=backend).to(dtype)(x.to(dtype))
    assert spk.dtype == mem.dtype == dtype
    if dtype == torch.float32:
        assert torch.equal(spk.double(), ref_spk)
        torch.testing.assert_close(mem.double(), ref_mem, rtol=1e-5, atol=1e-5)
        return
    eps, min_agreement = LOW[dtype]
    assert (mem[0].double() - ref_mem[0]).abs().max().item() <= 2 * eps * 1.5
    assert (spk.double() == ref_spk).double().mean().item() >= min_agreement
