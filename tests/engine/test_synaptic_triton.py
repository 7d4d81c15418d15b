"""The Triton Synaptic kernels against the reference, in Triton's CPU interpreter (a fresh
process, since ``TRITON_INTERPRET=1`` must be set before Triton compiles anything)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.triton

SCRIPT = r"""
import torch
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from engine.test_synaptic_backends import check
cases = [
    (sg.ATan(), "subtract", True, True, torch.float32, (5, 2, 70)),
    (sg.FastSigmoid(slope=10), "zero", True, False, torch.float32, (1, 1, 3)),
    (sg.Sigmoid(slope=5), "subtract", False, True, torch.float64, (4, 3, 5)),
    (sg.Heaviside(), "zero", False, True, torch.float32, (4, 2, 5)),
    (sg.SpikeRateEscape(beta=0.5, slope=3), "none", True, True, torch.float32, (3, 2, 5)),
]
for spike_fn, reset, delay, per_neuron, dtype, shape in cases:
    check("triton", shape, NeuronConfig(spike_fn, reset, delay), per_neuron, dtype)
print("ok", len(cases))
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")
def test_triton_synaptic_matches_reference_in_the_interpreter():
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests_dir.parent / "src"), str(tests_dir), env.get("PYTHONPATH", "")]
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("ok 5")
