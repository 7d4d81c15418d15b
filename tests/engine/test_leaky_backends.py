"""Every fused Leaky backend equals the float64 reference: spikes exactly, membranes and
every gradient (input, initial state, beta, threshold, graded factor) closely, with random
upstream gradients on both outputs."""

from __future__ import annotations

import pytest
import torch

from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.leaky.op import leaky_scan_fused, leaky_step_fused
from spikeforge.ops.leaky.reference import leaky_scan, leaky_step

from ._inputs import draw_leaky_inputs

BACKENDS = ["cpu", "torch"]
RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]
SURROGATES = [
    sg.ATan(),
    sg.ATan(alpha=3.5),
    sg.FastSigmoid(slope=10),
    sg.Sigmoid(slope=5),
    sg.StraightThroughEstimator(),
    sg.Triangular(threshold=0.7),
    sg.Heaviside(),
    sg.SpikeRateEscape(beta=0.5, slope=3),
    sg.LeakySpikeOperator(slope=0.2),
    sg.SparseFastSigmoid(slope=4, B=0.1),
    sg.Disabled(),
]


def make_params(per_neuron: bool, learn: bool, features: int, dtype):
    if per_neuron:
        beta = torch.linspace(0.3, 0.95, features, dtype=dtype)
        thr = torch.linspace(0.6, 1.2, features, dtype=dtype)
        graded = torch.linspace(0.5, 2.0, features, dtype=dtype)
    else:
        beta, thr, graded = (torch.tensor(v, dtype=dtype) for v in (0.8, 0.9, 1.5))
    return [p.clone().requires_grad_(learn) for p in (beta, thr, graded)]


def run(fn, x, mem0, params, cfg, gspk, gmem):
    """Forward, then the gradients of ``<spk, gspk> + <mem_seq, gmem>`` w.r.t. all inputs."""
    leaves = [t for t in (x, mem0, *params) if t.requires_grad]
    spk, mem_seq = fn(x, mem0, *params, cfg)
    loss = (spk * gspk).sum() + (mem_seq * gmem).sum()
    grads = torch.autograd.grad(loss, leaves, allow_unused=True) if leaves else ()
    # A parameter the graph does not use (e.g. θ with a disabled surrogate) has zero grad.
    grads = tuple(torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads))
    return spk, mem_seq, grads


def fused(backend):
    def fn(x, mem0, beta, thr, graded, cfg):
        spk, mem_seq, final = leaky_scan_fused(x, mem0, beta, thr, graded, cfg, backend)
        torch.testing.assert_close(final, mem_seq[-1])
        return spk, mem_seq

    return fn


def check_against_reference(backend, shape, cfg, per_neuron, learn, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = make_params(per_neuron, learn, shape[-1], dtype)
    x, mem0 = draw_leaky_inputs(shape, cfg, *params, dtype=dtype, generator=gen)
    x.requires_grad_(True)
    mem0.requires_grad_(True)
    gspk = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    gmem = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    got = run(fused(backend), x, mem0, params, cfg, gspk, gmem)

    def to64(t):
        return t.detach().double().requires_grad_(t.requires_grad)

    want = run(
        leaky_scan, to64(x), to64(mem0), [to64(p) for p in params], cfg, gspk.double(),
        gmem.double(),
    )  # fmt: skip
    assert got[0].dtype == dtype
    assert torch.equal(got[0].double(), want[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    if isinstance(cfg.spike_fn, sg.Triangular):
        # surrogate.Triangular.grad builds its ±p in float32 whatever the input dtype.
        tol = max(tol, 2e-5)
    torch.testing.assert_close(got[1].double(), want[1], rtol=tol, atol=tol)
    names = ["x", "mem0", "beta", "threshold", "graded"][: len(got[2])]
    for name, g, w in zip(names, got[2], want[2]):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(
            g.double(), w, rtol=20 * tol, atol=20 * tol * scale, msg=lambda m, n=name: f"{n}: {m}"
        )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("spike_fn", SURROGATES, ids=repr)
def test_surrogates_and_resets(backend, reset, delay, spike_fn):
    cfg = NeuronConfig(spike_fn, reset, delay)
    check_against_reference(
        backend, (6, 2, 5), cfg, per_neuron=True, learn=True, dtype=torch.float32
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (1, 3, 7), (9, 3, 7), (4, 1, 1030)], ids=lambda s: "T{}-B{}-F{}".format(*s)
)
def test_params_dtypes_shapes(backend, reset, delay, dtype, per_neuron, learn, shape):
    cfg = NeuronConfig(sg.ATan(), reset, delay)
    check_against_reference(backend, shape, cfg, per_neuron, learn, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("spike_fn", SURROGATES, ids=repr)
def test_large_sweep(backend, seed, reset, delay, spike_fn):
    cfg = NeuronConfig(spike_fn, reset, delay)
    for dtype in (torch.float32, torch.float64):
        check_against_reference(backend, (40, 3, 611), cfg, True, True, dtype, seed=seed)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_input_constant_over_time_is_not_materialised(backend, reset):
    """``cur.expand(T, ...)`` (stride 0 in time): same numbers, gradient summed over time."""
    cfg = NeuronConfig(sg.ATan(), reset)
    cur = (torch.rand(3, 6) * 0.8).requires_grad_(True)
    beta, thr, graded = torch.tensor(0.9), torch.tensor(1.0), torch.tensor(1.0)
    mem0 = torch.zeros(3, 6)
    gspk = torch.randn(8, 3, 6)
    spk, mem_seq, _ = leaky_scan_fused(cur.expand(8, 3, 6), mem0, beta, thr, graded, cfg, backend)
    (got,) = torch.autograd.grad((spk * gspk).sum() + mem_seq.sum(), cur)
    spk_r, mem_r = leaky_scan(cur.expand(8, 3, 6), mem0, beta, thr, graded, cfg)
    (want,) = torch.autograd.grad((spk_r * gspk).sum() + mem_r.sum(), cur)
    assert torch.equal(spk, spk_r)
    torch.testing.assert_close(mem_seq, mem_r)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_spike_sum_loss_with_broadcast_gradient(backend):
    """``spk.sum()`` hands the backward a stride-0 gradient; it must equal a dense one."""
    cfg = NeuronConfig()
    x = (torch.rand(10, 4, 9) * 1.5).requires_grad_(True)
    args = (torch.zeros(4, 9), torch.tensor(0.7), torch.tensor(1.0), torch.tensor(1.0), cfg)
    spk, _, _ = leaky_scan_fused(x, *args, backend, need_mem_seq=False)
    (got,) = torch.autograd.grad(spk.sum(), x)
    spk_r, _ = leaky_scan(x, *args)
    (want,) = torch.autograd.grad(spk_r.sum(), x)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
def test_step_op_matches_reference_step(backend, reset, delay):
    """The single-step op, chained 5 times, has the reference's values and gradients."""
    cfg = NeuronConfig(sg.FastSigmoid(), reset, delay)
    params = make_params(True, True, 4, torch.float64)
    x, mem0 = draw_leaky_inputs((5, 2, 4), cfg, *params, dtype=torch.float64)
    x.requires_grad_(True)

    def chain(step):
        mem, loss = mem0, 0.0
        for t in range(5):
            spk, mem = step(x[t], mem)
            loss = loss + (spk * (t + 1)).sum() + (mem * 0.5).sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, m: leaky_step_fused(xt, m, *params, cfg, backend))
    want = chain(lambda xt, m: leaky_step(xt, m, *params, cfg))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
def test_cpu_parallel_path_matches_reference(reset, delay, per_neuron):
    """Large enough (T·N ≥ 2¹⁶) for the multi-threaded numba kernels, with several blocks
    per thread and a short last block."""
    from spikeforge.ops.leaky import cpu

    shape = (3, 2, 44_000)  # T·N = 264,000
    n = shape[1] * shape[2]
    assert cpu.worth_threads((shape[0], n))
    block, lanes = cpu.parallel_layout((shape[0], n))
    assert n % block and -(-n // block) > lanes
    cfg = NeuronConfig(sg.ATan(), reset, delay)
    check_against_reference("cpu", shape, cfg, per_neuron, learn=True, dtype=torch.float32)


def test_parallel_layout_gives_every_thread_blocks(monkeypatch):
    from spikeforge.ops.common import numba_layout as layout

    monkeypatch.setattr("numba.get_num_threads", lambda: 2)
    assert layout.parallel_layout((100, 262_144)) == (layout.MAX_BLOCK, 2)  # W3: long blocks
    assert layout.parallel_layout((1, 262_144)) == (layout.STEP_BLOCK, 2)  # one step: L1-sized
    assert layout.parallel_layout((500, 8_192)) == (1024, 2)  # W1: 8 blocks of 1024
    assert layout.parallel_layout((3, 600)) == (layout.BLOCK, 2)  # never below BLOCK
