"""Fused Lapicque (the Leaky/Synaptic ops with transformed input and decay) equals the float64
reference: spikes exactly, the membrane and every gradient (input, initial membrane, R, C,
time step, threshold, graded) closely, with random upstream gradients on both outputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.lapicque.op import lapicque_scan_fused, lapicque_step_fused
from spikeforge.ops.lapicque.reference import lapicque_scan, lapicque_step

BACKENDS = ["cpu", "torch"]
RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False), ("zero", False)]
NAMES = ["x", "mem0", "R", "C", "time_step", "threshold", "graded"]
TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def make_params(circuit: str, features: int, dtype, learn: bool):
    """(R, C, time_step, threshold, graded). ``rc``: decay 1 − Δt/(RC) in (0.5, 0.9);
    ``per-neuron``: the same per neuron; ``negative``: Δt > RC, decay −0.25 (which a
    clamp to [0, 1] would break)."""
    if circuit == "per-neuron":
        values = [torch.linspace(lo, hi, features, dtype=dtype)
                  for lo, hi in ((2.0, 8.0), (0.8e-3, 1.5e-3), (1e-3, 1e-3), (0.6, 1.2),
                                 (0.5, 2.0))]  # fmt: skip
        values[2] = values[2][0]
    else:
        numbers = (5.0, 1e-3, 1e-3, 0.9, 1.5) if circuit == "rc" else (1.0, 0.8, 1.0, 0.9, 1.5)
        values = [torch.tensor(v, dtype=dtype) for v in numbers]
    return [p.requires_grad_(learn) for p in values]


def pre_and_post(x, mem0, params, cfg):
    """Float64 reference ``(V_t, U_t)``: the membrane before and after the immediate reset."""
    p64 = [p.detach().double() for p in params]
    R, C, dt, th = p64[:4]
    with torch.no_grad():
        _, mem = lapicque_scan(x.double(), mem0.double(), *p64, cfg)
    prev = torch.cat([mem0.double().unsqueeze(0), mem[:-1]])
    fired = (prev > th).double()
    tau = R * C
    upd = x.double() * R * (1 / tau) * dt + (1 - dt / tau) * prev
    if cfg.reset == "subtract":
        return upd - fired * th, mem
    if cfg.reset == "zero":
        return (1 - fired) * upd, mem
    return upd, mem


def draw(shape, cfg, params, dtype, margin=1e-3, seed=0):
    """Inputs whose float64 reference run keeps ``V_t`` and ``U_t`` ``margin`` away from θ
    (a close step gets its input nudged; the input gain is ``Δt/C``)."""
    gen = torch.Generator().manual_seed(seed)
    C, dt, th = (p.detach().double() for p in params[1:4])
    gain = dt / C
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.6 - 0.3) / gain
    mem0 = torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 1.2
    mem0 = torch.where((mem0 - th).abs() < margin, mem0 - 4 * margin, mem0).to(dtype)
    x = x.to(dtype)
    for _ in range(500):
        v, u = pre_and_post(x, mem0, params, cfg)
        close = torch.minimum((v - th).abs(), (u - th).abs()) < margin
        if not close.any():
            return x, mem0
        first = close.cumsum(0).cumsum(0) == 1
        x = torch.where(first, x + (4 * margin / gain).to(dtype), x)
    raise RuntimeError("could not keep the membrane away from the threshold")


def run(fn, leaves, params, cfg, cot):
    spk, mem = fn(*leaves, *params, cfg)
    loss = (spk * cot[0]).sum() + (mem * cot[1]).sum()
    wrt = [t for t in [*leaves, *params] if t.requires_grad]
    grads = iter(torch.autograd.grad(loss, wrt, allow_unused=True))
    full = []
    for t in [*leaves, *params]:
        g = next(grads) if t.requires_grad else None
        full.append(torch.zeros_like(t) if g is None else g)
    return (spk, mem), full


def check(backend, shape, cfg, circuit, dtype, learn=True, seed=0):
    params = make_params(circuit, shape[-1], dtype, learn)
    x, mem0 = draw(shape, cfg, params, dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2)]

    def fused(*args):
        spk, mem, final = lapicque_scan_fused(*args, backend)
        assert torch.equal(final, mem[-1])
        return spk, mem

    def leaves(dt):
        return [t.detach().to(dt).requires_grad_(True) for t in (x, mem0)]

    got_out, got_g = run(fused, leaves(dtype), params, cfg, [c.to(dtype) for c in cot])
    p64 = [p.detach().double().requires_grad_(p.requires_grad) for p in params]
    want_out, want_g = run(lapicque_scan, leaves(torch.float64), p64, cfg, cot)
    assert torch.equal(got_out[0].double(), want_out[0]), "spikes differ"
    tol = TOL[dtype]
    scale = max(1.0, want_out[1].abs().max().item())
    torch.testing.assert_close(got_out[1].double(), want_out[1], rtol=tol, atol=tol * scale)
    for name, g, w in zip(NAMES, got_g, want_g):
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=50 * tol, atol=50 * tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip
    return want_out[0]


CASES = [((1, 1, 3), "rc"), ((9, 2, 5), "per-neuron"), ((7, 2, 5), "negative"),
         ((3, 1, 1030), "rc")]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize(("shape", "circuit"), CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_matches_reference(backend, reset, delay, dtype, learn, shape, circuit):
    check(backend, shape, NeuronConfig(sg.ATan(), reset, delay), circuit, dtype, learn)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "spike_fn",
    [sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5), sg.Triangular(0.7), sg.Heaviside(),
     sg.SpikeRateEscape(0.5, 3), sg.LeakySpikeOperator(0.2), sg.SparseFastSigmoid(4, 0.1),
     sg.StraightThroughEstimator(), sg.Disabled()],
    ids=repr,
)  # fmt: skip
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_surrogates(backend, spike_fn, reset):
    check(backend, (6, 2, 5), NeuronConfig(spike_fn, reset), "per-neuron", torch.float32)


def test_draw_gives_both_spikes_and_silence():
    for reset, delay in RESETS:
        cfg = NeuronConfig(sg.ATan(), reset, delay)
        for circuit in ("per-neuron", "negative"):
            spk = check("torch", (9, 2, 5), cfg, circuit, torch.float64)
            assert 0.1 < (spk > 0).double().mean().item() < 0.9, (reset, delay, circuit)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_step_op_chain_matches_reference(backend, reset):
    cfg = NeuronConfig(sg.ATan(), reset, False)
    params = make_params("per-neuron", 4, torch.float64, True)
    x, mem0 = draw((5, 2, 4), cfg, params, torch.float64)
    x.requires_grad_(True)

    def chain(step):
        mem, loss = mem0, 0.0
        for t in range(5):
            spk, mem = step(x[t], mem)
            loss = loss + (spk * (t + 1)).sum() + (mem * 0.5).sum()
        return torch.autograd.grad(loss, [x, *params])

    got = chain(lambda xt, m: lapicque_step_fused(xt, m, *params, cfg, backend))
    want = chain(lambda xt, m: lapicque_step(xt, m, *params, cfg))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("backend", ["auto", "reference", "cpu", "torch"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_neuron_multi_step_equals_single_steps(backend, reset):
    torch.manual_seed(0)
    x = torch.rand(10, 3, 4) * 1.5
    kw = {"beta": 0.3, "reset_mechanism": reset, "backend": backend}  # decay 1 − ln(1/.3) < 0
    single = snn.Lapicque(**kw)
    multi = snn.Lapicque(**kw, step_mode="multi")
    mem, spikes, mems = None, [], []
    for xt in x:
        spk, mem = single(xt, mem)
        spikes.append(spk)
        mems.append(mem)
    spk_m, mem_m = multi(x)
    assert torch.equal(torch.stack(spikes), spk_m) and spk_m.any()
    torch.testing.assert_close(torch.stack(mems), mem_m, rtol=0, atol=0)
    assert torch.equal(multi.mem, mem)


@pytest.mark.parametrize("given", ["beta", "beta_R", "beta_C"])
def test_learnable_beta_trains_through_the_kernel(given):
    """``learn_beta`` re-derives R or C from beta each call; its gradient crosses the op."""
    torch.manual_seed(2)
    x = torch.rand(12, 4, 6) * 0.8
    kw = {"beta": torch.linspace(0.3, 0.9, 6), "learn_beta": True, "learn_threshold": True,
          "step_mode": "multi", "time_step": 1e-3}  # fmt: skip
    kw |= {"beta_R": {"R": 2.0}, "beta_C": {"C": 1e-3}}.get(given, {})
    grads = []
    for backend in ("reference", "cpu"):
        lif = snn.Lapicque(**kw, backend=backend)
        spk, mem = lif(x)
        (spk.sum() + (mem**2).sum()).backward()
        grads.append([lif.beta.grad, lif.threshold.grad])
    for g, w in zip(*grads):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_named_backend_that_cannot_run_raises():
    x = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match="state_quant"):
        snn.Lapicque(beta=0.9, step_mode="multi", backend="cpu",
                     state_quant=lambda t: t.round())(x)  # fmt: skip
    with pytest.raises(ValueError, match="Triton runs CUDA"):
        snn.Lapicque(beta=0.9, step_mode="multi", backend="triton")(x)


def test_wider_circuit_dtype_falls_back_or_raises():
    """A float64 C (and the R derived from it) with float32 beta and input: auto runs the
    reference (whose state widens), a named kernel refuses."""
    lif = snn.Lapicque(beta=0.9, C=torch.tensor(1e-3, dtype=torch.float64), step_mode="multi")
    x = torch.rand(4, 2, 3)
    assert lif.select_backend(x, lif.config()) == "reference"
    lif.backend = "cpu"
    with pytest.raises(ValueError, match=r"R has dtype torch\.float64, wider than the input"):
        lif(x)


def test_mis_shaped_circuit_raises():
    x = torch.rand(3, 2, 4)
    p = make_params("rc", 4, torch.float32, False)
    with pytest.raises(ValueError, match="R of shape"):
        lapicque_scan_fused(x, x[0], torch.full((2, 1, 4), 5.0), *p[1:], NeuronConfig(), "cpu")
    with pytest.raises(ValueError, match="threshold of shape"):
        lapicque_scan_fused(x, x[0], *p[:3], torch.ones(3), p[4], NeuronConfig(), "cpu")


@pytest.mark.slow  # 10 s; the default run checks the registered ops via the eager-path test
@pytest.mark.compile
def test_compiled_multistep_lapicque_equals_eager():
    from spikeforge.nn import SeqToANN

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        SeqToANN(torch.nn.Linear(8, 16)),
        snn.Lapicque(beta=0.5, init_hidden=True, step_mode="multi", learn_beta=True),
        SeqToANN(torch.nn.Linear(16, 4)),
        snn.Lapicque(
            beta=0.8, init_hidden=True, output=True, step_mode="multi", reset_mechanism="zero"
        ),
    )
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.backend = "cpu"
    x = torch.rand(6, 3, 8) * 2

    def run_net(model):
        for m in net.modules():
            if isinstance(m, snn.SpikingNeuron):
                m.reset_mem()
        spk, mem = model(x)
        loss = spk.sum() + (mem**2).sum()
        return spk, mem, torch.autograd.grad(loss, list(net.parameters()))

    eager = run_net(net)
    compiled = run_net(torch.compile(net, fullgraph=True, backend="aot_eager"))
    assert torch.equal(eager[0], compiled[0])
    torch.testing.assert_close(eager[1], compiled[1])
    for a, b in zip(eager[2], compiled[2]):
        torch.testing.assert_close(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("seed", range(3))
def test_parallel_path_and_longer_runs(backend, reset, delay, seed):
    cfg = NeuronConfig(sg.ATan(), reset, delay)
    check(backend, (4, 2, 12_000), cfg, "rc", torch.float32, seed=seed)
    check(backend, (40, 3, 7), cfg, "negative", torch.float64, seed=seed)


@settings(max_examples=30, deadline=None)
@given(
    reset=st.sampled_from(RESETS),
    steps=st.integers(1, 10),
    batch=st.integers(1, 3),
    features=st.integers(1, 9),
    R=st.floats(0.1, 5.0),
    C=st.floats(0.1, 5.0),
    time_step=st.floats(0.05, 2.0),
    threshold=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    split=st.integers(0, 10),
)
def test_cpu_kernel_equals_reference_bitwise_and_chunks_compose(
    reset, steps, batch, features, R, C, time_step, threshold, seed, split
):
    """Float64 in, the reference's operation order (decay of either sign): bitwise equal."""
    cfg = NeuronConfig(sg.ATan(), *reset)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, features, generator=gen, dtype=torch.float64)
    mem0 = torch.rand(batch, features, generator=gen, dtype=torch.float64)
    params = [torch.tensor(v, dtype=torch.float64) for v in (R, C, time_step, threshold, 1.0)]
    spk, mem_seq, final = lapicque_scan_fused(x, mem0, *params, cfg, "cpu")
    spk_r, mem_r = lapicque_scan(x, mem0, *params, cfg)
    assert torch.equal(spk, spk_r)
    assert torch.equal(mem_seq, mem_r)
    k = min(split, steps - 1)
    if k > 0:
        spk_a, _, mid = lapicque_scan_fused(x[:k], mem0, *params, cfg, "cpu", need_mem_seq=False)
        spk_b, _, end = lapicque_scan_fused(x[k:], mid, *params, cfg, "cpu", need_mem_seq=False)
        assert torch.equal(torch.cat([spk_a, spk_b]), spk)
        assert torch.equal(end, final)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_eager_path_equals_registered_op(reset, monkeypatch):
    """The lean eager path of the Leaky/Synaptic ops and their registered ops (what
    torch.compile sees) give identical numbers for Lapicque."""
    from spikeforge.ops.common import eager as _eager

    def run_once(force_op):
        monkeypatch.setattr(_eager, "FORCE_CUSTOM_OP", force_op)
        g = torch.Generator().manual_seed(7)
        x = (torch.rand(6, 3, 7, generator=g) * 1.5).requires_grad_(True)
        lif = snn.Lapicque(beta=0.4, learn_beta=True, learn_threshold=True, reset_mechanism=reset,
                           step_mode="multi", backend="cpu")  # fmt: skip
        spk, mem = lif(x)
        up = torch.randn(2, *spk.shape, generator=g)
        ((spk * up[0]).sum() + (mem * up[1]).sum()).backward()
        return [spk, mem, x.grad, lif.beta.grad, lif.threshold.grad]

    eager, registered = run_once(False), run_once(True)
    assert eager[0].sum() > 0
    for a, b in zip(eager, registered):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
