"""Fused Synaptic backends equal the float64 reference: spikes exactly, current and membrane
sequences and every gradient (input, both initial states, alpha, beta, threshold, graded)
closely, with random upstream gradients on all three outputs."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.synaptic.op import synaptic_scan_fused, synaptic_step_fused
from spikeforge.ops.synaptic.reference import synaptic_scan, synaptic_step

BACKENDS = ["cpu", "torch"]
RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]


def make_params(per_neuron: bool, features: int, dtype):
    if per_neuron:
        values = [torch.linspace(lo, hi, features, dtype=dtype)
                  for lo, hi in ((0.2, 0.8), (0.3, 0.95), (0.6, 1.2), (0.5, 2.0))]  # fmt: skip
    else:
        values = [torch.tensor(v, dtype=dtype) for v in (0.6, 0.8, 0.9, 1.5)]
    return [p.requires_grad_(True) for p in values]


def draw(shape, cfg, params, dtype, margin=1e-3, seed=0):
    """Inputs whose float64 reference run keeps V and U at least ``margin`` from θ."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.0 - 0.3).to(dtype)
    syn0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.5).to(dtype)
    mem0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.8).to(dtype)
    p64 = [p.detach().double() for p in params]
    b, th = p64[1].clamp(0, 1), p64[2]
    for _ in range(500):
        with torch.no_grad():
            _, syn, mem = synaptic_scan(x.double(), syn0.double(), mem0.double(), *p64, cfg)
        prev = torch.cat([mem0.double().unsqueeze(0), mem[:-1]])
        w = b * prev + syn
        fired = (prev > th).double()
        v = (
            w - fired * th
            if cfg.reset == "subtract"
            else ((1 - fired) * w if cfg.reset == "zero" else w)
        )
        close = torch.minimum((v - th).abs(), (mem - th).abs()) < margin
        if not close.any():
            return x, syn0, mem0
        first = close.cumsum(0).cumsum(0) == 1
        x = torch.where(first, x + 4 * margin, x)
    raise RuntimeError("could not keep the membrane away from the threshold")


def run(fn, x, syn0, mem0, params, cfg, cot):
    leaves = [x, syn0, mem0, *params]
    spk, syn, mem = fn(x, syn0, mem0, *params, cfg)
    loss = sum((o * c).sum() for o, c in zip((spk, syn, mem), cot))
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return (spk, syn, mem), [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]


def check(backend, shape, cfg, per_neuron, dtype, seed=0):
    params = make_params(per_neuron, shape[-1], dtype)
    x, syn0, mem0 = draw(shape, cfg, params, dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3)]

    def fused(*args):
        spk, syn, mem, syn_t, mem_t = synaptic_scan_fused(*args, backend)
        assert torch.equal(syn_t, syn[-1]) and torch.equal(mem_t, mem[-1])
        return spk, syn, mem

    def leaves(dt):
        return [t.detach().to(dt).requires_grad_(True) for t in (x, syn0, mem0)]

    got_out, got_g = run(fused, *leaves(dtype), params, cfg, [c.to(dtype) for c in cot])
    p64 = [p.detach().double().requires_grad_(True) for p in params]
    want_out, want_g = run(synaptic_scan, *leaves(torch.float64), p64, cfg, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = {torch.float32: 2e-5, torch.float64: 1e-10}[dtype]
    for name, g, w in zip(["syn", "mem"], got_out[1:], want_out[1:]):
        torch.testing.assert_close(g.double(), w, rtol=tol, atol=tol, msg=name)
    names = ["x", "syn0", "mem0", "alpha", "beta", "threshold", "graded"]
    for name, g, w in zip(names, got_g, want_g):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=20 * tol, atol=20 * tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
@pytest.mark.parametrize("shape", [(1, 1, 3), (9, 2, 5), (3, 1, 1030)], ids=str)
def test_matches_reference(backend, reset, delay, dtype, per_neuron, shape):
    check(backend, shape, NeuronConfig(sg.ATan(), reset, delay), per_neuron, dtype)


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
    x, syn0, mem0 = draw((5, 2, 4), cfg, params, torch.float64)
    x.requires_grad_(True)

    def chain(step):
        syn, mem, loss = syn0, mem0, 0.0
        for t in range(5):
            spk, syn, mem = step(x[t], syn, mem)
            loss = loss + (spk * (t + 1)).sum() + (mem * 0.5).sum() - syn.sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, s, m: synaptic_step_fused(xt, s, m, *params, cfg, backend))
    want = chain(lambda xt, s, m: synaptic_step(xt, s, m, *params, cfg))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("backend", ["auto", "reference", "cpu", "torch"])
def test_neuron_multi_step_equals_single_steps(backend):
    x = torch.rand(10, 3, 4)
    single = snn.Synaptic(alpha=0.7, beta=0.8, backend=backend)
    multi = snn.Synaptic(alpha=0.7, beta=0.8, backend=backend, step_mode="multi")
    syn, mem, spikes, mems = None, None, [], []
    for xt in x:
        spk, syn, mem = single(xt, syn, mem)
        spikes.append(spk)
        mems.append(mem)
    spk_m, _, mem_m = multi(x)
    assert torch.equal(torch.stack(spikes), spk_m)
    torch.testing.assert_close(torch.stack(mems), mem_m, rtol=0, atol=0)
    torch.testing.assert_close(multi.syn, syn, rtol=0, atol=0)


def test_opcheck_synaptic_ops():
    n = 5
    args = (
        torch.rand(4, n).requires_grad_(True), torch.rand(n), torch.rand(n).requires_grad_(True),
        torch.tensor([0.7]).requires_grad_(True), torch.tensor([0.9]), torch.tensor([1.0]),
        torch.tensor([1.0]), 0, False, True, "atan", 2.0, 0.0, "cpu",
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.synaptic_fwd.default, args)


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
def test_cpu_parallel_path(reset, delay):
    """Large enough for the multi-threaded numba kernels."""
    from spikeforge.ops.synaptic import cpu

    shape = (3, 2, 12_000)
    assert cpu.worth_threads((shape[0], shape[1] * shape[2]))
    check("cpu", shape, NeuronConfig(sg.ATan(), reset, delay), False, torch.float32)
