"""The Triton Leaky kernels against the reference, run by Triton's CPU interpreter.

``TRITON_INTERPRET=1`` must be set before Triton compiles anything, so the check runs in a
fresh interpreter process; shapes stay tiny because interpretation is slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.triton

SCRIPT = r"""
import torch
from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from engine.test_leaky_backends import check_against_reference
cases = [
    (sg.ATan(), "subtract", True, True, torch.float32, (5, 2, 70)),
    (sg.FastSigmoid(slope=10), "zero", True, False, torch.float32, (1, 1, 3)),
    (sg.Sigmoid(slope=5), "subtract", False, True, torch.float64, (4, 3, 5)),
    (sg.SparseFastSigmoid(slope=4, B=0.1), "zero", False, True, torch.float32, (4, 2, 5)),
    (sg.SpikeRateEscape(beta=0.5, slope=3), "none", True, True, torch.float32, (3, 2, 5)),
    (sg.Triangular(threshold=0.7), "subtract", True, False, torch.float32, (3, 2, 5)),
    (sg.Heaviside(), "none", False, True, torch.float32, (3, 2, 5)),
]
for spike_fn, reset, delay, per_neuron, dtype, shape in cases:
    cfg = NeuronConfig(spike_fn, reset, delay)
    check_against_reference("triton", shape, cfg, per_neuron, True, dtype)
print("ok", len(cases))
"""


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("triton") is None, reason="triton not installed"
)
def test_triton_kernels_match_reference_in_the_interpreter():
    tests_dir = Path(__file__).resolve().parents[1]
    src = tests_dir.parent / "src"
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(tests_dir), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("ok 7")


@pytest.mark.gpu
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_triton_on_gpu_matches_reference(reset):
    from spikeforge.ops.config import NeuronConfig

    from .test_leaky_backends import check_against_reference

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    for delay in (True, False):
        check_against_reference(
            "triton", (50, 8, 300), NeuronConfig(reset=reset, reset_delay=delay), True, True,
            torch.float32,
        )  # fmt: skip
