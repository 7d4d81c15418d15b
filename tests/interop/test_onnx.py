"""Export to ONNX and ``torch.export`` on the default backend; onnxruntime runs the graph.

While a model is traced for export, ``backend="auto"`` takes the pure-torch reference
(``ops.registry.exporting``), so every neuron leaves Python with no special case in user
code, and the exported graph gives PyTorch's spikes and states.
"""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.ops import registry
from spikeforge.utils import reset

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

# One firing configuration of every neuron: (name, constructor keywords, one step's input shape).
NEURONS = [
    ("Leaky", {"beta": 0.8}, (3, 6)),
    ("IAF", {}, (3, 6)),
    ("Synaptic", {"alpha": 0.7, "beta": 0.8}, (3, 6)),
    ("Alpha", {"alpha": 0.9, "beta": 0.8}, (3, 6)),
    ("Lapicque", {"beta": 0.8, "threshold": 0.5}, (3, 6)),
    ("RLeaky", {"beta": 0.8, "linear_features": 6}, (3, 6)),
    ("RSynaptic", {"alpha": 0.7, "beta": 0.8, "linear_features": 6}, (3, 6)),
    # (an LSTM's membrane o·tanh(c) stays below 1: a lower threshold lets it fire)
    ("SLSTM", {"input_size": 6, "hidden_size": 5, "threshold": 0.1}, (3, 6)),
    (
        "SConv2dLSTM",
        {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "threshold": 0.1},
        (2, 2, 5, 5),
    ),
    ("GradedRefractory", {"threshold": 0.5}, (3, 6)),
]
IDS = [n[0] for n in NEURONS]
# The LSTMs have no step_mode="multi"; a time loop over the step API exports them instead.
MULTI = [n for n in NEURONS if n[0] not in ("SLSTM", "SConv2dLSTM")]
STEPS = 6


@pytest.fixture(autouse=True)
def _auto_backend(monkeypatch):
    """These tests are about ``backend="auto"``: an environment override must not leak in."""
    monkeypatch.delenv(registry.ENV_VAR, raising=False)


class StepAPI(nn.Module):
    """``(x, *states) -> (spk, *states)``: the neuron's step API with explicit state."""

    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.neuron = neuron

    def forward(self, x, *states):
        return self.neuron(x, *states)


class StepLoop(nn.Module):
    """``x_seq -> (spk_seq, *state_seqs)`` from a zero state, stepping the step API."""

    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.neuron = neuron

    def forward(self, x_seq):
        states = tuple(self.neuron.zero_state(x_seq[0]))
        outs = []
        for x in x_seq:
            spk, *states = self.neuron(x, *states)
            outs.append((spk, *states))
        return tuple(torch.stack(seq) for seq in zip(*outs))


def _make(name: str, kwargs: dict, **extra) -> nn.Module:
    torch.manual_seed(0)
    return getattr(snn, name)(**kwargs, **extra)


def _onnx_bytes(model: nn.Module, args: tuple, dynamo: bool = False) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            return torch.onnx.export(model, args, dynamo=True).model_proto.SerializeToString()
        buffer = io.BytesIO()
        torch.onnx.export(model, args, buffer, dynamo=False)
        return buffer.getvalue()


def _run_onnx(blob: bytes, args: tuple) -> list[torch.Tensor]:
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    feeds = {i.name: a.detach().numpy() for i, a in zip(session.get_inputs(), args)}
    return [torch.from_numpy(out) for out in session.run(None, feeds)]


def _assert_same(got: list[torch.Tensor], want: tuple[torch.Tensor, ...]) -> None:
    """Spikes (first output) equal exactly; states to float32 rounding."""
    assert len(got) == len(want)
    assert torch.equal(got[0], want[0].detach())
    assert want[0].sum() > 0, "the case should fire"
    for g, w in zip(got[1:], want[1:]):
        torch.testing.assert_close(g, w.detach(), rtol=1e-5, atol=1e-5)


def _export_and_compare(model: nn.Module, args: tuple, dynamo: bool = False) -> None:
    reset(model)
    blob = _onnx_bytes(model, args, dynamo)
    reset(model)
    with torch.no_grad():
        want = model(*args)
    _assert_same(_run_onnx(blob, args), want if isinstance(want, tuple) else (want,))


def _step_args(neuron: nn.Module, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    x = torch.rand(shape) * 1.5
    # A nonzero starting state, so the graph really reads its state inputs.
    states = tuple(torch.rand_like(s) * 0.5 for s in neuron.zero_state(x))
    return (x, *states)


# -- the rule itself ------------------------------------------------------------------------


def test_auto_takes_the_reference_only_while_exporting(monkeypatch):
    cpu = torch.device("cpu")
    assert not registry.exporting()
    assert registry.select("leaky", "auto", cpu, torch.float32, None) == "cpu"
    monkeypatch.setattr(registry, "exporting", lambda: True)
    assert registry.select("leaky", "auto", cpu, torch.float32, None) == "reference"
    # A backend named explicitly is never swapped, export or not.
    assert registry.select("leaky", "torch", cpu, torch.float32, None) == "torch"


def test_exporting_is_true_inside_jit_trace_and_torch_export():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(registry.exporting())
            return x + 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(Probe(), (torch.ones(2),), check_trace=False)
    assert seen == [True]
    torch.export.export(Probe(), (torch.ones(2),))
    assert len(seen) > 1 and all(seen)  # (export may run the forward more than once)
    seen.clear()
    Probe()(torch.ones(2))
    assert seen == [False]


# -- the example: a default-backend Leaky in a Sequential -----------------------------


def test_sequential_with_hidden_leaky_exports_and_matches_onnxruntime():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    x = torch.rand(4, 8) * 3
    net(x)  # an eager run first: the step lane caches a numba plan that export must not use
    _export_and_compare(net, (x,))


def test_exported_graph_takes_another_batch_size():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    reset(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buffer = io.BytesIO()
        torch.onnx.export(
            net, (torch.rand(4, 8),), buffer, input_names=["x"],
            dynamic_axes={"x": {0: "batch"}}, dynamo=False,
        )  # fmt: skip
    x = torch.rand(7, 8) * 3
    reset(net)
    with torch.no_grad():
        want = net(x)
    _assert_same(_run_onnx(buffer.getvalue(), (x,)), want)


def test_wide_layer_that_auto_runs_fused_exports():
    # [2, 20000] is above the small-step size, so auto picks the fused kernel in eager mode.
    torch.manual_seed(0)
    lif = snn.Synaptic(alpha=0.7, beta=0.8)
    x = torch.rand(2, 20000) * 1.5
    assert lif.select_backend(x, lif.config(), single_step=True) == "cpu"
    _export_and_compare(StepAPI(lif), _step_args(lif, x.shape))


# -- every neuron, TorchScript exporter -------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs", "shape"), NEURONS, ids=IDS)
def test_step_api_exports_and_matches_onnxruntime(name, kwargs, shape):
    neuron = _make(name, kwargs)
    _export_and_compare(StepAPI(neuron), _step_args(neuron, shape))


@pytest.mark.parametrize(("name", "kwargs", "shape"), MULTI, ids=[n[0] for n in MULTI])
def test_multi_step_exports_and_matches_onnxruntime(name, kwargs, shape):
    neuron = _make(name, kwargs, step_mode="multi")
    x_seq = torch.rand(STEPS, *shape) * 1.5
    _export_and_compare(neuron, (x_seq,))


@pytest.mark.parametrize("name", ["SLSTM", "SConv2dLSTM"])
def test_lstm_time_loop_exports_and_matches_onnxruntime(name):
    _, kwargs, shape = NEURONS[IDS.index(name)]
    x_seq = torch.rand(STEPS, *shape) * 1.5
    _export_and_compare(StepLoop(_make(name, kwargs)), (x_seq,))


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_named_fused_backend_refuses_the_jit_tracer(backend):
    # Never swapped for the reference, and never traced into constants: a clear error.
    lif = StepAPI(snn.Synaptic(alpha=0.5, beta=0.8, backend=backend))
    x = torch.rand(3, 6)
    with pytest.raises(ValueError, match=f"backend='{backend}' cannot be traced"):
        _onnx_bytes(lif, (x, torch.zeros_like(x), torch.zeros_like(x)))


# -- torch.export -----------------------------------------------------------------------------


def _torch_export_matches(model: nn.Module, args: tuple) -> None:
    reset(model)
    program = torch.export.export(model, args)
    reset(model)
    with torch.no_grad():
        want = model(*args)
        got = program.module()(*args)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    # Only aten ops: no spikeforge custom op (and so no numba/Triton) in the graph.
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("spikeforge" in t for t in targets), targets


def test_torch_export_leaky_multi_step_has_only_aten_ops():
    lif = _make("Leaky", {"beta": 0.8}, step_mode="multi")
    _torch_export_matches(lif, (torch.rand(STEPS, 3, 6) * 1.5,))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kwargs", "shape"), NEURONS, ids=IDS)
def test_torch_export_step_api_every_neuron(name, kwargs, shape):
    neuron = _make(name, kwargs)
    _torch_export_matches(StepAPI(neuron), _step_args(neuron, shape))


# -- the dynamo ONNX exporter (onnxscript) -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kwargs", "shape"), NEURONS, ids=IDS)
def test_dynamo_exporter_step_api_matches_onnxruntime(name, kwargs, shape):
    pytest.importorskip("onnxscript")
    neuron = _make(name, kwargs)
    _export_and_compare(StepAPI(neuron), _step_args(neuron, shape), dynamo=True)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kwargs", "shape"), MULTI, ids=[n[0] for n in MULTI])
def test_dynamo_exporter_multi_step_matches_onnxruntime(name, kwargs, shape):
    pytest.importorskip("onnxscript")
    neuron = _make(name, kwargs, step_mode="multi")
    _export_and_compare(neuron, (torch.rand(STEPS, *shape) * 1.5,), dynamo=True)


def test_readme_onnx_example_runs():
    import re
    import textwrap
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*ONNX and `torch.export`\*\*.*?```python\n(.*?)```", readme, re.S)
    assert block is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(textwrap.dedent(block.group(1)), "README.md", "exec"), {})
