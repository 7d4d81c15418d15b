"""``ops.registry``: one ``select`` decides the backend for every neuron; named backends that
cannot run raise; export takes the reference; neurons hold no backend branches."""

from __future__ import annotations

import pathlib

import pytest
import torch

import spikeforge as snn
from spikeforge.ops import registry

NEURONS = pathlib.Path(snn.__file__).parent / "neurons"


def test_auto_takes_the_reference_while_exporting(monkeypatch):
    lif = snn.Leaky(beta=0.9, step_mode="multi")
    x = torch.rand(4, 2, 8)
    assert lif.select_backend(x, lif.config()) == "cpu"
    monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
    assert registry.exporting()
    assert lif.select_backend(x, lif.config()) == "reference"
    named = snn.Leaky(beta=0.9, step_mode="multi", backend="cpu")
    assert named.select_backend(x, named.config()) == "cpu"  # a named backend is kept


def test_torch_export_sees_plain_torch_ops():
    lif = snn.Leaky(beta=0.9, step_mode="multi")
    x = torch.rand(3, 2, 5) * 2
    program = torch.export.export(lif, (x,))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("spikeforge" in t for t in targets), targets
    spk, mem = program.module()(x)
    ref_spk, ref_mem = snn.Leaky(beta=0.9, step_mode="multi", backend="reference")(x)
    torch.testing.assert_close(spk, ref_spk)
    torch.testing.assert_close(mem, ref_mem)


def test_a_named_backend_that_cannot_run_raises():
    with pytest.raises(ValueError, match="Triton runs CUDA tensors"):
        snn.Synaptic(alpha=0.5, beta=0.9, backend="triton")(torch.rand(3))
    with pytest.raises(ValueError, match="no 'cpu' backend is registered"):
        snn.RLeaky(beta=0.9, linear_features=3, backend="cpu")(torch.rand(2, 3))
    with pytest.raises(ValueError, match="backend must be one of"):
        snn.Leaky(beta=0.9, backend="numba")


def test_every_fused_neuron_names_a_registered_recurrence():
    for cls in (snn.Leaky, snn.IAF, snn.Synaptic, snn.Lapicque, snn.Alpha, snn.RLeaky,
                snn.RSynaptic):  # fmt: skip
        op = cls.recurrence.op
        assert set(registry.kernels(op)) == {"cpu", "triton", "torch"}, cls
    # Leaky's and Synaptic's CPU kernels have a single-step fast path; Lapicque's parameters
    # are not the family's (R, C, Δt), and a recurrent state needs its spike gradient
    assert registry.fast_step("leaky", "cpu") is not None
    assert registry.fast_step("synaptic", "cpu") is not None
    assert registry.fast_step("lapicque") is None
    assert registry.fast_step("rleaky") is None
    assert registry.fast_step("leaky", "reference") is None


def test_neurons_hold_no_backend_branches_nor_kernel_imports():
    for path in NEURONS.glob("*.py"):
        text = path.read_text()
        assert "backend ==" not in text, path.name
        for kernel in (".cpu import", ".triton import", ".fallback import", ".op import"):
            assert kernel not in text, (path.name, kernel)
