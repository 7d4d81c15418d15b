"""The Triton Alpha kernels against the reference, in Triton's CPU interpreter (a fresh
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
from spikeforge.ops.alpha.op import alpha_scan_fused
from spikeforge.ops.alpha.reference import alpha_scan
from spikeforge.ops.config import NeuronConfig
from engine.test_alpha_backends import check, draw, make_params
cases = [
    # spike_fn, reset, per_neuron, dtype, shape, learnable (alpha, beta, threshold, graded)
    (sg.ATan(), "zero", True, torch.float32, (5, 2, 70), (0, 1, 2, 3)),
    (sg.FastSigmoid(slope=10), "subtract", False, torch.float32, (1, 1, 3), ()),
    (sg.Sigmoid(slope=5), "subtract", True, torch.float64, (4, 3, 5), (0, 1)),
    (sg.Heaviside(), "none", True, torch.float32, (4, 2, 5), (2, 3)),
    (sg.SpikeRateEscape(beta=0.5, slope=3), "zero", False, torch.float64, (3, 2, 5), (0,)),
]
for spike_fn, reset, per_neuron, dtype, shape, learn in cases:
    check("triton", shape, NeuronConfig(spike_fn, reset), per_neuron, dtype, learn)

# Without sequences (only the membrane kept), gradients of the spikes and final states.
cfg = NeuronConfig(sg.ATan(), "subtract")
params = make_params(True, 6, torch.float64, learn=(2, 3))
states = draw((7, 3, 6), cfg, params, torch.float64)
grads = []
for fused in (True, False):
    leaves = [t.clone().requires_grad_(True) for t in states]
    if fused:
        spk, _, finals = alpha_scan_fused(*leaves, *params, cfg, "triton", need_seqs=False)
    else:
        spk, *seqs = alpha_scan(*leaves, *params, cfg)
        finals = [s[-1] for s in seqs]
    loss = (spk * 2).sum() + finals[0].sum() - 3 * finals[1].sum() + finals[2].sum()
    grads.append(torch.autograd.grad(loss, [*leaves[:3], params[2], params[3]]))
for g, w in zip(*grads):
    torch.testing.assert_close(g, w)
print("ok", len(cases) + 1)
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")
def test_triton_alpha_matches_reference_in_the_interpreter():
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests_dir.parent / "src"), str(tests_dir), env.get("PYTHONPATH", "")]
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("ok 6")
