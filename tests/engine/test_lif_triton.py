"""The merged LIF Triton kernels (``ops/lif/triton.py``) against the float64 references, in
Triton's CPU interpreter: every model (Leaky = KEEP, Lapicque = 0, Synaptic = SYN,
RLeaky = REC, RSynaptic = SYN|REC) × reset × delay, with the other options (store, shared
or per-neuron parameters, a constant input, 0/1/T rows of ``gs``, absent gradients, the
surrogate) varied across the cases. Spikes must be equal, states and gradients close.

``TRITON_INTERPRET=1`` must be set before Triton compiles anything, so the cases run in a
fresh process (``run_cases``); shapes stay tiny because interpretation is slow.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikeforge import surrogate as sg
from spikeforge.ops.codes import RESET_CODES
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.lif.reference import leaky_scan, rleaky_scan, rsynaptic_scan, synaptic_scan

pytestmark = [
    pytest.mark.triton,
    pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed"),
]

SYN, REC, KEEP = 1, 2, 4  # ops/lif/flags.py
MODELS = (KEEP, 0, SYN, REC, SYN | REC)
RESETS = [(r, d) for r in ("subtract", "zero", "none") for d in (True, False)]
SURROGATES = [sg.ATan(), sg.FastSigmoid(slope=10), sg.Sigmoid(slope=5), sg.Triangular(0.7),
              sg.SpikeRateEscape(0.5, 3), sg.SparseFastSigmoid(4, 0.1)]  # fmt: skip
INPUTS = ("x", "i0", "u0", "s0", "alpha", "beta", "vrec", "thr", "graded")


def reference(model, cfg, x, i0, u0, s0, alpha, beta, vrec, thr, graded):
    """``(S, I or None, U)`` of the model's reference (Lapicque: Synaptic with α = 0, I = 0)."""
    if model == KEEP:
        spk, mem = leaky_scan(x, u0, beta, thr, graded, cfg)
        return spk, None, mem
    if model == 0:
        spk, _, mem = synaptic_scan(x, 0 * u0, u0, 0 * beta, beta, thr, graded, cfg)
        return spk, None, mem
    rec = lambda s: s * vrec  # noqa: E731
    if model == SYN:
        return synaptic_scan(x, i0, u0, alpha, beta, thr, graded, cfg)
    if model == REC:
        spk, mem = rleaky_scan(x, s0, u0, beta, thr, graded, rec, cfg)
        return spk, None, mem
    return rsynaptic_scan(x, s0, i0, u0, alpha, beta, thr, graded, rec, cfg)


def pre_reset(model, reset, x, spk, syn, mem, inp):
    """The membrane ``V`` before this step's immediate reset, from the reference's states."""
    uprev = torch.cat([inp["u0"][None], mem[:-1]])
    fired = uprev > inp["thr"]
    if model & SYN:
        m = syn
    else:
        m = x + (torch.cat([inp["s0"][None], spk[:-1]]) * inp["vrec"] if model & REC else 0)
    if reset == "zero" and model & KEEP:
        return inp["beta"] * uprev.masked_fill(fired, 0) + m
    w = inp["beta"] * uprev + m
    if reset == "subtract":
        return w - fired * inp["thr"]
    return w.masked_fill(fired, 0) if reset == "zero" else w


def draw(model, cfg, T, N, tx, per_neuron, seed, margin):
    """float64 inputs whose reference keeps ``V`` and ``U`` at least ``margin`` from θ."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, lo=0.0, hi=1.0):
        return torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo

    def param(lo, hi, shared, used=True):
        if not used:
            return torch.zeros(1, dtype=torch.float64)
        return rand(N, lo=lo, hi=hi) if per_neuron else torch.tensor([shared], dtype=torch.float64)

    inp = {"alpha": param(0.3, 0.9, 0.6, model & SYN), "beta": param(0.3, 0.95, 0.8),
           "vrec": param(-0.6, 0.7, 0.4, model & REC), "thr": param(0.6, 1.2, 0.9),
           "graded": param(0.5, 2.0, 1.5)}  # fmt: skip
    inp["x"] = rand(tx, N, lo=-0.3, hi=1.3)
    inp["i0"] = rand(N, hi=0.5) if model & SYN else torch.zeros(0, dtype=torch.float64)
    inp["u0"] = rand(N, hi=0.5)
    s0 = (rand(N) > 0.5) * inp["graded"]
    inp["s0"] = s0 if model & REC else torch.zeros(0, dtype=torch.float64)
    for _ in range(300):
        with torch.no_grad():
            x = inp["x"].expand(T, N)
            spk, syn, mem = reference(model, cfg, x, **{k: inp[k] for k in INPUTS[1:]})
            v = pre_reset(model, cfg.reset, x, spk, syn, mem, inp)
        close = torch.minimum((v - inp["thr"]).abs(), (mem - inp["thr"]).abs()) < margin
        if not close.any():
            return inp
        first = (close.cumsum(0).cumsum(0) == 1) if tx > 1 else close.any(0, keepdim=True)
        inp["x"] = torch.where(first, inp["x"] + 4 * margin, inp["x"])
    raise RuntimeError("could not keep the membrane away from the threshold")


def check(model, reset, delay, *, spike_fn, store=True, per_neuron=True, tx=None, gs_rows=None,
          gi=True, gu=True, want=INPUTS, T=5, N=6, dtype=torch.float32, seed=0):  # fmt: skip
    """One forward (and, with ``store``, one backward) against the reference."""
    from spikeforge.ops.lif import triton as kernels

    tx, gs_rows = tx or T, T if gs_rows is None else gs_rows
    cfg = NeuronConfig(spike_fn, reset, delay)
    margin = 2e-2 if dtype == torch.float16 else 1e-3
    inp = draw(model, cfg, T, N, tx, per_neuron, seed, margin)
    inp = {k: t.to(dtype).double() for k, t in inp.items()}  # exact in the kernel's dtype
    want = [k for k in want if (k not in ("i0", "alpha") or model & SYN)]
    want = [k for k in want if (k not in ("s0", "vrec") or model & REC)]
    leaves = {k: t.clone().requires_grad_(k in want) for k, t in inp.items()}
    spk, syn, mem = reference(
        model, cfg, leaves["x"].expand(T, N), **{k: leaves[k] for k in INPUTS[1:]}
    )
    gen = torch.Generator().manual_seed(seed + 1)
    nrows = {"s": gs_rows, "i": T if gi and model & SYN else 0, "u": T if gu else 0}
    cot = {n: torch.randn(r, N, generator=gen, dtype=torch.float64) for n, r in nrows.items()}
    loss = (spk * cot["s"]).sum() if gs_rows else 0  # one row: the same every step
    loss = loss + (syn * cot["i"]).sum() if cot["i"].shape[0] else loss
    loss = loss + (mem * cot["u"]).sum() if cot["u"].shape[0] else loss
    grads = torch.autograd.grad(loss, [leaves[k] for k in want], allow_unused=True)
    ref_g = {k: torch.zeros_like(inp[k]) if g is None else g for k, g in zip(want, grads)}
    k = {n: t.to(dtype) for n, t in inp.items()}
    empty = torch.zeros(0, N, dtype=dtype)
    rows = T if store else 1
    out = {"spk": torch.zeros(T, N, dtype=dtype), "useq": torch.zeros(rows, N, dtype=dtype),
           "iseq": torch.zeros(rows, N, dtype=dtype) if model & SYN else empty,
           "vpre": torch.zeros(T, N, dtype=dtype) if store and not delay else empty}  # fmt: skip
    kernels.forward(*(k[n] for n in INPUTS), model, RESET_CODES[reset], delay, store, **out)
    what = f"model {model} {reset} delay={delay} store={store} {dtype}"
    tol = {torch.float16: 2e-2, torch.float32: 2e-5, torch.float64: 1e-10}[dtype]

    def close(got, ref, name, rtol=tol):
        scale = max(1.0, ref.abs().max().item()) if ref.numel() else 1.0
        torch.testing.assert_close(got.double(), ref.detach(), rtol=rtol, atol=rtol * scale,
                                   msg=lambda m: f"{what}: {name}: {m}")  # fmt: skip

    assert torch.equal(out["spk"].double(), spk.detach()), f"{what}: spikes differ"
    close(out["useq"], mem[-rows:], "U")
    if model & SYN:
        close(out["iseq"], syn[-rows:], "I")
    if store and not delay:
        close(out["vpre"], pre_reset(model, reset, inp["x"].expand(T, N), spk, syn, mem, inp), "V")
    if not store:
        return
    gouts = {n: torch.zeros(N if n in want else 0, dtype=dtype) for n in INPUTS[1:]}
    gouts["x"] = torch.zeros(tx, N, dtype=dtype)
    up = {"gs": cot["s"].to(dtype), "gi": cot["i"].to(dtype), "gu": cot["u"].to(dtype)}
    kernels.backward(
        **up, **out, **{n: k[n] for n in INPUTS[1:]},
        kind=spike_fn.kind, sg_params=(*spike_fn.params(), 0.0, 0.0)[:2], model=model,
        reset=RESET_CODES[reset], delay=delay, gx=gouts["x"], gi0=gouts["i0"], gu0=gouts["u0"],
        gs0=gouts["s0"], ga=gouts["alpha"], gb=gouts["beta"], gv=gouts["vrec"], gth=gouts["thr"],
        gg=gouts["graded"],
    )  # fmt: skip
    for n in want:
        got = gouts[n] if gouts[n].shape == ref_g[n].shape else gouts[n].sum(0, keepdim=True)
        close(got, ref_g[n], f"grad {n}", 20 * tol)


def run_cases() -> int:
    """Every model × reset × delay, the other options varied across them; then float16/64."""
    count = 0
    for m, model in enumerate(MODELS):
        for r, (reset, delay) in enumerate(RESETS):
            i = len(RESETS) * m + r
            check(model, reset, delay, spike_fn=SURROGATES[i % len(SURROGATES)], store=True,
                  per_neuron=i % 2 == 1, tx=1 if i % 5 == 2 else None, gs_rows=(None, 1, 0)[i % 3],
                  gi=i % 4 != 1, gu=i % 4 != 2 or i % 3 == 2, seed=i,
                  want=INPUTS if i % 4 != 3 else ("x", "beta", "thr"),
                  T=1 if i == 13 else 5, N=70 if i == 8 else 6)  # fmt: skip
            if i % 3 != 1:
                check(model, reset, delay, spike_fn=sg.ATan(), store=False, seed=i)
            count += 1
    check(SYN | REC, "subtract", False, spike_fn=sg.ATan(), dtype=torch.float16, T=4)
    check(KEEP, "zero", False, spike_fn=sg.FastSigmoid(), per_neuron=False, dtype=torch.float16)
    check(SYN | REC, "zero", False, spike_fn=sg.Sigmoid(), dtype=torch.float64, tx=1)
    return count + 3


def test_lif_triton_kernels_match_the_references_in_the_interpreter():
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests_dir.parent / "src"), str(tests_dir), env.get("PYTHONPATH", "")]
    )
    script = "from engine.test_lif_triton import run_cases\nprint('ok', run_cases())"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("ok 33")
