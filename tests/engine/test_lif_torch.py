"""The torch kernel of the LIF family (``ops.lif.fallback``) called directly, against the
float64 references of each member under autograd: spikes equal, states and every gradient
close, over model × reset × reset_delay × store, shared and per-neuron parameters, an input
given every step or once, spike gradients of 0, 1 or T rows, and gradients not asked for.

Members: Leaky = ``KEEP``, Lapicque's = ``0`` (the Synaptic reference with α = 0 and
I₀ = 0), Synaptic = ``SYN``, RLeaky = ``REC`` (``rec = S ↦ S·v``), RSynaptic = ``SYN|REC``.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.lif import fallback
from spikeforge.ops.lif.flags import KEEP, REC, SYN
from spikeforge.ops.lif.reference import leaky_scan, rleaky_scan, rsynaptic_scan, synaptic_scan

MODELS = {"leaky": KEEP, "lapicque": 0, "synaptic": SYN, "rleaky": REC, "rsynaptic": SYN | REC}
RESETS = {"subtract": 0, "zero": 1, "none": 2}
SURROGATES = [sg.ATan(alpha=3.5), sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5),
              sg.StraightThroughEstimator(), sg.Triangular(threshold=0.7), sg.Heaviside(),
              sg.SpikeRateEscape(beta=0.5, slope=3), sg.LeakySpikeOperator(slope=0.2),
              sg.SparseFastSigmoid(slope=4, B=0.1), sg.Disabled()]  # fmt: skip
PARAMS = ("alpha", "beta", "vrec", "thr", "graded")
RANGES = {"alpha": (0.2, 0.8), "beta": (0.3, 0.95), "vrec": (-0.6, 0.7), "thr": (0.6, 1.2),
          "graded": (0.5, 2.0)}  # fmt: skip


def make_case(model: int, tx: int, n: int, per_neuron: bool, dtype, seed: int) -> dict:
    """Kernel arguments (float64 leaves, later cast to ``dtype``): ``x [tx, n]``, the initial
    states (``[0]`` where the model has none) and the parameters (``[1]`` or ``[n]``)."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, lo=0.0, hi=1.0):
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).to(dtype)

    case = {"x": rand(tx, n, lo=-0.3, hi=1.3), "u0": rand(n, hi=0.8)}
    case["i0"] = rand(n, hi=0.5) if model & SYN else torch.zeros(0, dtype=dtype)
    case["s0"] = (rand(n) > 0.5).to(dtype) * 1.5 if model & REC else torch.zeros(0, dtype=dtype)
    for name, (lo, hi) in RANGES.items():
        unused = (name == "alpha" and not model & SYN) or (name == "vrec" and not model & REC)
        if unused:
            case[name] = torch.zeros(1, dtype=dtype)
        elif per_neuron:
            case[name] = torch.linspace(lo, hi, n, dtype=torch.float64).to(dtype)
        else:
            case[name] = torch.full((1,), (lo + hi) / 2, dtype=torch.float64).to(dtype)
    return case


def reference(model: int, T: int, case: dict, cfg: NeuronConfig):
    """``(spk, I seq or None, U seq)`` of the member's float64 reference (autograd on)."""
    c = case
    x = c["x"].expand(T, -1)
    rec = (lambda s: s * c["vrec"]) if model & REC else None
    if model == KEEP:
        spk, mem = leaky_scan(x, c["u0"], c["beta"], c["thr"], c["graded"], cfg)
        return spk, None, mem
    if model == 0:  # Lapicque's zero reset: Synaptic's with α = 0 and I₀ = 0
        zero_i0 = torch.zeros_like(c["u0"])
        spk, _, mem = synaptic_scan(x, zero_i0, c["u0"], c["alpha"], c["beta"], c["thr"],
                                    c["graded"], cfg)  # fmt: skip
        return spk, None, mem
    if model == SYN:
        args = (c["alpha"], c["beta"], c["thr"], c["graded"], cfg)
        return synaptic_scan(x, c["i0"], c["u0"], *args)
    if model == REC:
        spk, mem = rleaky_scan(x, c["s0"], c["u0"], c["beta"], c["thr"], c["graded"], rec, cfg)
        return spk, None, mem
    args = (c["alpha"], c["beta"], c["thr"], c["graded"], rec, cfg)
    return rsynaptic_scan(x, c["s0"], c["i0"], c["u0"], *args)


def run_forward(model, reset, delay, store, T, case):
    c = case
    n, dt = c["u0"].shape[0], c["u0"].dtype
    rows = T if store else 1
    spk = torch.empty(T, n, dtype=dt)
    iseq = torch.empty(rows if model & SYN else 0, n, dtype=dt)
    useq = torch.empty(rows, n, dtype=dt)
    vpre = torch.empty(T if store and not delay else 0, n, dtype=dt)
    ins = [c[k] for k in ("x", "i0", "u0", "s0", *PARAMS)]
    fallback.forward(*ins, model, reset, delay, store, spk, iseq, useq, vpre)
    return spk, iseq, useq, vpre


def check(model, reset_name, delay, store, T, tx, per_neuron, gs_rows, grads, spike, dtype,
          seed=0, want=None):  # fmt: skip
    """One forward (and backward if ``store``) of the kernel against the reference.
    ``grads``: which of ``gi``/``gu`` the loss has; ``want``: the gradient outputs asked for
    (None: all the model has)."""
    reset = RESETS[reset_name]
    cfg = NeuronConfig(spike, reset_name, delay)
    n = 5
    case = make_case(model, tx, n, per_neuron, dtype, seed)
    with torch.no_grad():
        spk, iseq, useq, vpre = run_forward(model, reset, delay, store, T, case)
    ref64 = {k: v.detach().double().requires_grad_(True) for k, v in case.items()}
    r_spk, r_syn, r_mem = reference(model, T, ref64, cfg)
    tol = {torch.float64: 1e-10, torch.float32: 2e-5, torch.float16: 2e-3}[dtype]
    assert spk.dtype == dtype
    assert torch.equal(spk.double(), r_spk.detach()), "spikes differ"
    last = slice(None) if store else slice(-1, None)
    close = {"rtol": tol, "atol": tol}
    torch.testing.assert_close(useq.double(), r_mem.detach()[last], **close)
    if model & SYN:
        torch.testing.assert_close(iseq.double(), r_syn.detach()[last], **close)
    if not store:  # (the backward reads every step: vpre, useq)
        return
    gen = torch.Generator().manual_seed(seed + 1)
    cot = [torch.randn(T, n, generator=gen, dtype=torch.float64).to(dtype) for _ in range(3)]
    gs = cot[0][:gs_rows]
    gi = cot[1] if "gi" in grads and model & SYN else cot[1][:0]
    gu = cot[2] if "gu" in grads else cot[2][:0]
    loss = (r_spk * gs.double().expand(T, n)).sum() if gs_rows else r_spk.sum() * 0
    if gi.shape[0]:
        loss = loss + (r_syn * gi.double()).sum()
    if gu.shape[0]:
        loss = loss + (r_mem * gu.double()).sum()
    names = ["x", "u0", "thr", "graded", "beta"]
    names += ["i0", "alpha"] * bool(model & SYN) + ["s0", "vrec"] * bool(model & REC)
    leaves = [ref64[k] for k in names]
    if loss.requires_grad:
        ref_g = torch.autograd.grad(loss, leaves, allow_unused=True)
    else:  # only spikes in the loss, and the surrogate is disabled
        ref_g = [None] * len(leaves)
    ref_g = {k: torch.zeros_like(v) if g is None else g for k, v, g in zip(names, leaves, ref_g)}
    want = set(names) if want is None else set(want) & set(names)
    gx = torch.empty(tx, n, dtype=dtype)
    # gi0, gu0, gs0, ga, gb, gv, gth, gg: NaN-filled, or 0 rows when not asked for
    outs = {k: torch.full((n if k in want else 0,), float("nan"), dtype=dtype)
            for k in ("i0", "u0", "s0", *PARAMS)}  # fmt: skip
    ins = [case[k] for k in ("i0", "u0", "s0", *PARAMS)]
    with torch.no_grad():
        fallback.backward(gs, gi, gu, spk, iseq, useq, vpre, *ins, spike, model, reset, delay,
                          gx, *outs.values())  # fmt: skip
    outs["x"] = gx
    for name in want | {"x"}:
        got, exp = outs[name].double(), ref_g[name]
        if name in PARAMS and exp.shape[0] == 1:
            got = got.sum(0, keepdim=True)  # per-neuron sums of a shared parameter
        scale = max(1.0, exp.abs().max().item())
        torch.testing.assert_close(got, exp, rtol=20 * tol, atol=20 * tol * scale,
                                   msg=lambda m, k=name: f"{k}: {m}")  # fmt: skip


GRADS = [(2, ("gi", "gu")), (1, ("gu",)), (0, ("gi",)), (2, ())]  # (gs rows: 2 = T, loss)


@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS.keys())
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("delay", [True, False], ids=["delay", "immediate"])
def test_matches_references(model, reset, delay):
    """Every variant of one model/reset/delay in float64, rotating the surrogates."""
    variants = itertools.product([True, False], [1, 6], [False, True], [False, True], GRADS)
    for i, (store, T, tx_once, per_neuron, (gs_rows, grads)) in enumerate(variants):
        tx = 1 if tx_once else T
        want = None if i % 3 else ("x", "u0", "thr", "vrec", "alpha")  # some not asked for
        spike = SURROGATES[(i + 3 * model + len(reset)) % len(SURROGATES)]
        rows = T if gs_rows == 2 else gs_rows
        check(model, reset, delay, store, T, tx, per_neuron, rows, grads, spike,
              torch.float64, seed=i, want=want)  # fmt: skip


@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS.keys())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
def test_low_precision_inputs(model, dtype):
    """float32 state for float32 and (kept in float32) float16 buffers, against float64."""
    for reset, delay in (("subtract", False), ("zero", True), ("zero", False)):
        check(model, reset, delay, True, 6, 6, True, 6, ("gi", "gu"), sg.ATan(), dtype, seed=3)


def test_negative_decay_is_not_clamped():
    """Lapicque's decay 1 − Δt/(RC) may be negative: U = [1.2, −0.6 + 0.5 − 1, 0.55 + 0.3]
    and ∂U₂/∂X = [β², β, 1] with β = −0.5."""
    d = torch.float64
    case = {"x": torch.tensor([[1.2], [0.5], [0.3]], dtype=d), "u0": torch.zeros(1, dtype=d),
            "i0": torch.zeros(0, dtype=d), "s0": torch.zeros(0, dtype=d),
            "alpha": torch.zeros(1, dtype=d), "beta": torch.tensor([-0.5], dtype=d),
            "vrec": torch.zeros(1, dtype=d), "thr": torch.ones(1, dtype=d),
            "graded": torch.ones(1, dtype=d)}  # fmt: skip
    spk, iseq, useq, vpre = run_forward(0, 0, True, True, 3, case)
    assert spk.flatten().tolist() == [1.0, 0.0, 0.0]
    torch.testing.assert_close(useq.flatten(), torch.tensor([1.2, -1.1, 0.85], dtype=d))
    gx, gu0, gb, gth = (torch.empty(k, dtype=d) for k in ((3, 1), (1,), (1,), (1,)))
    none = torch.empty(0, dtype=d)
    gu = torch.tensor([[0.0], [0.0], [1.0]], dtype=d)
    ins = [case[k] for k in ("i0", "u0", "s0", *PARAMS)]
    no_rows = none.view(0, 1)
    fallback.backward(no_rows, no_rows, gu, spk, iseq, useq, vpre, *ins, sg.ATan(), 0, 0, True,
                      gx, none, gu0, none, none, gb, none, gth, none)  # fmt: skip
    torch.testing.assert_close(gx.flatten(), torch.tensor([0.25, -0.5, 1.0], dtype=d))
    torch.testing.assert_close(gu0, torch.tensor([-0.125], dtype=d))  # β · 0.25
    torch.testing.assert_close(gb, torch.tensor([-1.7], dtype=d))  # 1·U₁ − 0.5·U₀ + 0.25·0
    torch.testing.assert_close(gth, torch.tensor([0.5], dtype=d))  # −R₁ ∂L/∂V₁ = 0.5
