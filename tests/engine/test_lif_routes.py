"""What the family test (``test_lif_family.py``) does not cover: the dense recurrence
(``ops.dense``, the family's torch loop with ``rec(S) = S Wᵀ + b``), which recurrence a
configuration takes, Lapicque's circuit errors and learnable β, and multi-step calls equal to
single steps bit for bit on the default backend."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig

RESETS = [("subtract", True), ("zero", True), ("none", True), ("subtract", False),
          ("zero", False)]  # fmt: skip
DENSE = {"rleaky": (snn.RLeaky, {"beta": 0.8}),
         "rsynaptic": (snn.RSynaptic, {"alpha": 0.6, "beta": 0.8})}  # fmt: skip


def _dense_run(model, backend, reset, delay, spike, dtype, step_mode="multi"):
    """Outputs, final states and gradients (input, β, W, b) of a dense recurrent layer."""
    cls, kw = DENSE[model]
    torch.manual_seed(3)
    lif = cls(**kw, linear_features=6, step_mode=step_mode, backend=backend, spike_grad=spike,
              reset_mechanism=reset, reset_delay=delay, learn_beta=True).to(dtype)  # fmt: skip
    torch.manual_seed(4)
    x = (torch.rand(9, 4, 6, dtype=torch.float64) * 1.5).to(dtype).requires_grad_(True)
    if step_mode == "multi":
        outs = lif(x)
    else:
        steps = [lif(xt) for xt in x]
        outs = [torch.stack(o) for o in zip(*steps)]
    weights = torch.linspace(-1, 1, 6, dtype=dtype)
    loss = (outs[0] * weights).sum() + sum((o.square() * weights.abs()).sum() for o in outs[1:])
    leaves = [x, lif.beta, lif.recurrent.weight, lif.recurrent.bias]
    finals = [getattr(lif, n) for n in lif.state_names]
    return [*outs, *finals, *torch.autograd.grad(loss, leaves)]


@pytest.mark.parametrize("model", list(DENSE))
@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=str)
def test_dense_recurrence_equals_the_reference(model, reset, delay):
    got = _dense_run(model, "torch", reset, delay, sg.ATan(), torch.float64)
    want = _dense_run(model, "reference", reset, delay, sg.ATan(), torch.float64)
    assert torch.equal(got[0], want[0]) and got[0].any()
    for g, w in zip(got[1:], want[1:]):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("spike", [sg.FastSigmoid(slope=10), sg.Triangular(0.7)], ids=repr)
@pytest.mark.parametrize("step_mode", ["multi", "single"])
def test_dense_recurrence_surrogates_and_step_api_in_float32(spike, step_mode):
    got = _dense_run("rsynaptic", "auto", "zero", False, spike, torch.float32, step_mode)
    want = _dense_run("rsynaptic", "reference", "zero", False, spike, torch.float64)
    assert torch.equal(got[0].double(), want[0])
    for g, w in zip(got[1:], want[1:]):
        torch.testing.assert_close(g.double(), w, rtol=1e-4, atol=1e-4)


def test_dense_recurrence_restores_the_thread_count():
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


@pytest.mark.parametrize("synaptic", [False, True])
def test_opcheck_dense_recurrence_op(synaptic):
    def grad(*shape):
        return torch.rand(*shape).requires_grad_(True)

    state = grad(2, 5)
    args = (
        grad(4, 2, 5), grad(2, 5), state if synaptic else torch.empty(0), grad(2, 5),
        grad(5, 5), grad(5), torch.tensor([0.6]) if synaptic else torch.empty(0),
        torch.tensor([0.7]).requires_grad_(True), torch.rand(10), torch.tensor([1.0]),
        0, False, True, synaptic, "atan", 2.0, 0.0,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.dense_recurrence_fwd.default, args)


def test_each_recurrence_runs_where_it_can():
    x = torch.rand(4, 2, 5)
    cfg = NeuronConfig(sg.ATan())
    assert snn.RLeaky(beta=0.8, all_to_all=False).select_backend(x, cfg) == "cpu"
    assert snn.RLeaky(beta=0.8, linear_features=5).select_backend(x, cfg) == "torch"
    conv = snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3)
    assert conv.select_backend(torch.rand(2, 2, 2, 4, 4), cfg) == "reference"
    out = snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3, step_mode="multi")(
        torch.rand(3, 1, 2, 4, 4)
    )
    assert out[0].shape == (3, 1, 2, 4, 4)
    with pytest.raises(ValueError, match="no 'cpu' backend"):
        snn.RLeaky(beta=0.8, linear_features=5, backend="cpu")(torch.rand(2, 5))
    quant = snn.RLeaky(beta=0.8, linear_features=5, state_quant=torch.round)
    assert quant.select_backend(x, quant.config()) == "reference"
    wide = snn.RLeaky(beta=0.8, V=torch.ones(5, dtype=torch.float64), all_to_all=False)
    assert wide.select_backend(x, cfg) == "reference"
    wide.backend = "cpu"
    with pytest.raises(ValueError, match=r"V has dtype torch\.float64"):
        wide.select_backend(x, cfg)


def test_lapicque_circuit_errors():
    x = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match="state_quant"):
        snn.Lapicque(beta=0.9, step_mode="multi", backend="cpu",
                     state_quant=lambda t: t.round())(x)  # fmt: skip
    with pytest.raises(ValueError, match="Triton runs CUDA"):
        snn.Lapicque(beta=0.9, step_mode="multi", backend="triton")(x)
    wide = snn.Lapicque(beta=0.9, C=torch.tensor(1e-3, dtype=torch.float64), step_mode="multi")
    assert wide.select_backend(x, wide.config()) == "reference"
    wide.backend = "cpu"
    with pytest.raises(ValueError, match=r"R has dtype torch\.float64, wider than the input"):
        wide(x)
    bad = snn.Lapicque(R=torch.full((2, 1, 4), 5.0), C=1.0, time_step=1.0, step_mode="multi",
                       backend="cpu")  # fmt: skip
    with pytest.raises(ValueError, match="R of shape"):
        bad(x)


@pytest.mark.parametrize("given", ["beta", "beta_R", "beta_C"])
def test_lapicque_learnable_beta_trains_through_the_kernel(given):
    """``learn_beta`` re-derives R or C from β each call; its gradient crosses the op."""
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


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("cls", ["Synaptic", "Lapicque", "Leaky"])
def test_multi_step_equals_single_steps_bitwise(cls, reset):
    """Same kernels either way (the step API's fast path for Leaky and Synaptic)."""
    torch.manual_seed(0)
    x = torch.rand(10, 3, 4) * 1.5
    kw = {
        "Synaptic": {"alpha": 0.7, "beta": 0.8},
        "Leaky": {"beta": 0.8},
        "Lapicque": {"beta": 0.3},
    }[cls]  # fmt: skip  (Lapicque: decay 1 − ln(1/.3) < 0)
    single = getattr(snn, cls)(**kw, reset_mechanism=reset)
    multi = getattr(snn, cls)(**kw, reset_mechanism=reset, step_mode="multi")
    steps = [single(xt) for xt in x]
    outs = multi(x)
    assert torch.equal(outs[0], torch.stack([s[0] for s in steps])) and outs[0].any()
    for k in range(1, len(outs)):
        torch.testing.assert_close(outs[k], torch.stack([s[k] for s in steps]), rtol=0, atol=0)
