"""Fused one-to-one RLeaky backends equal the float64 reference: spikes exactly, membrane
sequences and every gradient (input, both initial states, beta, threshold, graded, V)
closely, with random upstream gradients on both outputs."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.dense import rleaky_dense_scan
from spikeforge.ops.rleaky.op import rleaky_scan_fused, rleaky_step_fused
from spikeforge.ops.rleaky.reference import rleaky_scan, rleaky_step

BACKENDS = ["cpu", "torch"]
RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]
SHAPES = [(1, 1, 3), (9, 2, 5), pytest.param((3, 1, 1030), marks=pytest.mark.slow)]
# float64 runs in the default suite through the fixed-parameter, step-chain and dense tests.
DTYPES = [torch.float32, pytest.param(torch.float64, marks=pytest.mark.slow)]
PARALLEL_RESETS = [
    ("zero", False),
    *(pytest.param(*rd, marks=pytest.mark.slow) for rd in RESETS if rd != ("zero", False)),
]
NAMES = ["beta", "threshold", "graded", "V"]
ALL = frozenset(NAMES)


def make_params(per_neuron: bool, features: int, dtype, learn=ALL):
    """(beta, threshold, graded, V); those named in ``learn`` require grad."""
    if per_neuron:
        ranges = ((0.3, 0.95), (0.6, 1.2), (0.5, 2.0), (-0.6, 0.7))
        values = [torch.linspace(lo, hi, features, dtype=dtype) for lo, hi in ranges]
    else:
        values = [torch.tensor(v, dtype=dtype) for v in (0.8, 0.9, 1.5, 0.4)]
    return [p.requires_grad_(name in learn) for name, p in zip(NAMES, values)]


def _rec(v):
    return lambda s: s * v


def _pre_reset(x, spk, spk0, mem, mem0, beta, thr, rec, cfg):
    prev = torch.cat([mem0.unsqueeze(0), mem[:-1]])
    sprev = torch.cat([spk0.unsqueeze(0), spk[:-1]])
    w = beta.clamp(0, 1) * prev + x + rec(sprev)
    fired = (prev > thr).double()
    if cfg.reset == "subtract":
        return w - fired * thr
    return (1 - fired) * w if cfg.reset == "zero" else w


def draw(shape, cfg, params, dtype, margin=1e-3, seed=0, rec=None):
    """Inputs whose float64 reference run keeps V and U at least ``margin`` from θ."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.6 - 0.3).to(dtype)
    g = params[2].detach().double()
    spk0 = ((torch.rand(shape[1:], generator=gen, dtype=torch.float64) > 0.5) * g).to(dtype)
    mem0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.8).to(dtype)
    b, th, g, v = (p.detach().double() for p in params)
    rec = _rec(v) if rec is None else rec
    for _ in range(500):
        with torch.no_grad():
            s0, u0 = spk0.double(), mem0.double()
            spk, mem = rleaky_scan(x.double(), s0, u0, b, th, g, rec, cfg)
        vpre = _pre_reset(x.double(), spk, s0, mem, u0, b, th, rec, cfg)
        close = torch.minimum((vpre - th).abs(), (mem - th).abs()) < margin
        if not close.any():
            return x, spk0, mem0
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


def reference_scan(x, spk0, mem0, beta, thr, graded, v, cfg):
    return rleaky_scan(x, spk0, mem0, beta, thr, graded, _rec(v), cfg)


def check(backend, shape, cfg, per_neuron, dtype, seed=0, learn=ALL):
    params = make_params(per_neuron, shape[-1], dtype, learn)
    inputs = draw(shape, cfg, params, dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2)]

    def fused(*args):
        spk, mem, spk_t, mem_t = rleaky_scan_fused(*args, backend)
        for final, seq in ((spk_t, spk), (mem_t, mem)):
            assert torch.equal(final, seq[-1])
        return spk, mem

    def leaves(dt):
        return [t.detach().to(dt).requires_grad_(True) for t in inputs]

    got_out, got_g = run(fused, leaves(dtype), params, cfg, [c.to(dtype) for c in cot])
    p64 = [p.detach().double().requires_grad_(p.requires_grad) for p in params]
    want_out, want_g = run(reference_scan, leaves(torch.float64), p64, cfg, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(got_out[1].double(), want_out[1], rtol=tol, atol=tol)
    names = ["x", "spk0", "mem0", *NAMES]
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
    x, spk0, mem0 = draw((5, 2, 4), cfg, params, torch.float64)
    x.requires_grad_(True)

    def chain(step):
        spk, mem, loss = spk0, mem0, 0.0
        for t in range(5):
            spk, mem = step(x[t], spk, mem)
            loss = loss + (spk * (t + 1)).sum() + (mem * 0.5).sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, s, m: rleaky_step_fused(xt, s, m, *params, cfg, backend))
    b, th, g, v = params
    want = chain(lambda xt, s, m: rleaky_step(xt, s, m, b, th, g, _rec(v), cfg))
    for g_, w in zip(got, want):
        torch.testing.assert_close(g_, w)


def test_opcheck_rleaky_ops():
    n = 5
    args = (
        torch.rand(4, n).requires_grad_(True), torch.rand(n).requires_grad_(True),
        torch.rand(n).requires_grad_(True), torch.tensor([0.7]).requires_grad_(True),
        torch.tensor([1.0]), torch.tensor([1.0]), torch.rand(n).requires_grad_(True),
        1, False, True, "atan", 2.0, 0.0, "cpu",
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.rleaky_fwd.default, args)


@pytest.mark.parametrize(("reset", "delay"), PARALLEL_RESETS, ids=str)
def test_cpu_parallel_path(reset, delay):
    """Large enough for the multi-threaded numba kernels."""
    from spikeforge.ops.rleaky import cpu

    shape = (3, 2, 12_000)
    assert cpu.worth_threads((shape[0], shape[1] * shape[2]))
    check("cpu", shape, NeuronConfig(sg.ATan(), reset, delay), False, torch.float32)


# -- the neuron ------------------------------------------------------------------------------


def _neuron_run(backend, step_mode, x, **kw):
    torch.manual_seed(0)
    lif = snn.RLeaky(beta=0.8, V=torch.linspace(-0.5, 0.6, x.shape[-1]), all_to_all=False,
                     learn_beta=True, learn_threshold=True, step_mode=step_mode,
                     backend=backend, **kw)  # fmt: skip
    xr = x.clone().requires_grad_(True)
    if step_mode == "multi":
        spk, mem = lif(xr)
    else:
        outs = [lif(xt) for xt in xr]
        spk, mem = (torch.stack([o[k] for o in outs]) for k in range(2))
    loss = (spk * torch.arange(1.0, 1 + spk.shape[0]).view(-1, 1, 1)).sum() + mem.square().sum()
    grads = torch.autograd.grad(loss, [xr, lif.V, lif.beta, lif.threshold])
    return (spk, mem, lif.spk, lif.mem), grads


@pytest.mark.parametrize("backend", ["auto", "cpu", "torch"])
@pytest.mark.parametrize("step_mode", ["multi", "single"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_neuron_fused_equals_reference_neuron(backend, step_mode, reset):
    x = torch.rand(7, 3, 6) * 1.4
    want_out, want_g = _neuron_run("reference", "single", x, reset_mechanism=reset)
    got_out, got_g = _neuron_run(backend, step_mode, x, reset_mechanism=reset)
    for g, w in zip((*got_out, *got_g), (*want_out, *want_g)):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_neuron_uses_the_fused_op_for_one_to_one_only():
    x = torch.rand(4, 2, 5)
    assert snn.RLeaky(beta=0.8, all_to_all=False).select_backend(x, _cfg()) == "cpu"
    dense = snn.RLeaky(beta=0.8, linear_features=5)
    conv = snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3)
    assert conv.select_backend(torch.rand(2, 2, 2, 4, 4), _cfg()) == "reference"
    assert dense.select_backend(x, _cfg()) == "torch"
    conv_cpu = snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3, backend="cpu")
    with pytest.raises(ValueError, match="convolutional recurrence"):
        conv_cpu.step_mode = "multi"
        conv_cpu(torch.rand(2, 1, 2, 4, 4))
    out = snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3, step_mode="multi")(
        torch.rand(3, 1, 2, 4, 4)
    )
    assert out[0].shape == (3, 1, 2, 4, 4)
    with pytest.raises(ValueError, match="no 'cpu' backend"):
        snn.RLeaky(beta=0.8, linear_features=5, backend="cpu")(torch.rand(2, 5))
    quant = snn.RLeaky(beta=0.8, linear_features=5, state_quant=torch.round)
    assert quant.select_backend(x, quant.config()) == "reference"
    wide = snn.RLeaky(beta=0.8, V=torch.ones(5, dtype=torch.float64), all_to_all=False)
    assert wide.select_backend(x, _cfg()) == "reference"
    with pytest.raises(ValueError, match=r"V has dtype torch\.float64"):
        wide.backend = "cpu"
        wide.select_backend(x, _cfg())


def _cfg():
    return NeuronConfig(sg.ATan())


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
    params = params[:3]  # beta, threshold, graded (no V)
    lin = torch.nn.Linear(n, n).to(dtype)
    lin.load_state_dict(lin64.state_dict())
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2)]

    def run_with(fn, layer, dt, cot):
        leaves = [t.detach().to(dt).requires_grad_(True) for t in inputs]
        ps = [p.detach().to(dt).requires_grad_(True) for p in params]
        spk, mem = fn(*leaves, *ps, layer)
        loss = (spk * cot[0]).sum() + (mem * cot[1]).sum()
        grads = torch.autograd.grad(loss, [*leaves, *ps, layer.weight, layer.bias])
        return (spk, mem), grads

    def dense(*args):
        *rest, layer = args
        spk, mem, spk_t, mem_t = rleaky_dense_scan(*rest, layer, cfg)
        assert torch.equal(spk_t, spk[-1]) and torch.equal(mem_t, mem[-1])
        return spk, mem

    got_out, got_g = run_with(dense, lin, dtype, [c.to(dtype) for c in cot])
    want_out, want_g = run_with(lambda *a: rleaky_scan(*a, cfg), lin64, torch.float64, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(got_out[1].double(), want_out[1], rtol=tol, atol=tol)
    names = ["x", "spk0", "mem0", "beta", "threshold", "graded", "weight", "bias"]
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
    "spike_fn", [sg.FastSigmoid(slope=10), sg.Triangular(0.7), sg.SparseFastSigmoid(4, 0.1)],
    ids=repr,
)  # fmt: skip
def test_dense_surrogates(spike_fn):
    check_dense((5, 2, 6), NeuronConfig(spike_fn, "zero", False), torch.float64)


def test_dense_restores_thread_count():
    """The step loops run on one intra-op thread; the caller's count (here 2) comes back."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lif = snn.RLeaky(beta=0.8, linear_features=5, step_mode="multi", backend="torch")
        spk, mem = lif(torch.rand(4, 3, 5, requires_grad=True))
        assert torch.get_num_threads() == 2
        (spk.sum() + mem.sum()).backward()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_opcheck_rleaky_dense_op():
    args = (
        torch.rand(4, 2, 5).requires_grad_(True), torch.rand(2, 5).requires_grad_(True),
        torch.empty(0), torch.rand(2, 5).requires_grad_(True),
        torch.rand(5, 5).requires_grad_(True), torch.rand(5).requires_grad_(True),
        torch.empty(0), torch.tensor([0.7]).requires_grad_(True), torch.rand(10),
        torch.tensor([1.0]), 0, False, True, False, "atan", 2.0, 0.0,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.dense_recurrence_fwd.default, args)


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("step_mode", ["multi", "single"])
def test_dense_neuron_equals_reference_neuron(backend, step_mode):
    x = torch.rand(6, 3, 5) * 1.2

    def run_neuron(backend, step_mode):
        torch.manual_seed(0)
        lif = snn.RLeaky(beta=0.8, linear_features=5, learn_beta=True, reset_delay=False,
                         step_mode=step_mode, backend=backend)  # fmt: skip
        xr = x.clone().requires_grad_(True)
        if step_mode == "multi":
            spk, mem = lif(xr)
        else:
            outs = [lif(xt) for xt in xr]
            spk, mem = (torch.stack([o[k] for o in outs]) for k in range(2))
        loss = (spk * torch.arange(1.0, 7).view(-1, 1, 1)).sum() + mem.square().sum()
        leaves = [xr, lif.beta, lif.recurrent.weight, lif.recurrent.bias]
        return (spk, mem, lif.spk, lif.mem, *torch.autograd.grad(loss, leaves))

    for g, w in zip(run_neuron(backend, step_mode), run_neuron("reference", "single")):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
