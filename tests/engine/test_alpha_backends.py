"""Fused Alpha backends equal the float64 reference: spikes exactly, the three state sequences
and every gradient (input, the three initial states, alpha, beta, threshold, graded) closely,
with random upstream gradients on all four outputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.alpha.op import alpha_scan_fused, alpha_step_fused
from spikeforge.ops.alpha.reference import alpha_scan, alpha_step
from spikeforge.ops.common.numba_layout import worth_threads
from spikeforge.ops.config import NeuronConfig

BACKENDS = ["cpu", "torch"]
RESETS = ["zero", "subtract", "none"]
# Which of (alpha, beta, threshold, graded) are learnable leaves.
LEARN = {"fixed": (), "decays": (0, 1), "all": (0, 1, 2, 3)}
NAMES = ["x", "exc0", "inh0", "mem0", "alpha", "beta", "threshold", "graded"]


def make_params(per_neuron: bool, features: int, dtype, learn=(0, 1, 2, 3)):
    """(alpha, beta, threshold, graded) with alpha > beta everywhere."""
    if per_neuron:
        values = [torch.linspace(lo, hi, features, dtype=dtype)
                  for lo, hi in ((0.7, 0.95), (0.3, 0.65), (0.6, 1.2), (0.5, 2.0))]  # fmt: skip
    else:
        values = [torch.tensor(v, dtype=dtype) for v in (0.9, 0.6, 0.9, 1.5)]
    return [p.requires_grad_(k in learn) for k, p in enumerate(values)]


def membranes(x, e0, i0, u0, params, cfg):
    with torch.no_grad():
        p64 = [p.detach().double() for p in params]
        return alpha_scan(x.double(), e0.double(), i0.double(), u0.double(), *p64, cfg)[3]


def draw(shape, cfg, params, dtype, margin=1e-3, seed=0):
    """Inputs whose float64 reference run keeps every ``U_t`` at least ``margin`` from θ.

    ``U_t`` does not depend on ``X_t`` (it cancels in ``E + I``) but on ``X_{t−1}`` through
    ``τ(α − β)``, so a close ``U_t`` nudges ``X_{t−1}`` (or ``E_0`` at the first step).
    """
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.6 - 0.3).to(dtype)
    e0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 1.5).to(dtype)
    i0 = (-torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 1.0).to(dtype)
    u0 = (torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 1.5).to(dtype)
    th = params[2].detach().to(dtype)
    u0 = torch.where((u0 - th).abs() < margin, u0 - 4 * margin, u0)
    for _ in range(500):
        close = (membranes(x, e0, i0, u0, params, cfg) - th.double()).abs() < margin
        if not close.any():
            return x, e0, i0, u0
        first = close.cumsum(0).cumsum(0) == 1  # earliest close step of each neuron
        e0 = torch.where(first[0], e0 + 10 * margin, e0)
        x[:-1] = torch.where(first[1:], x[:-1] + 10 * margin, x[:-1])
    raise RuntimeError("could not keep the membrane away from the threshold")


def run(fn, leaves, params, cfg, cot):
    spk, exc, inh, mem = fn(*leaves, *params, cfg)
    loss = sum((o * c).sum() for o, c in zip((spk, exc, inh, mem), cot))
    wrt = [t for t in [*leaves, *params] if t.requires_grad]
    grads = iter(torch.autograd.grad(loss, wrt, allow_unused=True))
    full = []
    for t in [*leaves, *params]:
        g = next(grads) if t.requires_grad else None
        full.append(torch.zeros_like(t) if g is None else g)
    return (spk, exc, inh, mem), full


def assert_grads(got, want, tol):
    for name, g, w in zip(NAMES, got, want):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=20 * tol, atol=20 * tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def check(backend, shape, cfg, per_neuron, dtype, learn=(0, 1, 2, 3), seed=0):
    params = make_params(per_neuron, shape[-1], dtype, learn)
    states = draw(shape, cfg, params, dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(4)]

    def fused(*args):
        spk, seqs, finals = alpha_scan_fused(*args, backend)
        for seq, final in zip(seqs, finals):
            assert torch.equal(final, seq[-1])
        return spk, *seqs

    def leaves(dt):
        return [t.detach().to(dt).requires_grad_(True) for t in states]

    got_out, got_g = run(fused, leaves(dtype), params, cfg, [c.to(dtype) for c in cot])
    p64 = [p.detach().double().requires_grad_(p.requires_grad) for p in params]
    want_out, want_g = run(alpha_scan, leaves(torch.float64), p64, cfg, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = TOL[dtype]
    for name, g, w in zip(["exc", "inh", "mem"], got_out[1:], want_out[1:]):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=tol, atol=tol * scale, msg=name)
    assert_grads(got_g, want_g, tol)
    return want_out[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("learn", list(LEARN))
@pytest.mark.parametrize(
    ("shape", "per_neuron"),
    [((1, 1, 3), False), ((9, 2, 5), True), ((3, 1, 1030), False)],
    ids=["T1", "9x2x5-per-neuron", "3x1x1030"],
)
def test_matches_reference(backend, reset, dtype, learn, shape, per_neuron):
    cfg = NeuronConfig(sg.ATan(), reset)
    check(backend, shape, cfg, per_neuron, dtype, LEARN[learn])


SURROGATES = [
    sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5), sg.Triangular(0.7), sg.Heaviside(),
    sg.SpikeRateEscape(0.5, 3), sg.LeakySpikeOperator(0.2), sg.SparseFastSigmoid(4, 0.1),
    sg.StraightThroughEstimator(), sg.Disabled(),
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spike_fn", SURROGATES, ids=repr)
def test_surrogates(backend, spike_fn):
    check(backend, (8, 2, 5), NeuronConfig(spike_fn, "subtract"), True, torch.float32)


def test_draw_gives_both_spikes_and_silence():
    """The random cases exercise resets: some neurons fire, some steps stay silent."""
    for reset in RESETS:
        spk = check("torch", (9, 2, 5), NeuronConfig(sg.ATan(), reset), True, torch.float64)
        assert 0.1 < (spk > 0).double().mean().item() < 0.9, reset


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
def test_without_sequences_saves_less_and_matches(backend, reset):
    """``need_seqs=False`` with fixed decays: only the membrane is kept for the backward;
    gradients from the spikes and the final states still equal the reference's."""
    cfg = NeuronConfig(sg.ATan(), reset)
    params = make_params(True, 6, torch.float64, learn=(2, 3))
    states = draw((7, 3, 6), cfg, params, torch.float64)
    gen = torch.Generator().manual_seed(5)
    cot = [torch.randn(s, generator=gen, dtype=torch.float64) for s in ((7, 3, 6), *[(3, 6)] * 3)]

    def grads(scan):
        leaves = [t.clone().requires_grad_(True) for t in states]
        spk, finals = scan(leaves)
        loss = (spk * cot[0]).sum() + sum((f * c).sum() for f, c in zip(finals, cot[1:]))
        wrt = [leaves[0], leaves[1], leaves[2], params[2], params[3]]
        return spk, finals, torch.autograd.grad(loss, wrt)

    def fused(leaves):
        spk, seqs, finals = alpha_scan_fused(*leaves, *params, cfg, backend, need_seqs=False)
        assert seqs is None
        return spk, finals

    def reference(leaves):
        spk, exc, inh, mem = alpha_scan(*leaves, *params, cfg)
        return spk, (exc[-1], inh[-1], mem[-1])

    got, want = grads(fused), grads(reference)
    assert torch.equal(got[0], want[0])
    for g, w in zip([*got[1], *got[2]], [*want[1], *want[2]]):
        torch.testing.assert_close(g, w)


def test_initial_membrane_gets_no_gradient():
    """``U_0`` only sets the detached reset of step 1, as in the reference."""
    cfg = NeuronConfig(sg.ATan(), "subtract")
    params = make_params(False, 4, torch.float64, learn=())
    x, e0, i0, u0 = draw((5, 2, 4), cfg, params, torch.float64)
    u0.requires_grad_(True)
    spk, seqs, _ = alpha_scan_fused(x, e0, i0, u0, *params, cfg, "cpu")
    (g,) = torch.autograd.grad((spk.sum() + seqs[2].sum()), [u0], allow_unused=True)
    assert g is None


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
def test_step_op_chain_matches_reference(backend, reset):
    cfg = NeuronConfig(sg.ATan(), reset)
    params = make_params(True, 4, torch.float64)
    x, e0, i0, u0 = draw((5, 2, 4), cfg, params, torch.float64)
    x.requires_grad_(True)

    def chain(step):
        e, i, u, loss = e0, i0, u0, 0.0
        for t in range(5):
            spk, e, i, u = step(x[t], e, i, u)
            loss = loss + (spk * (t + 1)).sum() + (u * 0.5).sum() - e.sum() + 2 * i.sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, e, i, u: alpha_step_fused(xt, e, i, u, *params, cfg, backend))
    want = chain(lambda xt, e, i, u: alpha_step(xt, e, i, u, *params, cfg))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_stride_zero_input_over_time():
    """An input expanded over time is read once per step; its gradient is the time sum."""
    cfg = NeuronConfig(sg.ATan(), "subtract")
    params = make_params(True, 5, torch.float64)
    _, e0, i0, u0 = draw((1, 2, 5), cfg, params, torch.float64)
    cur = (torch.rand(2, 5, dtype=torch.float64) * 0.4).requires_grad_(True)

    def run_with(fn, x):
        spk, exc, _, mem = fn(x, e0, i0, u0, *params, cfg)
        return torch.autograd.grad((spk * 3).sum() + mem.sum() + exc.sum(), [cur])[0]

    def fused(*args):
        spk, seqs, _ = alpha_scan_fused(*args, "cpu")
        return spk, *seqs

    got = run_with(fused, cur.expand(6, 2, 5))
    want = run_with(alpha_scan, cur.expand(6, 2, 5).contiguous())
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("backend", ["auto", "reference", "cpu", "torch"])
@pytest.mark.parametrize("reset", RESETS)
def test_neuron_multi_step_equals_single_steps(backend, reset):
    torch.manual_seed(0)
    x = torch.rand(10, 3, 4)
    kw = {"alpha": 0.9, "beta": 0.7, "reset_mechanism": reset, "backend": backend}
    single = snn.Alpha(**kw)
    multi = snn.Alpha(**kw, step_mode="multi")
    states, outs = (None, None, None), []
    for xt in x:
        spk, *states = single(xt, *states)
        outs.append((spk, *states))
    got = multi(x)
    for k in range(4):
        torch.testing.assert_close(got[k], torch.stack([o[k] for o in outs]), rtol=0, atol=0)
    assert torch.equal(multi.mem, states[2]) and torch.equal(multi.syn_exc, states[0])


def test_neuron_learnable_parameters_train_through_the_kernel():
    torch.manual_seed(1)
    x = torch.rand(12, 4, 6)
    kw = {"alpha": torch.full((6,), 0.9), "beta": torch.full((6,), 0.6), "learn_alpha": True,
          "learn_beta": True, "learn_threshold": True, "step_mode": "multi"}  # fmt: skip
    grads = []
    for backend in ("reference", "cpu"):
        lif = snn.Alpha(**kw, backend=backend)
        spk, exc, inh, mem = lif(x)
        (spk.sum() + (mem**2).sum() + exc.mean() - inh.mean()).backward()
        grads.append([p.grad for p in (lif.alpha, lif.beta, lif.threshold)])
    for g, w in zip(*grads):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_named_backend_that_cannot_run_raises():
    x = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match="state_quant"):
        snn.Alpha(alpha=0.9, beta=0.8, step_mode="multi", backend="cpu",
                  state_quant=lambda t: t.round())(x)  # fmt: skip
    with pytest.raises(ValueError, match="float32/float64"):
        snn.Alpha(alpha=0.9, beta=0.8, step_mode="multi", backend="cpu").to(torch.bfloat16)(
            x.to(torch.bfloat16)
        )
    cfg = NeuronConfig(sg.ATan(), "zero", reset_delay=False)
    p = make_params(False, 4, torch.float32, learn=())
    with pytest.raises(ValueError, match="reset_delay"):
        alpha_scan_fused(x, x[0], x[0], x[0], *p, cfg, "torch")


def test_per_neuron_parameter_of_wrong_shape_raises():
    x = torch.rand(3, 2, 4)
    p = make_params(False, 4, torch.float32, learn=())
    with pytest.raises(ValueError, match="alpha of shape"):
        alpha_scan_fused(x, x[0], x[0], x[0], torch.full((3,), 0.9), *p[1:],
                         NeuronConfig(), "torch")  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_opcheck_alpha_fwd(backend):
    n = 5
    args = (
        torch.rand(4, n).requires_grad_(True), torch.rand(n).requires_grad_(True),
        -torch.rand(n), torch.rand(n), torch.tensor([0.9]).requires_grad_(True),
        torch.full((n,), 0.6), torch.tensor([1.9]), torch.tensor([1.0]).requires_grad_(True),
        torch.tensor([1.0]), 0, True, True, "atan", 2.0, 0.0, backend,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.alpha_fwd.default, args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_opcheck_alpha_bwd(backend):
    n = 5
    seq = [torch.rand(3, n) for _ in range(3)]
    args = (
        torch.randn(3, n), torch.randn(3, n), torch.randn(1, n), None, *seq, torch.rand(n),
        torch.rand(n), torch.rand(n), torch.tensor([0.9]), torch.tensor([0.6]),
        torch.tensor([1.9]), torch.tensor([1.0]), torch.tensor([1.0]), 3, 1, "sigmoid", 5.0,
        0.0, [True, True, True, True, True, True, True], backend,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.alpha_bwd.default, args)


@pytest.mark.compile
def test_compiled_multistep_alpha_equals_eager():
    from spikeforge.nn import SeqToANN

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        SeqToANN(torch.nn.Linear(8, 16)),
        snn.Alpha(alpha=0.9, beta=0.7, init_hidden=True, step_mode="multi", learn_beta=True),
        SeqToANN(torch.nn.Linear(16, 4)),
        snn.Alpha(alpha=0.8, beta=0.5, init_hidden=True, output=True, step_mode="multi"),
    )
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.backend = "cpu"
    x = torch.rand(6, 3, 8) * 2

    def run_net(model):
        for m in net.modules():
            if isinstance(m, snn.SpikingNeuron):
                m.reset_mem()
        spk, exc, _, mem = model(x)
        loss = spk.sum() + (mem**2).sum() + exc.sum()
        return spk, mem, torch.autograd.grad(loss, list(net.parameters()))

    eager = run_net(net)
    compiled = run_net(torch.compile(net, fullgraph=True, backend="aot_eager"))
    assert torch.equal(eager[0], compiled[0])
    torch.testing.assert_close(eager[1], compiled[1])
    for a, b in zip(eager[2], compiled[2]):
        torch.testing.assert_close(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("seed", range(4))
def test_parallel_path_and_longer_runs(backend, reset, seed):
    """Large enough for the multi-threaded numba kernels, several seeds."""

    shape = (6, 2, 6_000)
    assert worth_threads((shape[0], shape[1] * shape[2]))
    cfg = NeuronConfig(sg.ATan(), reset)
    check(backend, shape, cfg, False, torch.float32, seed=seed)
    check(backend, (40, 3, 7), cfg, True, torch.float64, seed=seed)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_cpu_parallel_path(reset):
    """Large enough for the multi-threaded numba kernels."""

    shape = (3, 2, 12_000)
    assert worth_threads((shape[0], shape[1] * shape[2]))
    check("cpu", shape, NeuronConfig(sg.ATan(), reset), False, torch.float32)


@settings(max_examples=30, deadline=None)
@given(
    reset=st.sampled_from(RESETS),
    steps=st.integers(1, 10),
    batch=st.integers(1, 3),
    features=st.integers(1, 9),
    alpha=st.floats(0.05, 1.0),
    gap=st.floats(0.01, 1.0),
    threshold=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    split=st.integers(0, 10),
)
def test_cpu_kernel_equals_reference_bitwise_and_chunks_compose(
    reset, steps, batch, features, alpha, gap, threshold, seed, split
):
    """Float64 in, the reference's operation order: bitwise equal, no threshold margin."""
    cfg = NeuronConfig(sg.ATan(), reset)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, features, generator=gen, dtype=torch.float64)
    states = [torch.randn(batch, features, generator=gen, dtype=torch.float64) for _ in range(3)]
    beta = max(0.0, alpha - gap)
    params = [torch.tensor(v, dtype=torch.float64) for v in (alpha, beta, threshold, 1.0)]
    spk, seqs, finals = alpha_scan_fused(x, *states, *params, cfg, "cpu")
    want = alpha_scan(x, *states, *params, cfg)
    assert torch.equal(spk, want[0])
    for got, ref in zip(seqs, want[1:]):
        assert torch.equal(got, ref)
    k = min(split, steps - 1)
    if k > 0:
        spk_a, _, mid = alpha_scan_fused(x[:k], *states, *params, cfg, "cpu", need_seqs=False)
        spk_b, _, end = alpha_scan_fused(x[k:], *mid, *params, cfg, "cpu", need_seqs=False)
        assert torch.equal(torch.cat([spk_a, spk_b]), spk)
        for got, ref in zip(end, finals):
            assert torch.equal(got, ref)


@pytest.mark.parametrize("multi", [True, False])
def test_eager_path_equals_registered_op(multi, monkeypatch):
    """Eager mode runs the kernels through a lean autograd.Function (ops.common.eager); the
    registered op (what torch.compile sees) gives identical numbers."""
    from spikeforge.ops.common import eager as _eager

    def run_once(force_op):
        monkeypatch.setattr(_eager, "FORCE_CUSTOM_OP", force_op)
        g = torch.Generator().manual_seed(6)
        x = (torch.rand(6, 3, 7, generator=g) * 1.4 - 0.2).requires_grad_(True)
        learn = {"learn_alpha": True, "learn_beta": True, "learn_threshold": True}
        lif = snn.Alpha(alpha=0.9, beta=0.6, reset_mechanism="subtract", backend="cpu", **learn)
        if multi:
            lif.step_mode = "multi"
            outs = lif(x)
        else:
            states, steps = (None, None, None), []
            for xt in x:
                spk, *states = lif(xt, *states)
                steps.append((spk, *states))
            outs = [torch.stack([s[k] for s in steps]) for k in range(4)]
        node = outs[0].grad_fn
        while "View" in type(node).__name__ or "Reshape" in type(node).__name__:
            node = node.next_functions[0][0]
        up = torch.randn(4, *outs[0].shape, generator=g)
        sum((o * u).sum() for o, u in zip(outs, up)).backward()
        grads = [x.grad, lif.alpha.grad, lif.beta.grad, lif.threshold.grad]
        return outs, grads, type(node).__name__

    eager, registered = run_once(False), run_once(True)
    if multi:
        assert "EagerAlpha" in eager[2] and "spikeforge_alpha_fwd" in registered[2]
    assert eager[0][0].sum() > 0
    for a, b in zip([*eager[0], *eager[1]], [*registered[0], *registered[1]]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
