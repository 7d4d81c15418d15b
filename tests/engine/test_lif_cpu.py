"""The LIF-family numba kernels (``ops/lif/cpu.py``) called directly equal the float64
references under autograd: Leaky (KEEP), Lapicque (0, the Synaptic reference with α = 0),
Synaptic (SYN), RLeaky (REC, ``rec = v·S``), RSynaptic (SYN|REC); every reset mode and
delay, stored or final-only states, shared and per-neuron parameters, an input of one row,
upstream spike gradients of 0 / 1 / T rows, absent state gradients, parameter gradients
wanted or not, float32 and float64, one thread and several lanes. Spikes equal exactly,
states and every gradient closely."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import surrogate as sgm
from spikeforge.ops.codes import RESET_MODES, SURROGATE_IDS, surrogate_constants
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.lif.reference import leaky_scan, rleaky_scan, rsynaptic_scan, synaptic_scan

from .cpu_configs import slow_unless_default

cpu = pytest.importorskip("spikeforge.ops.lif.cpu")  # needs numba

SYN, REC, KEEP = cpu.SYN, cpu.REC, cpu.KEEP
MODELS = {"leaky": KEEP, "lapicque": 0, "synaptic": SYN, "rleaky": REC, "rsynaptic": SYN | REC}
MODES = [(r, d) for r in (0, 1, 2) for d in (True, False)]
F64 = torch.float64
NAMES = ("x", "i0", "u0", "s0", "alpha", "beta", "vrec", "thr", "graded")


def draw(model, T, N, tx, per_neuron, seed):
    """float64 inputs ``x [tx, N]``, states, parameters ([1] or [N]); α = 0 and I₀ = 0 for
    Lapicque (model 0), which has no current (the Synaptic reference then runs it)."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=F64)

    P = N if per_neuron else 1
    ins = {
        "x": rnd(tx, N, lo=-0.3, hi=1.1), "i0": rnd(N, lo=-0.3, hi=0.5),
        "u0": rnd(N, lo=-0.2, hi=1.4), "s0": (rnd(N) > 0.5).to(F64) * 1.3,
        "alpha": rnd(P, lo=0.2, hi=0.9), "beta": rnd(P, lo=0.3, hi=0.95),
        "vrec": rnd(P, lo=-0.5, hi=0.5), "thr": rnd(P, lo=0.6, hi=1.2),
        "graded": rnd(P, lo=0.5, hi=1.5),
    }  # fmt: skip
    if not model & SYN:
        ins["i0"] = torch.zeros(N, dtype=F64)
        ins["alpha"] = torch.zeros(P, dtype=F64)
    if not model & REC:
        ins["s0"] = torch.zeros(N, dtype=F64)
        ins["vrec"] = torch.zeros(P, dtype=F64)
    return ins


def reference(model, ins, T, cfg):
    """``(S, I or None, U)`` of the float64 reference over T steps."""
    x = ins["x"].expand(T, -1)
    p = ins
    if model == KEEP:
        spk, mem = leaky_scan(x, p["u0"], p["beta"], p["thr"], p["graded"], cfg)
        return spk, None, mem
    if model == REC:
        rec = lambda s: s * p["vrec"]  # noqa: E731
        spk, mem = rleaky_scan(x, p["s0"], p["u0"], p["beta"], p["thr"], p["graded"], rec, cfg)
        return spk, None, mem
    if model == SYN | REC:
        rec = lambda s: s * p["vrec"]  # noqa: E731
        args = (p["s0"], p["i0"], p["u0"], p["alpha"], p["beta"], p["thr"], p["graded"])
        return rsynaptic_scan(x, *args, rec, cfg)
    out = synaptic_scan(x, p["i0"], p["u0"], p["alpha"], p["beta"], p["thr"], p["graded"], cfg)
    return out if model == SYN else (out[0], None, out[2])


def kernel_forward(model, ins, T, reset, delay, store, dtype):
    N = ins["u0"].shape[0]
    syn, rec = bool(model & SYN), bool(model & REC)
    arr = {k: v.to(dtype).numpy() for k, v in ins.items()}
    if not syn:
        arr["i0"] = arr["i0"][:0]
    if not rec:
        arr["s0"] = arr["s0"][:0]
    rows = T if store else 1
    outs = [np.full(s, np.nan, dtype=arr["x"].dtype)
            for s in ((T, N), (rows if syn else 0, N), (rows, N),
                      (T if store and not delay else 0, N))]  # fmt: skip
    units = np.array([0.0, 1.0, 0.0, 0.0], dtype=arr["x"].dtype)
    cpu.lif_forward(*(arr[k] for k in NAMES), units, model, reset, delay, store, *outs)
    return arr, outs


def check(model, reset, delay, *, T=5, N=37, tx=None, per_neuron=False, dtype=F64,
          gs_rows=None, with_gi=True, with_gu=True, need=True, spike_fn=None, seed=0):  # fmt: skip
    """The kernels against the reference: forward states, then every gradient of a weighted
    sum of the outputs."""
    tx = T if tx is None else tx
    gs_rows = T if gs_rows is None else gs_rows
    spike_fn = spike_fn or sgm.ATan()
    cfg = NeuronConfig(spike_fn, RESET_MODES[reset], delay)
    syn, rec = bool(model & SYN), bool(model & REC)
    for attempt in range(20):  # float32: inputs whose V and U stay clear of θ
        ins = draw(model, T, N, tx, per_neuron, seed + 1000 * attempt)
        ins = {k: v.to(dtype).to(F64) for k, v in ins.items()}  # values the kernel sees
        _, (_, _, useq64, vpre64) = kernel_forward(model, ins, T, reset, delay, True, F64)
        v = useq64 if delay else vpre64
        thr = ins["thr"].numpy()
        u0 = ins["u0"].numpy()
        gap = min(np.abs(v - thr).min(), np.abs(useq64 - thr).min(), np.abs(u0 - thr).min())
        if dtype == F64 or gap > 2e-3:
            break
    leaves = {k: t.clone().requires_grad_(True) for k, t in ins.items()}
    want_s, want_i, want_u = reference(model, leaves, T, cfg)
    for store in (False, True):
        arr, (spk, iseq, useq, vpre) = kernel_forward(model, ins, T, reset, delay, store, dtype)
        tol = {"rtol": 1e-9, "atol": 1e-9} if dtype == F64 else {"rtol": 2e-5, "atol": 2e-5}
        assert np.array_equal(spk.astype(np.float64), want_s.detach().numpy()), "spikes"
        sel = slice(None) if store else slice(-1, None)
        np.testing.assert_allclose(useq, want_u.detach()[sel].numpy(), **tol, err_msg="U")
        if syn:
            np.testing.assert_allclose(iseq, want_i.detach()[sel].numpy(), **tol, err_msg="I")
    # upstream gradients: spikes with gs_rows rows, I and U sequences (or absent)
    gen = torch.Generator().manual_seed(seed + 7)
    ws = torch.randn(gs_rows, N, generator=gen, dtype=F64)
    wi = torch.randn(T, N, generator=gen, dtype=F64) if syn and with_gi else None
    wu = torch.randn(T, N, generator=gen, dtype=F64) if with_gu else None
    loss = (want_s * (ws if gs_rows == T else ws.sum(0))).sum() if gs_rows else 0.0
    loss = loss + ((want_i * wi).sum() if wi is not None else 0.0)
    loss = loss + ((want_u * wu).sum() if wu is not None else 0.0)
    if not torch.is_tensor(loss) or not loss.requires_grad:
        loss = loss + 0.0 * leaves["u0"].sum()
    grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
    want = {k: (g if g is not None else torch.zeros_like(leaves[k])) for k, g in zip(leaves, grads)}

    np_dt = arr["x"].dtype
    empty = np.empty((0, N), dtype=np_dt)

    def up(w):
        return empty if w is None else w.to(dtype).numpy()

    P = N if per_neuron else 1
    outs = {
        "x": np.full((tx, N), np.nan, dtype=np_dt),
        "i0": np.full(N if syn else 0, np.nan, dtype=np_dt),
        "u0": np.full(N, np.nan, dtype=np_dt),
        "s0": np.full(N if rec else 0, np.nan, dtype=np_dt),
    }
    for k, wanted in (("alpha", syn), ("beta", True), ("vrec", rec), ("thr", True),
                      ("graded", True)):  # fmt: skip
        outs[k] = np.full(N if need and wanted else 0, np.nan, dtype=np_dt)
    consts = surrogate_constants(spike_fn.kind, (*spike_fn.params(), 0.0, 0.0)[:2], np_dt)
    cpu.lif_backward(
        up(ws), up(wi), up(wu), spk, iseq, useq, vpre, arr["i0"], arr["u0"], arr["s0"],
        *(arr[k] for k in ("alpha", "beta", "vrec", "thr", "graded")),
        consts, SURROGATE_IDS[spike_fn.kind], model, reset, delay, *outs.values(),
    )  # fmt: skip
    gtol = {"rtol": 1e-8, "atol": 1e-8} if dtype == F64 else {"rtol": 2e-3, "atol": 2e-3}
    for k, got in outs.items():
        if got.shape[0] == 0:
            continue
        ref = want[k].numpy()
        if k in ("alpha", "beta", "vrec", "thr", "graded") and P == 1:
            got = got.sum(keepdims=True)
        np.testing.assert_allclose(got, ref, **gtol, err_msg=f"grad {k}")


EVERY = [pytest.param(m, r, d, id=f"{name}-{r}-{d}", marks=slow_unless_default(name, r, d))
         for name, m in MODELS.items() for r, d in MODES]  # fmt: skip


@pytest.mark.parametrize(("model", "reset", "delay"), EVERY)
def test_every_model_and_mode(model, reset, delay):
    check(model, reset, delay)
    if (MODES.index((reset, delay)) + list(MODELS.values()).index(model)) % 3 == 0:
        # per-neuron parameters (each kernel compiles again for them): a third of the cases
        check(model, reset, delay, per_neuron=True, tx=1, gs_rows=1, with_gi=False, need=False)


@pytest.mark.parametrize(
    "model", [pytest.param(m, id=k, marks=() if k == "leaky" else pytest.mark.slow)
              for k, m in MODELS.items()]
)  # fmt: skip
def test_float32_and_absent_gradients(model):
    check(model, 0, False, dtype=torch.float32, gs_rows=0, with_gu=False, seed=3)
    check(model, 1, True, dtype=torch.float32, per_neuron=True, with_gi=False, seed=4)


@pytest.mark.parametrize("kind", [k for k in SURROGATE_IDS if k != "disabled"])
def test_surrogates(kind):
    fn = {"atan": sgm.ATan(alpha=3.0), "fast_sigmoid": sgm.FastSigmoid(slope=10),
          "sigmoid": sgm.Sigmoid(slope=5), "straight_through": sgm.StraightThroughEstimator(),
          "triangular": sgm.Triangular(threshold=0.7), "heaviside": sgm.Heaviside(),
          "spike_rate_escape": sgm.SpikeRateEscape(beta=0.5, slope=3),
          "lso": sgm.LeakySpikeOperator(0.1),
          "sfs": sgm.SparseFastSigmoid(slope=4, B=0.1)}[kind]  # fmt: skip
    check(SYN | REC, 0, False, spike_fn=fn, per_neuron=True)


@pytest.mark.parametrize("model", [KEEP, SYN | REC], ids=["leaky", "rsynaptic"])
def test_lanes(model):
    """Several lanes and blocks (numba's threads), a partial last block."""
    n = 3 * 4096 + 1001
    assert cpu.worth_threads((6, n))
    check(model, 0, True, T=6, N=n, dtype=torch.float32, tx=1, per_neuron=True)


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(
    model=st.sampled_from(list(MODELS.values())),
    mode=st.sampled_from(MODES),
    T=st.integers(1, 6),
    N=st.integers(1, 9),
    x_once=st.booleans(),
    gs_rows=st.sampled_from(["0", "1", "T"]),
    with_gu=st.booleans(),
    need=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property(model, mode, T, N, x_once, gs_rows, with_gu, need, seed):
    """Shared parameters (the kernels ``test_every_model_and_mode`` compiled)."""
    rows = {"0": 0, "1": 1, "T": T}[gs_rows]
    check(model, *mode, T=T, N=N, tx=1 if x_once else T, gs_rows=rows, with_gu=with_gu,
          need=need, seed=seed)  # fmt: skip
