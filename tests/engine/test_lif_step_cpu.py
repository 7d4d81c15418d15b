"""The LIF family's single-step fast path (``ops/lif/step_cpu.py``, called directly) equals
the float64 reference step, chained over several steps: spikes exactly, states and the
gradients of the input and the carried states closely, for Leaky and Synaptic, every reset
mode, several surrogates, dtypes and shapes, one thread and several lanes, and losses that
leave an output unused (autograd then passes None)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.lif.reference import leaky_step, synaptic_step

from .cpu_configs import default_cpu_config, slow_unless_default

pytest.importorskip("numba")
from spikeforge.ops.lif import cpu
from spikeforge.ops.lif.step_cpu import StepCPU

RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]
LEAKY, SYNAPTIC = StepCPU(cpu.KEEP), StepCPU(cpu.SYN)


def chain(step, x, states, weights, loss_on):
    """Run ``step`` over ``x [T, ...]``; gradients of a weighted sum of the outputs named
    in ``loss_on`` ("spk", "syn", "mem"; the others reach the loss only through the next
    step) with respect to ``x`` and the initial states."""
    loss, outs, now = 0.0, [], states
    for t in range(x.shape[0]):
        spk, now = step(x[t], now)
        got = dict(zip(("spk", *(("syn", "mem") if len(now) == 2 else ("mem",))), (spk, *now)))
        outs.append(torch.stack(list(got.values())))
        for i, name in enumerate(got):
            if name in loss_on:
                loss = loss + (got[name] * weights[t, i]).sum()
    grads = torch.autograd.grad(loss, [x, *states], allow_unused=True)  # U₀ misses I's loss
    return torch.stack(outs), [torch.zeros_like(s) if g is None else g
                               for g, s in zip(grads, [x, *states])]  # fmt: skip


def check(fast, shape, cfg, values, dtype, seed=0, loss_on=("spk", "syn", "mem")):
    """``values``: (alpha,) beta, thr, graded."""
    syn = fast is SYNAPTIC
    params = tuple(torch.tensor(v, dtype=dtype) for v in values)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(50):  # inputs whose V stays clear of θ (float32 vs float64)
        x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.2 - 0.2).to(dtype)
        states = tuple((torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 1.2)
                       .to(dtype) for _ in range(2 if syn else 1))  # fmt: skip
        ref = _reference(syn, params, cfg)
        with torch.no_grad():
            v = _pre_reset(ref, x.double(), tuple(s.double() for s in states))
        if (v - values[-2]).abs().min() > 1e-3:
            break
    assert fast.plan_step(x[0], states, params, cfg) is not None  # the fast path runs it
    plan = fast.plan_step(x[0], states, params, cfg)
    weights = torch.randn(shape[0], 3, *shape[1:], generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    states = tuple(s.requires_grad_(True) for s in states)
    got = chain(lambda xt, s: fast.run(xt, s, plan), x, states, weights.to(dtype), loss_on)
    x64 = x.detach().double().requires_grad_(True)
    s64 = tuple(s.detach().double().requires_grad_(True) for s in states)
    want = chain(ref, x64, s64, weights, loss_on)
    assert got[0].dtype == dtype
    assert torch.equal(got[0][:, 0].double(), want[0][:, 0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(got[0].double(), want[0], rtol=tol, atol=tol)
    for g, w in zip(got[1], want[1]):
        torch.testing.assert_close(g.double(), w, rtol=20 * tol, atol=20 * tol)


def _reference(syn, params, cfg):
    p64 = [p.double() for p in params]
    if syn:
        return lambda xt, s: (lambda o: (o[0], o[1:]))(synaptic_step(xt, *s, *p64, cfg))
    return lambda xt, s: (lambda o: (o[0], o[1:]))(leaky_step(xt, *s, *p64, cfg))


def _pre_reset(step, x, states):
    """The membrane after each step (V itself when the reset is delayed): draws keep it
    clear of θ so that float32 and float64 spike alike."""
    out = []
    for t in range(x.shape[0]):
        _, states = step(x[t], states)
        out.append(states[-1])
    return torch.stack(out)


SURROGATES = [sg.ATan(), sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5),
              sg.Triangular(threshold=0.7), sg.SparseFastSigmoid(slope=4, B=0.1)]  # fmt: skip


MEMBER = {LEAKY: "leaky", SYNAPTIC: "synaptic"}
EVERY = [
    pytest.param(f, r, d, id=f"{MEMBER[f]}-{r}-{d}", marks=slow_unless_default(MEMBER[f], r, d))
    for f in MEMBER
    for r, d in RESETS
]


@pytest.mark.parametrize(("fast", "reset", "delay"), EVERY)
def test_resets_and_surrogates(fast, reset, delay):
    i = RESETS.index((reset, delay))  # one surrogate per mode (each compiles a backward)
    values = (0.7, 0.8, 0.9, 1.5)[(0 if fast is SYNAPTIC else 1) :]
    check(fast, (4, 3, 7), NeuronConfig(SURROGATES[i], reset, delay), values, torch.float64, i)


@pytest.mark.parametrize("fast", [LEAKY, SYNAPTIC], ids=["leaky", "synaptic"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_dtypes_and_shapes(fast, dtype):
    values = (0.8, 0.9, 1.0, 1.0)[(0 if fast is SYNAPTIC else 1) :]
    for reset, delay in [m for m in RESETS if default_cpu_config(MEMBER[fast], *m)]:
        for shape in [(3, 1), (3, 2, 3, 4)]:
            check(fast, shape, NeuronConfig(sg.ATan(), reset, delay), values, dtype)


@pytest.mark.parametrize("fast", [LEAKY, SYNAPTIC], ids=["leaky", "synaptic"])
@pytest.mark.parametrize(("reset", "delay"), [("zero", True), ("subtract", False)])
def test_lanes_and_unused_outputs(fast, reset, delay):
    """Several lanes; steps whose spikes (or states) the loss ignores get None upstream."""
    assert cpu.step_layout(70_000)[1] >= 1
    values = (0.8, 0.9, 1.0, 1.5)[(0 if fast is SYNAPTIC else 1) :]
    cfg = NeuronConfig(sg.FastSigmoid(slope=10), reset, delay)
    for loss_on in [("spk",), ("mem",), ("syn",)][: 3 if fast is SYNAPTIC else 2]:
        check(fast, (3, 1, 70_000), cfg, values, torch.float32, loss_on=loss_on)


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(
    syn=st.booleans(),
    alpha=st.floats(0.0, 1.3),
    beta=st.floats(0.0, 1.3),
    thr=st.floats(0.3, 2.0),
    graded=st.floats(0.1, 3.0),
    reset=st.sampled_from(RESETS),
    features=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_property_random_constants(syn, alpha, beta, thr, graded, reset, features, seed):
    """α and β above 1 act as 1, as on every other path."""
    fast = SYNAPTIC if syn else LEAKY
    values = (alpha, beta, thr, graded)[(0 if syn else 1) :]
    check(fast, (3, 2, features), NeuronConfig(sg.ATan(), *reset), values, torch.float64, seed)


def test_declines_what_it_cannot_run():
    cfg = NeuronConfig()
    x, mem = torch.rand(2, 3), torch.zeros(2, 3)
    fixed = tuple(torch.tensor(v) for v in (0.9, 1.0, 1.0))
    learnable = (fixed[0].clone().requires_grad_(True), *fixed[1:])
    assert LEAKY.plan_step(x, (mem,), learnable, cfg) is None
    assert LEAKY.plan_key(x, learnable, ()) is None
    with torch.no_grad():
        assert LEAKY.plan_step(x, (mem,), learnable, cfg) is not None
    assert LEAKY.plan_step(x, (mem,), (torch.full((3,), 0.9), *fixed[1:]), cfg) is None
    assert LEAKY.plan_step(x.t(), (mem.t(),), fixed, cfg) is None  # not contiguous
    assert LEAKY.plan_step(x.half(), (mem.half(),), fixed, cfg) is None
    assert LEAKY.plan_step(x, (mem.double(),), fixed, cfg) is None
    assert LEAKY.plan_step(x, (mem, mem), fixed, cfg) is None  # Synaptic's states
    assert SYNAPTIC.plan_step(x, (mem,), (fixed[0], *fixed), cfg) is None
    assert SYNAPTIC.plan_step(x, (mem, mem), (fixed[0], *fixed), cfg) is not None
    with pytest.raises(ValueError):
        StepCPU(cpu.REC)


def test_one_output_gradient_by_hand():
    """Synaptic, one step: I = αI' + X, U = βU' + I; dU/dX = 1, dU/dU' = β, dU/dI' = α."""
    cfg = NeuronConfig()
    params = tuple(torch.tensor(v, dtype=torch.float64) for v in (0.25, 0.5, 1.0, 2.0))
    x = torch.tensor([0.5, 0.75], dtype=torch.float64, requires_grad=True)
    syn = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
    mem = torch.tensor([0.5, 0.5], dtype=torch.float64, requires_grad=True)
    plan = SYNAPTIC.plan_step(x, (syn, mem), params, cfg)
    spk, (i, u) = SYNAPTIC.run(x, (syn, mem), plan)
    assert i.tolist() == [0.625, 1.0] and u.tolist() == [0.875, 1.25] and spk.tolist() == [0, 2]
    gx, gsyn, gmem = torch.autograd.grad(u.sum(), [x, syn, mem])
    assert gx.tolist() == [1.0, 1.0] and gsyn.tolist() == [0.25, 0.25]
    assert gmem.tolist() == [0.5, 0.5]
