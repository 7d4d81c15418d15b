"""Hypothesis: on any small configuration, the fused CPU kernel reproduces the reference
exactly (float64 in, same operation order), and with T split in two chunks the final state
of the first chunk, fed back in, continues the sequence exactly."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge import surrogate as sg
from spikeforge.ops.config import NeuronConfig
from spikeforge.ops.leaky.op import leaky_scan_fused
from spikeforge.ops.leaky.reference import leaky_scan

configs = st.builds(
    NeuronConfig,
    spike_fn=st.sampled_from([sg.ATan(), sg.FastSigmoid(), sg.Sigmoid(), sg.Heaviside()]),
    reset=st.sampled_from(["subtract", "zero", "none"]),
    reset_delay=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(
    cfg=configs,
    steps=st.integers(1, 12),
    batch=st.integers(1, 3),
    features=st.integers(1, 9),
    beta=st.floats(0.0, 1.0),
    threshold=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    split=st.integers(0, 12),
)
def test_cpu_kernel_equals_reference_and_chunks_compose(
    cfg, steps, batch, features, beta, threshold, seed, split
):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, features, generator=gen, dtype=torch.float64)
    mem0 = torch.rand(batch, features, generator=gen, dtype=torch.float64)
    params = (torch.tensor(beta, dtype=torch.float64), torch.tensor(threshold, dtype=torch.float64),
              torch.tensor(1.0, dtype=torch.float64))  # fmt: skip
    spk, mem_seq, final = leaky_scan_fused(x, mem0, *params, cfg, "cpu")
    spk_r, mem_r = leaky_scan(x, mem0, *params, cfg)
    # Same float64 operations in the same order: bitwise equal, no threshold margin needed.
    assert torch.equal(spk, spk_r)
    assert torch.equal(mem_seq, mem_r)
    k = min(split, steps - 1)
    if k > 0:
        spk_a, _, mid = leaky_scan_fused(x[:k], mem0, *params, cfg, "cpu", need_mem_seq=False)
        spk_b, _, end = leaky_scan_fused(x[k:], mid, *params, cfg, "cpu", need_mem_seq=False)
        assert torch.equal(torch.cat([spk_a, spk_b]), spk)
        assert torch.equal(end, final)
