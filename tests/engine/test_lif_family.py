"""Every member of the LIF family on every fused backend equals the same neuron run with
``backend="reference"`` in float64, through the public neuron classes: spikes exactly, the
returned and stored states closely, and the gradients of the input, of every initial state
and of every learnable parameter closely, under random upstream gradients on all outputs.

Members: Leaky, IAF, Synaptic, Lapicque, and the one-to-one RLeaky and RSynaptic. Each case is
one (member, backend, reset, reset_delay, step mode); the other axes rotate over the cases so
that each member and backend sees every value: the surrogate (every fused kind), shared or
per-neuron parameters, fixed or learnable ones, float32 or float64, initial states given,
broadcast from ``[F]`` or left to zero, an input sequence or one input held over time
(``cur.expand(T, ...)``), and the shape. Inputs are drawn so the float64 trajectory stays
``MARGIN`` away from the threshold, so float32 kernels must give the same spikes.

Step modes: ``loop`` (the snnTorch call ``lif(x_t, *states)`` T times), ``step`` (the
stateless ``lif.step(x_t, state)``) and ``multi`` (``step_mode="multi"``, one call).
Triton runs a rotated subset in Triton's CPU interpreter (a fresh process, since
``TRITON_INTERPRET=1`` must be set before Triton compiles anything).
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import spikeforge as snn
from spikeforge import surrogate as sg

from .cpu_configs import default_cpu_config, slow_unless_default

MODELS = ("leaky", "iaf", "synaptic", "lapicque", "rleaky", "rsynaptic")
SYN = {"synaptic", "rsynaptic"}  # a synaptic current state
REC = {"rleaky", "rsynaptic"}  # the one-to-one recurrence V·S
KEEP = {"leaky", "iaf"}  # the zero reset keeps this step's input
BACKENDS = ("cpu", "torch")
RESETS = ("subtract", "zero", "none")
MODES = ("loop", "step", "multi")
SURROGATES = (sg.ATan(alpha=3.5), sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5),
              sg.StraightThroughEstimator(), sg.Triangular(threshold=0.7), sg.Heaviside(),
              sg.SpikeRateEscape(beta=0.5, slope=3), sg.LeakySpikeOperator(slope=0.2),
              sg.SparseFastSigmoid(slope=4, B=0.1), sg.Disabled())  # fmt: skip
RANGES = {"alpha": (0.2, 0.8), "beta": (0.3, 0.95), "threshold": (0.6, 1.2),
          "graded": (0.5, 2.0), "V": (-0.6, 0.7)}  # fmt: skip
SHARED = {"alpha": 0.6, "beta": 0.8, "threshold": 0.9, "graded": 1.5, "V": 0.4}
SHAPES = ((6, 2, 5), (1, 3, 4), (4, 1, 7))
# Learnable parameters left out of the gradient (the others must still match).
FROZEN = ((), ("beta", "graded_spikes_factor"), ("threshold", "alpha", "R"), ("V", "time_step"))
MARGIN = 1e-3
TOL = {torch.float32: 2e-5, torch.float64: 1e-10}
F64 = torch.float64


# -- the neurons ---------------------------------------------------------------------------


def _value(name: str, per_neuron: bool, features: int) -> torch.Tensor:
    if per_neuron:
        return torch.linspace(*RANGES[name], features, dtype=F64)
    return torch.tensor(SHARED[name], dtype=F64)


def _lapicque(per_neuron: bool, learn: bool, features: int, common: dict) -> snn.Lapicque:
    """Four circuits: learnable R, C and Δt (per neuron); a learnable β with R given
    (decay 1 − ln(1/β) = −0.20); a fixed per-neuron β; fixed R and C (decay −0.25)."""
    if learn and per_neuron:
        R, C = torch.linspace(2.0, 8.0, features, dtype=F64), torch.linspace(0.8, 1.5, features)
        lif = snn.Lapicque(R=R, C=C.to(F64), time_step=1.0, **common)
        for name in ("R", "C", "time_step"):
            setattr(lif, name, nn.Parameter(getattr(lif, name).clone()))
        return lif
    if learn:
        return snn.Lapicque(beta=torch.tensor(0.3, dtype=F64), R=2.0, learn_beta=True, **common)
    if per_neuron:
        return snn.Lapicque(beta=torch.linspace(0.3, 0.9, features, dtype=F64), **common)
    return snn.Lapicque(R=torch.tensor(1.0, dtype=F64), C=0.8, time_step=1.0, **common)


def build(model: str, reset: str, delay: bool, spike, per_neuron: bool, learn: bool,
          features: int, **extra) -> nn.Module:  # fmt: skip
    """The neuron in float64; every parameter shared or per neuron, all fixed or learnable
    (a graded factor the constructor lacks is set as an attribute)."""

    def val(name):
        return _value(name, per_neuron, features)

    common = {"threshold": val("threshold"), "spike_grad": spike, "learn_threshold": learn,
              "reset_mechanism": reset, **extra}  # fmt: skip
    graded = {"graded_spikes_factor": val("graded"), "learn_graded_spikes_factor": learn}
    kw = {"reset_delay": delay, **common}
    if model == "leaky":
        lif = snn.Leaky(beta=val("beta"), learn_beta=learn, **graded, **kw)
    elif model == "iaf":
        lif = snn.IAF(**graded, **kw)
    elif model == "synaptic":
        lif = snn.Synaptic(alpha=val("alpha"), beta=val("beta"), learn_alpha=learn,
                           learn_beta=learn, **kw)  # fmt: skip
    elif model == "rleaky":
        lif = snn.RLeaky(beta=val("beta"), V=val("V"), all_to_all=False, learn_beta=learn,
                         learn_recurrent=learn, **kw)  # fmt: skip
    elif model == "rsynaptic":
        rates = {"alpha": val("alpha"), "beta": val("beta"), "V": val("V")}
        lif = snn.RSynaptic(**rates, all_to_all=False, learn_alpha=learn, learn_beta=learn,
                            learn_recurrent=learn, **kw)  # fmt: skip
    else:
        lif = _lapicque(per_neuron, learn, features, common)
        lif.reset_delay = delay
    if model not in KEEP:
        g = val("graded")
        lif.graded_spikes_factor = nn.Parameter(g) if learn else g
    return lif.double()


# -- inputs kept away from the threshold -------------------------------------------------


def kernel_view(model: str, lif) -> dict:
    """The recurrence's float64 coefficients: ``a, b, v, th, g`` and the input gain (Lapicque
    runs ``X·R·(1/τ)·Δt`` with decay ``1 − Δt/τ``, ``τ = RC``)."""
    d = {k: torch.tensor(0.0, dtype=F64) for k in ("a", "v")}
    d["th"] = lif.threshold.detach().double()
    d["g"] = lif.graded_spikes_factor.detach().double()
    if model == "lapicque":
        R, C = (p.detach().double() for p in lif.circuit())
        dt = lif.time_step.detach().double()
        tau = R * C
        d["b"], d["gain"] = 1 - dt / tau, R * (1 / tau) * dt
        return d
    d["b"], d["gain"] = lif.beta.detach().double().clamp(0, 1), torch.tensor(1.0, dtype=F64)
    if model in SYN:
        d["a"] = lif.alpha.detach().double().clamp(0, 1)
    if model in REC:
        d["v"] = lif.V.detach().double()
    return d


def trajectory(model: str, reset: str, delay: bool, x, i0, u0, s0, k: dict):
    """``(V_t, U_t)``: the membrane before and after the immediate reset, by the family's
    equations in float64 (only to keep the drawn inputs clear of θ)."""
    cur, u, s, vs, us = i0, u0, s0, [], []
    th = k["th"]
    for xt in x * k["gain"]:
        r = (u > th).double()
        kept = u * (1 - r) if model in KEEP and reset == "zero" else u
        if model in SYN:
            cur = k["a"] * cur + xt + k["v"] * s
            w = k["b"] * kept + cur
        else:
            w = k["b"] * kept + xt + k["v"] * s
        if reset == "subtract":
            w = w - r * th
        elif reset == "zero" and model not in KEEP:
            w = w * (1 - r)
        h = (w > th).double()
        s = h * k["g"]
        if not delay and reset != "none":
            w_reset = w - (h - r) * (th if reset == "subtract" else w)
        else:
            w_reset = w
        u = w_reset
        vs.append(w)
        us.append(u)
    return torch.stack(vs), torch.stack(us)


def draw(model, reset, delay, lif, shape, state_kind, const_input, seed):
    """``(x [T, B, F] or [B, F] if held over time, initial states)`` in float64 whose
    trajectory keeps ``V_t`` and ``U_t`` ``MARGIN`` away from θ (the earliest close step of a
    neuron gets its input raised by 4·MARGIN, repeatedly)."""
    T, B, F = shape
    gen = torch.Generator().manual_seed(seed)
    k = kernel_view(model, lif)
    state_shape = (F,) if state_kind == "broadcast" else (B, F)

    def rand(*s, lo=0.0, hi=1.0):
        return torch.rand(s, generator=gen, dtype=F64) * (hi - lo) + lo

    lo, hi = -0.3 / k["gain"].mean().item(), 1.3 / k["gain"].mean().item()
    x = rand(*((B, F) if const_input else shape), lo=lo, hi=hi)
    states = {"mem": rand(*state_shape, hi=0.8), "syn": rand(*state_shape, hi=0.5)}
    states["spk"] = (rand(*state_shape) > 0.5).double() * k["g"].expand(F)
    states["mem"] = torch.where((states["mem"] - k["th"]).abs() < MARGIN, states["mem"] - 0.1,
                                states["mem"])  # fmt: skip
    if state_kind == "none":
        states = {n: torch.zeros(state_shape, dtype=F64) for n in states}
    full = {n: v.expand(B, F) for n, v in states.items()}
    for _ in range(500):
        xs = x.expand(T, B, F)
        v, u = trajectory(model, reset, delay, xs, full["syn"], full["mem"], full["spk"], k)
        close = torch.minimum((v - k["th"]).abs(), (u - k["th"]).abs()) < MARGIN
        if not close.any():
            names = lif.state_names
            return x, (None,) * len(names) if state_kind == "none" else [states[n] for n in names]
        step = 4 * MARGIN / k["gain"]
        if const_input:
            x = torch.where(close.any(0), x + step, x)
        else:
            x = torch.where(close.cumsum(0).cumsum(0) == 1, x + step, x)
    raise RuntimeError("could not keep the membrane away from the threshold")


# -- running a neuron ------------------------------------------------------------------------


def run(lif, mode: str, x, states0, T: int, cot):
    """``(spk [T, ...], state sequences, final states, gradients)``: the neuron from the given
    initial states (None: zero), and the gradients of ``Σ <output, cotangent>`` (``cot`` None:
    of ``Σ output``, whose gradient reaches the kernel as a stride-0 tensor) with respect to
    the input, the initial states and every parameter that requires grad (zero if unused)."""
    n = len(lif.state_names)
    xs = x.expand(T, *x.shape[-2:])
    if mode == "multi":
        lif.step_mode = "multi"
        outs = lif(xs, *states0)
        spk, seqs = outs[0], outs[-n:]
        finals = [getattr(lif, name) for name in lif.state_names]
    else:
        state, spikes, steps = states0, [], []
        for t in range(T):
            if mode == "step":
                spk, state = lif.step(xs[t], None if state[0] is None else tuple(state))
            else:
                outs = lif(xs[t], *state)
                spk, state = outs[0], outs[-n:]
            spikes.append(spk)
            steps.append(state)
        spk = torch.stack(spikes)
        seqs = [torch.stack([s[i] for s in steps]) for i in range(n)]
        finals = list(state) if mode == "step" else [getattr(lif, m) for m in lif.state_names]
    outs = (spk, *seqs)
    if cot is None:
        loss = sum(o.sum() for o in outs)
    else:
        loss = sum((o * c.to(o.device)).sum() for o, c in zip(outs, cot))
    labels = ["input", *(f"{m}0" for m, s in zip(lif.state_names, states0) if s is not None)]
    leaves = [x, *(s for s in states0 if s is not None)]
    params = [(name, p) for name, p in lif.named_parameters() if p.requires_grad]
    labels += [name for name, _ in params]
    leaves += [p for _, p in params]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
    return spk, seqs, finals, dict(zip(labels, grads))


def check(model, backend, reset, delay, mode, spike, per_neuron, learn, dtype, state_kind,
          const_input, shape, seed=0, frozen=(), sum_loss=False, device="cpu",
          **extra):  # fmt: skip
    """One case: the neuron on ``backend`` in ``dtype`` on ``device`` against its float64
    reference run on the CPU. ``frozen``: learnable parameters set not to require grad."""
    T, _, F = shape
    base = build(model, reset, delay, spike, per_neuron, learn, F, **extra)
    for name in frozen:
        if isinstance(getattr(base, name, None), nn.Parameter):
            getattr(base, name).requires_grad_(False)
    x64, states64 = draw(model, reset, delay, base, shape, state_kind, const_input, seed)
    lif = copy.deepcopy(base).to(dtype)
    ref = copy.deepcopy(lif).double()  # the same (rounded) parameter values
    lif.backend, ref.backend = backend, "reference"
    lif.to(device)
    gen = torch.Generator().manual_seed(seed + 1)
    cot = None if sum_loss else [torch.randn(shape, generator=gen, dtype=F64) for _ in range(4)]

    def leaves(dt, dev):
        x = x64.to(dev, dt).requires_grad_(True)
        states = [None if s is None else s.to(dev, dt).requires_grad_(True) for s in states64]
        return x, states

    got = run(lif, mode, *leaves(dtype, device), T, cot and [c.to(dtype) for c in cot])
    want = run(ref, mode, *leaves(F64, "cpu"), T, cot)
    assert got[0].dtype == dtype
    assert torch.equal(got[0].cpu().double(), want[0]), "spikes differ"
    assert want[0].count_nonzero() > 0 or T == 1 or model == "lapicque"  # the draw spikes
    tol = TOL[dtype]
    states = [*(f"{n} seq" for n in lif.state_names), *(f"final {n}" for n in lif.state_names)]
    for name, g, w in zip(states, [*got[1], *got[2]], [*want[1], *want[2]]):
        scale = max(1.0, w.abs().max().item())
        assert g.dtype == dtype, name
        torch.testing.assert_close(g.cpu().double(), w, rtol=tol, atol=tol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip
    assert got[3].keys() == want[3].keys()
    # The reference's own rounding grows with the largest gradient (its ∂g goes through
    # S/g − R, whose two terms cancel), so every gradient is held to that scale.
    scale = max(1.0, *(w.abs().max().item() for w in want[3].values()))
    # Triton takes the surrogate's constants as float32 scalars, also in a float64 kernel
    # (Triangular's 0.7 and the leaky operator's 0.2 then differ by ~1e-8 relative).
    gtol = 1e-5 if backend == "triton" and dtype == F64 else 50 * tol
    for name, w in want[3].items():
        torch.testing.assert_close(got[3][name].cpu().double(), w, rtol=gtol, atol=gtol * scale,
                                   msg=lambda m, n=name: f"∂{n}: {m}")  # fmt: skip


# -- the cases -----------------------------------------------------------------------------


def rotated(m: int, b: int, k: int) -> dict:
    """The rotating axes of case ``k`` of member ``m`` on backend ``b`` (18 cases per pair:
    every surrogate and every per-neuron × learnable × dtype combination appears)."""
    v = (7 * k + m) % 8
    return {
        "spike": SURROGATES[(k + 3 * m + b) % len(SURROGATES)],
        "per_neuron": bool(v & 1),
        "learn": bool(v & 2),
        "dtype": (torch.float32, F64)[v >> 2],
        "state_kind": ("given", "broadcast", "none")[(k // 3 + m) % 3],
        "const_input": (k // 2 + m + b) % 4 == 0,
        "shape": SHAPES[max(0, (5 * k + m) % 6 - 3)],
        "frozen": FROZEN[(k // 2 + b) % len(FROZEN)] if v & 2 else (),
        "sum_loss": (k + 2 * m + b) % 5 == 0,
    }


def _id(case: dict) -> str:
    flags = [type(case["spike"]).__name__, "per-neuron" if case["per_neuron"] else "shared",
             "learn" if case["learn"] else "fixed", str(case["dtype"])[6:], case["state_kind"],
             "const" if case["const_input"] else "seq",
             "x".join(map(str, case["shape"]))]  # fmt: skip
    if case["frozen"]:
        flags.append("frozen-" + "+".join(case["frozen"]))
    if case["sum_loss"]:
        flags.append("sum")
    return "-".join(flags)


def cases(backends=BACKENDS):
    out = []
    for (m, model), (b, backend) in itertools.product(enumerate(MODELS), enumerate(backends)):
        grid = itertools.product(RESETS, (True, False), MODES)
        for k, (reset, delay, mode) in enumerate(grid):
            case = {"model": model, "backend": backend, "reset": reset, "delay": delay,
                    "mode": mode, **rotated(m, b, k)}  # fmt: skip
            name = f"{model}-{backend}-{reset}-{'delay' if delay else 'now'}-{mode}-{_id(case)}"
            marks = slow_unless_default(model, reset, delay) if backend == "cpu" else ()
            out.append(pytest.param(case, id=name, marks=marks))
    return out


@pytest.mark.parametrize("case", cases())
def test_backend_equals_reference(case):
    check(**case)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
def test_fixed_shared_parameters_one_step_at_a_time(model, backend, reset):
    """Shared fixed parameters in the snnTorch loop: the case of the CPU kernel's single-step
    fast path (Leaky, IAF), immediate reset and a float32 layer."""
    if backend == "cpu" and not default_cpu_config(model, reset, False):
        pytest.skip("this numba configuration compiles in the slow suite (cpu_configs.py)")
    check(model, backend, reset, False, "loop", sg.ATan(), False, False, torch.float32,
          "given", False, (5, 3, 6))  # fmt: skip


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["loop", "multi"])
def test_init_hidden_keeps_the_state_across_calls(model, backend, mode):
    """``init_hidden=True, output=True``: two calls continue one trajectory from the stored
    state; outputs, stored states and gradients (input, parameters) equal the reference's."""
    shape = (6, 2, 5)
    lif = build(model, "subtract", True, sg.FastSigmoid(), True, True, 5,
                init_hidden=True, output=True)  # fmt: skip
    x64, _ = draw(model, "subtract", True, lif, shape, "none", False, seed=4)
    lif.backend = backend
    lif, x32 = lif.float(), x64.float()
    ref = copy.deepcopy(lif).double()
    ref.backend = "reference"

    def two_calls(neuron, x):
        x = x.clone().requires_grad_(True)
        halves = []
        for part in (x[:3], x[3:]):
            if mode == "multi":
                neuron.step_mode = "multi"
                halves.append(neuron(part))
            else:
                steps = [neuron(xt) for xt in part]
                halves.append([torch.stack(o) for o in zip(*steps)])
        outs = [torch.cat(o) for o in zip(*halves)]
        finals = [getattr(neuron, n) for n in neuron.state_names]
        loss = sum((o * (i + 1)).sum() for i, o in enumerate(outs)) + finals[-1].square().sum()
        params = [p for _, p in neuron.named_parameters()]
        return [*outs, *finals, *torch.autograd.grad(loss, [x, *params], allow_unused=True)]

    got, want = two_calls(lif, x32), two_calls(ref, x64)
    assert torch.equal(got[0].double(), want[0])
    for g, w in zip(got[1:], want[1:]):
        if w is None:
            assert g is None
            continue
        scale = max(1.0, w.abs().max().item())
        torch.testing.assert_close(g.double(), w, rtol=1e-3, atol=1e-3 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spike", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("seed", range(2))
def test_longer_runs_every_surrogate(model, backend, spike, seed):
    """Longer sequences, wider layers (the multi-threaded numba path), every reset."""
    for (reset, delay), dtype in itertools.product(
        itertools.product(RESETS, (True, False)), (torch.float32, F64)
    ):
        # float32: wide enough for the multi-threaded numba path (T·N ≥ 2¹⁶), short enough
        # that gradients through T steps of 1 − θσ' stay well conditioned in float32
        shape = (8, 3, 3000) if dtype == torch.float32 else (30, 2, 40)
        check(model, backend, reset, delay, "multi", spike, True, True, dtype, "given",
              False, shape, seed=seed)  # fmt: skip


@pytest.mark.gpu
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_on_the_gpu(model, backend):
    """CUDA tensors (the reference runs on the CPU): every reset, both delays, the sequence
    and the step loop, float32 and float64."""
    for j, (reset, delay) in enumerate(itertools.product(RESETS, (True, False))):
        mode, dtype = ("multi", "loop")[j % 2], (torch.float32, F64)[j // 3]
        shape = (20, 4, 300) if mode == "multi" else (4, 2, 50)
        check(model, backend, reset, delay, mode, SURROGATES[j], True, True, dtype, "given",
              False, shape, seed=j, device="cuda")  # fmt: skip


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    backend=st.sampled_from(BACKENDS),
    reset=st.sampled_from(RESETS),
    delay=st.booleans(),
    steps=st.integers(1, 10),
    batch=st.integers(1, 3),
    features=st.integers(1, 6),
    coefs=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(-1.0, 1.0)),
    threshold=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    split=st.integers(0, 10),
)
def test_float64_kernels_follow_the_reference_and_chunks_compose(
    model, backend, reset, delay, steps, batch, features, coefs, threshold, seed, split
):
    """Float64, any shared parameters, inputs not kept clear of θ: the members without a
    recurrence run the reference's operations in its order (bitwise equal), the recurrent
    ones agree closely with the same spikes; splitting T in two, with the first chunk's
    final state fed back in, continues the sequence exactly."""
    alpha, beta, v = (torch.tensor(c, dtype=F64) for c in coefs)
    kw = {"threshold": torch.tensor(threshold, dtype=F64), "reset_mechanism": reset}
    if model == "lapicque":
        lif = snn.Lapicque(R=1.0 + 4 * coefs[0], C=0.2 + coefs[1], time_step=0.5, **kw)
        lif.reset_delay = delay
    else:
        lif = build(model, reset, delay, sg.ATan(), False, False, features)
        chosen = {"alpha": alpha, "beta": beta, "V": v}
        names = ["alpha"] * (model in SYN) + ["beta"] * (model != "iaf") + ["V"] * (model in REC)
        for name in names:
            setattr(lif, name, chosen[name])
        lif.threshold = kw["threshold"]
    lif.step_mode = "multi"
    ref = copy.deepcopy(lif)
    lif.backend, ref.backend = backend, "reference"
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, features, generator=gen, dtype=F64)
    states = [torch.rand(batch, features, generator=gen, dtype=F64) for _ in lif.state_names]
    got, want = lif(x, *states), ref(x, *states)
    assert torch.equal(got[0], want[0])
    for g, w in zip(got, want):
        if model in REC:
            torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
        else:
            assert torch.equal(g, w)
    k = min(split, steps - 1)
    if k > 0:
        first = lif(x[:k], *states)
        mid = [getattr(lif, n) for n in lif.state_names]
        second = lif(x[k:], *mid)
        for g, a, b in zip(got, first, second):
            assert torch.equal(torch.cat([a, b]), g)


# -- Triton, in the interpreter ------------------------------------------------------------

TRITON_SCRIPT = r"""
from engine.test_lif_family import BACKENDS, cases, check
every = [p.values[0] for p in cases((*BACKENDS, "triton"))]  # rotated as a third backend
chosen = [case for case in every if case["backend"] == "triton"]
for case in chosen:
    check(**case)
print("ok", len(chosen))
"""


def _run_triton() -> str:
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests_dir.parent / "src"), str(tests_dir), env.get("PYTHONPATH", "")]
    )
    out = subprocess.run([sys.executable, "-c", TRITON_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.strip()


@pytest.mark.triton
@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")
def test_triton_in_the_interpreter():
    """The 108 cases of ``test_backend_equals_reference`` on Triton, interpreted."""
    assert _run_triton().endswith("ok 108")
