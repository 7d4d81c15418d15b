"""Fused one-to-one RSynaptic backends equal the float64 reference: spikes exactly, current
and membrane sequences and every gradient (input, the three initial states, alpha, beta,
threshold, graded, V) closely, with random upstream gradients on all outputs."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.dense import rsynaptic_dense_scan
from spikeforge.ops.rsynaptic.op import rsynaptic_scan_fused, rsynaptic_step_fused
from spikeforge.ops.rsynaptic.reference import rsynaptic_scan, rsynaptic_step

BACKENDS = ["cpu", "torch"]
RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]
SHAPES = [(1, 1, 3), (9, 2, 5), pytest.param((3, 1, 1030), marks=pytest.mark.slow)]
# float64 runs in the default suite through the fixed-parameter, step-chain and dense tests.
DTYPES = [torch.float32, pytest.param(torch.float64, marks=pytest.mark.slow)]
PARALLEL_RESETS = [
    ("zero", False),
    *(pytest.param(*rd, marks=pytest.mark.slow) for rd in RESETS if rd != ("zero", False)),
]
NAMES = ["alpha", "beta", "threshold", "graded", "V"]
ALL = frozenset(NAMES)


def make_params(per_neuron: bool, features: int, dtype, learn=ALL):
    """(alpha, beta, threshold, graded, V); those named in ``learn`` require grad."""
    if per_neuron:
        ranges = ((0.2, 0.8), (0.3, 0.95), (0.6, 1.2), (0.5, 2.0), (-0.6, 0.7))
        values = [torch.linspace(lo, hi, features, dtype=dtype) for lo, hi in ranges]
    else:
        values = [torch.tensor(v, dtype=dtype) for v in (0.6, 0.8, 0.9, 1.5, 0.4)]
    return [p.requires_grad_(name in learn) for name, p in zip(NAMES, values)]


def _rec(v):
    return lambda s: s * v


def _pre_reset(syn, mem, mem0, beta, thr, cfg):
    prev = torch.cat([mem0.unsqueeze(0), mem[:-1]])
    w = beta.clamp(0, 1) * prev + syn
    fired = (prev > thr).double()
    if cfg.reset == "subtract":
        return w - fired * thr
    return (1 - fired) * w if cfg.reset == "zero" else w


def draw(shape, cfg, params, dtype, margin=1e-3, seed=0, rec=None):
    """Inputs whose float64 reference run keeps V and U at least ``margin`` from θ."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.0 - 0.3).to(dtype)
    g = params[3].detach().double()
    spk0 = ((torch.rand(shape[1:], generator=gen, dtype=torch.float64) > 0.5) * g).to(dtype)
    syn0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.5).to(dtype)
    mem0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.8).to(dtype)
    a, b, th, g, v = (p.detach().double() for p in params)
    rec = _rec(v) if rec is None else rec
    for _ in range(500):
        with torch.no_grad():
            states = [t.double() for t in (spk0, syn0, mem0)]
            _, syn, mem = rsynaptic_scan(x.double(), *states, a, b, th, g, rec, cfg)
        vpre = _pre_reset(syn, mem, mem0.double(), b, th, cfg)
        close = torch.minimum((vpre - th).abs(), (mem - th).abs()) < margin
        if not close.any():
            return x, spk0, syn0, mem0
        first = close.cumsum(0).cumsum(0) == 1
        x = torch.where(first, x + 4 * margin, x)
    raise RuntimeError("could not keep the membrane away from the threshold")


def run(fn, states, params, cfg, cot):
    leaves = [*states, *params]
    outs = fn(*states, *params, cfg)
    loss = sum((o * c).sum() for o, c in zip(outs, cot))
    grads = torch.autograd.grad(loss, [t for t in leaves if t.requires_grad])
    it = iter(grads)
    return outs, [next(it) if t.requires_grad else None for t in leaves]


def reference_scan(x, spk0, syn0, mem0, alpha, beta, thr, graded, v, cfg):
    return rsynaptic_scan(x, spk0, syn0, mem0, alpha, beta, thr, graded, _rec(v), cfg)


def check(backend, shape, cfg, per_neuron, dtype, seed=0, learn=ALL):
    params = make_params(per_neuron, shape[-1], dtype, learn)
    inputs = draw(shape, cfg, params, dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3)]

    def fused(*args):
        spk, syn, mem, spk_t, syn_t, mem_t = rsynaptic_scan_fused(*args, backend)
        for final, seq in ((spk_t, spk), (syn_t, syn), (mem_t, mem)):
            assert torch.equal(final, seq[-1])
        return spk, syn, mem

    def leaves(dt):
        return [t.detach().to(dt).requires_grad_(True) for t in inputs]

    got_out, got_g = run(fused, leaves(dtype), params, cfg, [c.to(dtype) for c in cot])
    p64 = [p.detach().double().requires_grad_(p.requires_grad) for p in params]
    want_out, want_g = run(reference_scan, leaves(torch.float64), p64, cfg, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    for name, g, w in zip(["syn", "mem"], got_out[1:], want_out[1:]):
        torch.testing.assert_close(g.double(), w, rtol=tol, atol=tol, msg=name)
    names = ["x", "spk0", "syn0", "mem0", *NAMES]
    for name, g, w in zip(names, got_g, want_g):
        assert (g is None) == (w is None), name
        if w is None:
            continue
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=20 * tol, atol=20 * tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(backend, reset, delay, dtype, per_neuron, shape):
    check(backend, shape, NeuronConfig(sg.ATan(), reset, delay), per_neuron, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "learn", [frozenset(), frozenset({"beta"}), frozenset({"threshold", "V"})], ids=sorted
)
@pytest.mark.parametrize(("reset", "delay"), [("subtract", False), ("zero", True)], ids=str)
def test_fixed_parameters(backend, learn, reset, delay):
    """Only the learnable parameters get gradients, and those still match."""
    check(backend, (7, 2, 6), NeuronConfig(sg.ATan(), reset, delay), True, torch.float64,
          learn=learn)  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "spike_fn",
    [sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5), sg.Triangular(0.7), sg.Heaviside(),
     sg.SpikeRateEscape(0.5, 3), sg.LeakySpikeOperator(0.2), sg.SparseFastSigmoid(4, 0.1),
     sg.StraightThroughEstimator(), sg.Disabled()],
    ids=repr,
)  # fmt: skip
def test_surrogates(backend, spike_fn):
    check(backend, (6, 2, 5), NeuronConfig(spike_fn, "subtract"), True, torch.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_op_chain_matches_reference(backend):
    cfg = NeuronConfig(sg.ATan(), "zero", False)
    params = make_params(True, 4, torch.float64)
    x, spk0, syn0, mem0 = draw((5, 2, 4), cfg, params, torch.float64)
    x.requires_grad_(True)

    def chain(step):
        spk, syn, mem, loss = spk0, syn0, mem0, 0.0
        for t in range(5):
            spk, syn, mem = step(x[t], spk, syn, mem)
            loss = loss + (spk * (t + 1)).sum() + (mem * 0.5).sum() - syn.sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, s, i, m: rsynaptic_step_fused(xt, s, i, m, *params, cfg, backend))
    a, b, th, g, v = params
    want = chain(lambda xt, s, i, m: rsynaptic_step(xt, s, i, m, a, b, th, g, _rec(v), cfg))
    for g_, w in zip(got, want):
        torch.testing.assert_close(g_, w)


def test_opcheck_rsynaptic_ops():
    n = 5
    args = (
        torch.rand(4, n).requires_grad_(True), torch.rand(n).requires_grad_(True), torch.rand(n),
        torch.rand(n).requires_grad_(True), torch.tensor([0.7]).requires_grad_(True),
        torch.tensor([0.9]), torch.tensor([1.0]), torch.tensor([1.0]),
        torch.rand(n).requires_grad_(True), 0, False, True, "atan", 2.0, 0.0, "cpu",
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.rsynaptic_fwd.default, args)


@pytest.mark.parametrize(("reset", "delay"), PARALLEL_RESETS, ids=str)
def test_cpu_parallel_path(reset, delay):
    """Large enough for the multi-threaded numba kernels."""
    from spikeforge.ops.rsynaptic import cpu

    shape = (3, 2, 12_000)
    assert cpu.worth_threads((shape[0], shape[1] * shape[2]))
    check("cpu", shape, NeuronConfig(sg.ATan(), reset, delay), False, torch.float32)


# -- the neuron ------------------------------------------------------------------------------


def _neuron_run(backend, step_mode, x, **kw):
    lif = snn.RSynaptic(alpha=0.7, beta=0.8, V=torch.linspace(-0.5, 0.6, x.shape[-1]),
                        all_to_all=False, learn_alpha=True, learn_threshold=True,
                        step_mode=step_mode, backend=backend, **kw)  # fmt: skip
    xr = x.clone().requires_grad_(True)
    if step_mode == "multi":
        spk, syn, mem = lif(xr)
    else:
        outs = [lif(xt) for xt in xr]
        spk, syn, mem = (torch.stack([o[k] for o in outs]) for k in range(3))
    weights = torch.arange(1.0, 1 + spk.shape[0]).view(-1, 1, 1)
    loss = (spk * weights).sum() + mem.square().sum() - syn.sum()
    grads = torch.autograd.grad(loss, [xr, lif.V, lif.alpha, lif.threshold])
    return (spk, syn, mem, lif.spk, lif.syn, lif.mem), grads


@pytest.mark.parametrize("backend", ["auto", "cpu", "torch"])
@pytest.mark.parametrize("step_mode", ["multi", "single"])
@pytest.mark.parametrize(("reset", "delay"), [("subtract", True), ("zero", False)])
def test_neuron_fused_equals_reference_neuron(backend, step_mode, reset, delay):
    x = torch.rand(7, 3, 6) * 1.2
    kw = {"reset_mechanism": reset, "reset_delay": delay}
    want_out, want_g = _neuron_run("reference", "single", x, **kw)
    got_out, got_g = _neuron_run(backend, step_mode, x, **kw)
    for g, w in zip((*got_out, *got_g), (*want_out, *want_g)):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_neuron_uses_the_fused_op_for_one_to_one_only():
    cfg = NeuronConfig(sg.ATan())
    x = torch.rand(4, 2, 5)
    assert snn.RSynaptic(0.5, 0.8, all_to_all=False).select_backend(x, cfg) == "cpu"
    dense = snn.RSynaptic(0.5, 0.8, linear_features=5)
    assert dense.select_backend(x, cfg) == "torch"
    with pytest.raises(ValueError, match="no 'cpu' backend"):
        dense.backend = "cpu"
        dense(x[0])
    conv = snn.RSynaptic(0.5, 0.8, conv2d_channels=2, kernel_size=3, backend="torch")
    with pytest.raises(ValueError, match="convolutional recurrence"):
        conv(torch.rand(1, 2, 4, 4))
    quant = snn.RSynaptic(0.5, 0.8, all_to_all=False, state_quant=torch.round)
    assert quant.select_backend(x, quant.config()) == "reference"


# -- the dense recurrence (torch backend with a hand-written BPTT) -------------------------


def check_dense(shape, cfg, dtype, seed=0):
    n = shape[-1]
    gen = torch.Generator().manual_seed(seed + 7)
    lin64 = torch.nn.Linear(n, n).double()
    with torch.no_grad():
        lin64.weight.copy_((torch.rand(n, n, generator=gen, dtype=torch.float64) - 0.5) * 0.8)
        lin64.bias.copy_((torch.rand(n, generator=gen, dtype=torch.float64) - 0.5) * 0.2)
    params = make_params(True, n, dtype)
    inputs = draw(shape, cfg, params, dtype, seed=seed, rec=lin64)
    params = params[:4]  # alpha, beta, threshold, graded (no V)
    lin = torch.nn.Linear(n, n).to(dtype)
    lin.load_state_dict(lin64.state_dict())
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3)]

    def run_with(fn, layer, dt, cot):
        leaves = [t.detach().to(dt).requires_grad_(True) for t in inputs]
        ps = [p.detach().to(dt).requires_grad_(True) for p in params]
        outs = fn(*leaves, *ps, layer)
        loss = sum((o * c).sum() for o, c in zip(outs, cot))
        grads = torch.autograd.grad(loss, [*leaves, *ps, layer.weight, layer.bias])
        return outs, grads

    def dense(*args):
        *rest, layer = args
        spk, syn, mem, *finals = rsynaptic_dense_scan(*rest, layer, cfg)
        for final, seq in zip(finals, (spk, syn, mem)):
            assert torch.equal(final, seq[-1])
        return spk, syn, mem

    got_out, got_g = run_with(dense, lin, dtype, [c.to(dtype) for c in cot])
    want_out, want_g = run_with(lambda *a: rsynaptic_scan(*a, cfg), lin64, torch.float64, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    for g, w in zip(got_out[1:], want_out[1:]):
        torch.testing.assert_close(g.double(), w, rtol=tol, atol=tol)
    names = ["x", "spk0", "syn0", "mem0", "alpha", "beta", "threshold", "graded", "weight", "bias"]
    for name, g, w in zip(names, got_g, want_g):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=20 * tol, atol=20 * tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", [(1, 1, 3), (8, 3, 7)], ids=str)
def test_dense_matches_reference(reset, delay, dtype, shape):
    check_dense(shape, NeuronConfig(sg.ATan(), reset, delay), dtype)


@pytest.mark.parametrize(
    "spike_fn", [sg.Sigmoid(slope=5), sg.Heaviside(), sg.SpikeRateEscape(0.5, 3)], ids=repr
)
def test_dense_surrogates(spike_fn):
    check_dense((5, 2, 6), NeuronConfig(spike_fn, "subtract", False), torch.float64)


def test_opcheck_rsynaptic_dense_op():
    args = (
        torch.rand(4, 2, 5).requires_grad_(True), torch.rand(2, 5).requires_grad_(True),
        torch.rand(2, 5), torch.rand(2, 5).requires_grad_(True),
        torch.rand(5, 5).requires_grad_(True), torch.rand(5).requires_grad_(True),
        torch.tensor([0.5]).requires_grad_(True), torch.tensor([0.7]), torch.rand(10),
        torch.tensor([1.0]), 1, True, True, True, "fast_sigmoid", 25.0, 0.0,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.dense_recurrence_fwd.default, args)


@pytest.mark.parametrize("step_mode", ["multi", "single"])
def test_dense_neuron_equals_reference_neuron(step_mode):
    x = torch.rand(6, 3, 5)

    def run_neuron(backend, step_mode):
        torch.manual_seed(0)
        lif = snn.RSynaptic(0.6, 0.8, linear_features=5, learn_alpha=True, step_mode=step_mode,
                            backend=backend)  # fmt: skip
        xr = x.clone().requires_grad_(True)
        if step_mode == "multi":
            spk, syn, mem = lif(xr)
        else:
            outs = [lif(xt) for xt in xr]
            spk, syn, mem = (torch.stack([o[k] for o in outs]) for k in range(3))
        loss = (spk * torch.arange(1.0, 7).view(-1, 1, 1)).sum() + mem.square().sum() + syn.sum()
        leaves = [xr, lif.alpha, lif.recurrent.weight, lif.recurrent.bias]
        return (spk, syn, mem, lif.spk, lif.syn, lif.mem, *torch.autograd.grad(loss, leaves))

    for g, w in zip(run_neuron("torch", step_mode), run_neuron("reference", "single")):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
