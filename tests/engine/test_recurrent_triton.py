"""The Triton RLeaky and RSynaptic kernels (one-to-one ``V·S``) against the reference, in
Triton's CPU interpreter (a fresh process, since ``TRITON_INTERPRET=1`` must be set before
Triton compiles anything)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.triton,
    pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed"),
]

SCRIPT = r"""
import torch
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from engine import test_rleaky_backends as rl, test_rsynaptic_backends as rs
cases = [
    (sg.ATan(), "subtract", True, True, torch.float32, (5, 2, 70)),
    (sg.FastSigmoid(slope=10), "zero", True, False, torch.float32, (1, 1, 3)),
    (sg.Sigmoid(slope=5), "subtract", False, True, torch.float64, (4, 3, 5)),
    (sg.Heaviside(), "zero", False, True, torch.float32, (4, 2, 5)),
    (sg.SpikeRateEscape(beta=0.5, slope=3), "none", True, True, torch.float32, (3, 2, 5)),
]
for module in (rl, rs):
    for spike_fn, reset, delay, per_neuron, dtype, shape in cases:
        module.check("triton", shape, NeuronConfig(spike_fn, reset, delay), per_neuron, dtype)
    module.check("triton", (4, 2, 5), NeuronConfig(sg.ATan(), "subtract", False), True,
                 torch.float64, learn=frozenset({"V"}))
print("ok", 2 * (len(cases) + 1))
"""

NEURON_SCRIPT = r"""
import torch
import spikeforge as snn
x = torch.rand(6, 2, 5) * 1.5
for cls, kw in ((snn.RLeaky, {}), (snn.RSynaptic, {"alpha": 0.6})):
    outs = []
    for backend in ("reference", "triton"):
        torch.manual_seed(0)
        lif = cls(beta=0.8, V=0.3, all_to_all=False, step_mode="multi", backend=backend, **kw)
        xr = x.clone().requires_grad_(True)
        res = lif(xr)
        grad = torch.autograd.grad(sum(r.sum() for r in res), xr)[0]
        outs.append((res, grad))
    (ref, g_ref), (tri, g_tri) = outs
    for a, b in zip(ref, tri):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(g_ref, g_tri)
print("ok neurons")
"""


def _run(script: str) -> str:
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests_dir.parent / "src"), str(tests_dir), env.get("PYTHONPATH", "")]
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.strip()


def test_triton_recurrent_ops_and_neurons_match_reference_in_the_interpreter():
    out = _run(SCRIPT + NEURON_SCRIPT)  # one interpreter process for both
    assert "ok 12" in out and out.endswith("ok neurons")
