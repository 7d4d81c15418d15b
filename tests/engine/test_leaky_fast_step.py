"""The CPU kernel's single-step fast path (``ops/leaky/step_cpu.py``) equals the float64
reference step: spikes exactly, membranes and the gradients of the input and the carried
state closely, over reset modes, surrogates, dtypes and shapes, chained over several steps."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.leaky import step_cpu
from spikeforge.ops.leaky.op import leaky_step_fused
from spikeforge.ops.leaky.reference import leaky_step

from ._inputs import draw_leaky_inputs

pytest.importorskip("numba")

RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]


def constants(beta: float, thr: float, graded: float, dtype) -> list[torch.Tensor]:
    return [torch.tensor(v, dtype=dtype) for v in (beta, thr, graded)]


def chain(step, x, mem0, weights_spk, weights_mem, loss_on=("spk", "mem")):
    """Run ``step`` over ``x [T, ...]`` from ``mem0``; the gradients of a weighted sum of
    every spike and membrane (those named in ``loss_on``; the others reach the loss only
    through the next step) with respect to ``x`` and ``mem0``."""
    mem, loss, spikes, mems = mem0, 0.0, [], []
    for t in range(x.shape[0]):
        spk, mem = step(x[t], mem)
        spikes.append(spk)
        mems.append(mem)
        if "spk" in loss_on:
            loss = loss + (spk * weights_spk[t]).sum()
        if "mem" in loss_on:
            loss = loss + (mem * weights_mem[t]).sum()
    grads = torch.autograd.grad(loss, [x, mem0])
    return torch.stack(spikes), torch.stack(mems), grads


def check_fast_step(shape, cfg, values, dtype, seed=0, loss_on=("spk", "mem")):
    params = constants(*values, dtype)
    gen = torch.Generator().manual_seed(seed)
    x, mem0 = draw_leaky_inputs(shape, cfg, *params, dtype=dtype, generator=gen)
    assert step_cpu.plan_step(x[0], mem0, tuple(params), cfg) is not None  # the fast path runs it
    weights = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2)]
    x.requires_grad_(True)
    mem0.requires_grad_(True)
    got = chain(
        lambda xt, m: leaky_step_fused(xt, m, *params, cfg, "cpu"),
        x, mem0, *(w.to(dtype) for w in weights), loss_on,
    )  # fmt: skip
    x64, m64 = (t.detach().double().requires_grad_(True) for t in (x, mem0))
    p64 = [p.double() for p in params]
    want = chain(lambda xt, m: leaky_step(xt, m, *p64, cfg), x64, m64, *weights, loss_on)
    assert got[0].dtype == dtype and got[1].dtype == dtype
    assert torch.equal(got[0].double(), want[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(got[1].double(), want[1], rtol=tol, atol=tol)
    for name, g, w in zip(("x", "mem0"), got[2], want[2]):
        torch.testing.assert_close(
            g.double(), w, rtol=20 * tol, atol=20 * tol, msg=lambda m, n=name: f"{n}: {m}"
        )


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize(
    "spike_fn",
    [sg.ATan(), sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5), sg.Triangular(threshold=0.7),
     sg.SpikeRateEscape(beta=0.5, slope=3), sg.SparseFastSigmoid(slope=4, B=0.1)],
    ids=repr,
)  # fmt: skip
def test_resets_and_surrogates(reset, delay, spike_fn):
    check_fast_step((4, 3, 7), NeuronConfig(spike_fn, reset, delay), (0.8, 0.9, 1.5), torch.float64)


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "shape", [(1, 1), (3, 5), (2, 3, 2, 4)], ids=lambda s: "x".join(map(str, s))
)
def test_dtypes_and_shapes(reset, delay, dtype, shape):
    check_fast_step(shape, NeuronConfig(sg.ATan(), reset, delay), (0.9, 1.0, 1.0), dtype)


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
def test_multithreaded_kernels(reset, delay):
    from spikeforge.ops.leaky import cpu

    assert cpu.worth_threads((1, 70_000))
    check_fast_step(
        (2, 1, 70_000), NeuronConfig(sg.ATan(), reset, delay), (0.9, 1.0, 1.0), torch.float32
    )


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("loss_on", [("spk",), ("mem",)], ids=lambda o: o[0])
@pytest.mark.parametrize("features", [5, 70_000], ids=["serial", "threads"])
def test_one_output_in_the_loss(reset, delay, loss_on, features):
    """Steps whose spikes (or membranes) the loss ignores get no upstream gradient for
    them (autograd passes None; the last step's membrane too): the kernels read it as 0."""
    cfg = NeuronConfig(sg.FastSigmoid(slope=10), reset, delay)
    check_fast_step((3, 1, features), cfg, (0.9, 1.0, 1.5), torch.float32, loss_on=loss_on)


@settings(max_examples=25, deadline=None)
@given(
    beta=st.floats(0.0, 1.3),
    thr=st.floats(0.3, 2.0),
    graded=st.floats(0.1, 3.0),
    reset=st.sampled_from(RESETS),
    batch=st.integers(1, 4),
    features=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_property_random_constants(beta, thr, graded, reset, batch, features, seed):
    """β above 1 is clamped to 1, as on every other path."""
    cfg = NeuronConfig(sg.ATan(), *reset)
    check_fast_step((3, batch, features), cfg, (beta, thr, graded), torch.float64, seed)


def test_clamps_beta_like_the_reference():
    cfg = NeuronConfig()
    x, mem = torch.tensor([[0.25, 0.5]]), torch.tensor([[0.5, 0.75]])
    spk, out = leaky_step_fused(x, mem, *constants(1.5, 1.0, 1.0, torch.float32), cfg, "cpu")
    # β = 1.5 acts as 1: U = 0.5 + 0.25 and 0.75 + 0.5 (the second fires, reset delayed).
    torch.testing.assert_close(out, torch.tensor([[0.75, 1.25]]))
    assert spk.tolist() == [[0.0, 1.0]]


def test_gradient_of_one_output_only():
    """Autograd hands ``None`` for the output a loss does not use."""
    cfg = NeuronConfig()
    params = constants(0.5, 1.0, 2.0, torch.float64)
    x = torch.tensor([0.75, 1.25], dtype=torch.float64, requires_grad=True)
    mem = torch.tensor([0.5, 0.5], dtype=torch.float64, requires_grad=True)
    _, out = leaky_step_fused(x, mem, *params, cfg, "cpu")
    gx, gmem = torch.autograd.grad(out.sum(), [x, mem])
    assert gx.tolist() == [1.0, 1.0] and gmem.tolist() == [0.5, 0.5]  # dU/dX = 1, dU/dU' = β
    spk, _ = leaky_step_fused(x, mem, *params, cfg, "cpu")
    (gx,) = torch.autograd.grad(spk.sum(), [x])
    # V = β U' + X = (1.0, 1.5); dS/dX = g σ'(V − θ) with atan(α = 2): σ'(z) = 1 / (1 + (πz)²)
    z = torch.tensor([0.0, 0.5], dtype=torch.float64)
    want = 2.0 / (1 + (torch.pi * z) ** 2)
    torch.testing.assert_close(gx, want)


def test_fast_step_declines_what_it_cannot_run():
    cfg = NeuronConfig()
    x, mem = torch.rand(2, 3), torch.zeros(2, 3)
    fixed = constants(0.9, 1.0, 1.0, torch.float32)
    learnable = [fixed[0].clone().requires_grad_(True), *fixed[1:]]
    assert step_cpu.plan_step(x, mem, tuple(learnable), cfg) is None
    with torch.no_grad():
        assert step_cpu.plan_step(x, mem, tuple(learnable), cfg) is not None
    per_neuron = [torch.full((3,), 0.9), *fixed[1:]]
    assert step_cpu.plan_step(x, mem, tuple(per_neuron), cfg) is None
    assert step_cpu.plan_step(x.t(), mem.t(), tuple(fixed), cfg) is None  # not contiguous
    assert step_cpu.plan_step(x.half(), mem.half(), tuple(fixed), cfg) is None
    assert step_cpu.plan_step(x, mem.double(), tuple(fixed), cfg) is None


def test_neuron_takes_the_fast_step_and_matches_its_reference_backend(monkeypatch):
    lif, ref = snn.Leaky(beta=0.8), snn.Leaky(beta=0.8, backend="reference")
    x = (torch.rand(6, 4, 5) * 1.5).requires_grad_(True)
    calls = []
    original = step_cpu.run

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(step_cpu, "run", counting)
    outs = []
    for neuron in (lif, ref):
        mem, total = neuron.init_leaky(), 0.0
        for t in range(6):
            spk, mem = neuron(x[t], mem)
            total = total + spk.sum() + mem.sum()
        outs.append((total.detach(), torch.autograd.grad(total, x)[0]))
    assert len(calls) == 6  # small layer, constant parameters: every step on the fast path
    torch.testing.assert_close(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])


# -- the neuron's fast path (``SpikingNeuron._fast_forward``): same numbers as the general
# path, and a plan that follows every change of what it depends on.


def _count_fast_steps(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = step_cpu.run

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(step_cpu, "run", counting)
    return calls


def _run(neuron, x, use_fast: bool):
    """Outputs of a few stateful steps (states passed in, or kept by ``init_hidden``) and
    the input gradient, through the shell's fast path or its general path."""
    if not use_fast:
        neuron._fast_plan = lambda *args: None
    neuron.reset_mem()
    mem, outs, total = None, [], 0.0
    for t in range(x.shape[0]):
        if neuron.init_hidden:
            got = neuron(x[t])
        else:
            mem = neuron.init_leaky() if mem is None else mem
            got = neuron(x[t], mem)
            mem = got[1]
        got = got if isinstance(got, tuple) else (got,)
        outs.append(torch.stack([o.detach() for o in got]))
        total = total + sum((o * (i + 1.5)).sum() for i, o in enumerate(got))
    (grad,) = torch.autograd.grad(total, x)
    return torch.stack(outs), neuron.mem.detach().clone(), grad


@pytest.mark.parametrize(
    "flags",
    [{}, {"init_hidden": True}, {"init_hidden": True, "output": True},
     {"reset_mechanism": "zero"}, {"reset_mechanism": "none"}, {"reset_delay": False},
     {"graded_spikes_factor": 2.5, "threshold": 0.7}],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "defaults",
)  # fmt: skip
@pytest.mark.parametrize("features", [7, 70_000], ids=["serial", "threads"])
def test_neuron_fast_step_equals_the_general_path(monkeypatch, flags, features):
    calls = _count_fast_steps(monkeypatch)
    x = torch.rand(4, 2, features, generator=torch.Generator().manual_seed(3)) * 1.2
    x.requires_grad_(True)
    fast = _run(snn.Leaky(beta=0.85, **flags), x, use_fast=True)
    assert len(calls) == 4
    general = _run(snn.Leaky(beta=0.85, **flags), x, use_fast=False)
    assert len(calls) == 8  # the general shell reaches the same kernels through the op
    for a, b in zip(fast, general):
        assert torch.equal(a, b)


def test_neuron_fast_step_follows_parameter_changes(monkeypatch):
    """Each change must reach the next step, whichever route it takes (``.data`` does not
    bump the version counter, so values are compared, not versions)."""
    x, mem = torch.full((1, 3), 0.5), torch.zeros(1, 3)
    lif = snn.Leaky(beta=0.5)
    assert lif(x, mem)[1].tolist() == [[0.5] * 3]
    lif(x, mem + 1.0)  # U = 0.5 · 1 + 0.5
    assert lif(x, mem + 1.0)[1].tolist() == [[1.0] * 3]
    lif.beta.data.fill_(0.25)
    assert lif(x, mem + 1.0)[1].tolist() == [[0.75] * 3]
    with torch.no_grad():
        lif.beta.fill_(0.0)
    assert lif(x, mem + 1.0)[1].tolist() == [[0.5] * 3]
    lif.threshold = torch.tensor(0.4)
    assert lif(x, mem)[0].tolist() == [[1.0] * 3]
    lif.graded_spikes_factor = torch.tensor(3.0)
    assert lif(x, mem)[0].tolist() == [[3.0] * 3]
    lif.load_state_dict({**lif.state_dict(), "threshold": torch.tensor(0.6)})
    assert lif(x, mem)[0].tolist() == [[0.0] * 3]


def test_neuron_fast_step_follows_option_changes(monkeypatch):
    calls = _count_fast_steps(monkeypatch)
    x, mem = torch.full((1, 2), 0.5), torch.full((1, 2), 1.5)  # previous step fired
    lif = snn.Leaky(beta=1.0)
    assert lif(x, mem)[1].tolist() == [[1.0] * 2]  # U = 1.5 + 0.5 − 1 (subtract)
    lif.reset_mechanism = "zero"
    assert lif(x, mem)[1].tolist() == [[0.5] * 2]  # U = β·0 + X where the last step fired
    lif.reset_mechanism = "none"
    assert lif(x, mem)[1].tolist() == [[2.0] * 2]
    assert len(calls) == 3
    lif.backend = "reference"
    lif(x, mem)
    assert len(calls) == 3  # a named reference backend never takes the fast path
    lif.backend = "auto"
    monkeypatch.setenv("SPIKEFORGE_BACKEND", "reference")
    lif(x, mem)
    assert len(calls) == 3
    monkeypatch.delenv("SPIKEFORGE_BACKEND")
    lif(x, mem)
    assert len(calls) == 4
    lif.spike_grad = lambda z: (z > 0).float()  # a user callable: kernels cannot run it
    lif(x, mem)
    assert len(calls) == 4


def test_neuron_fast_step_with_learnable_and_other_dtypes(monkeypatch):
    calls = _count_fast_steps(monkeypatch)
    x = torch.rand(2, 3)
    lif = snn.Leaky(beta=0.9, learn_beta=True)
    _, mem = lif(x, torch.zeros(2, 3))
    assert len(calls) == 0 and mem.grad_fn is not None  # β needs a gradient: general op
    with torch.no_grad():
        lif(x, torch.zeros(2, 3))
    assert len(calls) == 1
    lif.double()
    _, mem64 = lif(x.double(), torch.zeros(2, 3, dtype=torch.float64))
    assert mem64.dtype == torch.float64
    torch.testing.assert_close(mem64, x.double())
    _, mem32 = lif(x, torch.zeros(2, 3))  # β wider than the input: the reference runs it
    assert len(calls) == 1 and mem32.dtype == torch.float32
    torch.testing.assert_close(mem32, x)


def test_neuron_fast_step_keeps_the_shells_errors():
    lif = snn.Leaky(beta=0.9)
    with pytest.raises(ValueError, match="mem has shape"):
        lif(torch.rand(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="mem has dtype"):
        lif(torch.rand(2, 3), torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating-point"):
        lif(torch.ones(2, 3, dtype=torch.int64), torch.zeros(2, 3))
    hidden = snn.Leaky(beta=0.9, init_hidden=True)
    with pytest.raises(TypeError, match="init_hidden=True"):
        hidden(torch.rand(2, 3), torch.zeros(2, 3))
