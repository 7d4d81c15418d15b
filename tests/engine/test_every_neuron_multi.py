"""Every neuron takes ``step_mode``/``backend``; multi-step equals T single steps."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn

NEURONS = [
    pytest.param(lambda **kw: snn.Leaky(beta=0.8, **kw), id="Leaky"),
    pytest.param(lambda **kw: snn.IAF(threshold=1.0, **kw), id="IAF"),
    pytest.param(lambda **kw: snn.Synaptic(alpha=0.6, beta=0.8, **kw), id="Synaptic"),
    pytest.param(lambda **kw: snn.Alpha(alpha=0.8, beta=0.6, **kw), id="Alpha"),
    pytest.param(lambda **kw: snn.Lapicque(beta=0.85, **kw), id="Lapicque"),
    pytest.param(lambda **kw: snn.RLeaky(beta=0.8, linear_features=5, **kw), id="RLeaky"),
    pytest.param(
        lambda **kw: snn.RSynaptic(alpha=0.6, beta=0.8, linear_features=5, **kw), id="RSynaptic"
    ),
    pytest.param(lambda **kw: snn.GradedRefractory(**kw), id="GradedRefractory"),
]


@pytest.mark.parametrize("make", NEURONS)
def test_multi_step_equals_single_steps(make):
    torch.manual_seed(0)
    single = make()
    torch.manual_seed(0)
    multi = make(step_mode="multi")
    assert multi.step_mode == "multi" and single.step_mode == "single"
    x = torch.rand(8, 3, 5) * 2
    single_out = [single(xt) for xt in x]
    multi_out = multi(x)
    assert isinstance(multi_out, tuple) and len(multi_out) == len(single_out[0])
    for k, seq in enumerate(multi_out):
        want = torch.stack([out[k] for out in single_out])
        torch.testing.assert_close(seq, want, rtol=1e-6, atol=1e-6)
    for name in single.state_names:
        torch.testing.assert_close(getattr(multi, name), getattr(single, name))


@pytest.mark.parametrize("make", NEURONS)
def test_backend_keyword_is_checked(make):
    with pytest.raises(ValueError, match="backend"):
        make(backend="fastest")
    assert make(backend="reference").backend == "reference"
