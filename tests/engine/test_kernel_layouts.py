"""The CPU kernels of Synaptic, Alpha, RLeaky and RSynaptic equal the reference backend when
the neurons span several blocks and threads (lanes), the last block is partial, and the
parameters are per-neuron, shared, or a mixture of both: every output and every gradient
(input and parameters), in float64."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn

F64 = torch.float64


def ramp(lo: float, hi: float, features: int, per_neuron: bool) -> torch.Tensor | float:
    """A per-neuron linspace, or its midpoint as a shared value."""
    if per_neuron:
        return torch.linspace(lo, hi, features, dtype=F64)
    return (lo + hi) / 2


def make_synaptic(features, per_neuron, thr_per_neuron, **kw):
    return snn.Synaptic(
        alpha=ramp(0.2, 0.8, features, per_neuron), beta=ramp(0.3, 0.95, features, per_neuron),
        threshold=ramp(0.6, 1.2, features, thr_per_neuron), learn_alpha=True, learn_beta=True,
        learn_threshold=True, **kw,
    )  # fmt: skip


def make_alpha(features, per_neuron, thr_per_neuron, **kw):
    return snn.Alpha(
        alpha=ramp(0.6, 0.9, features, per_neuron), beta=ramp(0.2, 0.5, features, per_neuron),
        threshold=ramp(0.6, 1.2, features, thr_per_neuron), learn_alpha=True, learn_beta=True,
        learn_threshold=True, **kw,
    )  # fmt: skip


def make_rleaky(features, per_neuron, thr_per_neuron, **kw):
    return snn.RLeaky(
        beta=ramp(0.3, 0.95, features, per_neuron), V=ramp(0.1, 0.5, features, per_neuron),
        all_to_all=False, threshold=ramp(0.6, 1.2, features, thr_per_neuron), learn_beta=True,
        learn_threshold=True, **kw,
    )  # fmt: skip


def make_rsynaptic(features, per_neuron, thr_per_neuron, **kw):
    return snn.RSynaptic(
        alpha=ramp(0.2, 0.8, features, per_neuron), beta=ramp(0.3, 0.95, features, per_neuron),
        V=ramp(0.1, 0.5, features, per_neuron), all_to_all=False,
        threshold=ramp(0.6, 1.2, features, thr_per_neuron), learn_alpha=True, learn_beta=True,
        learn_threshold=True, **kw,
    )  # fmt: skip


NEURONS = {
    "Synaptic": make_synaptic,
    "Alpha": make_alpha,
    "RLeaky": make_rleaky,
    "RSynaptic": make_rsynaptic,
}
# (steps, batch, features): 2 × 4500 = 9000 neurons over 8 steps run on the thread pool
# (several blocks per lane, the last one partial); 1 × 5000 over 3 steps on one thread (the
# serial kernel's blocks, the last one partial).
SHAPES = {"parallel": (8, 2, 4500), "serial": (3, 1, 5000)}
# (every parameter per-neuron, threshold per-neuron): per-neuron arrays, shared scalars, and
# a mixture (shared parameters but a per-neuron threshold).
PARAMS = {"per-neuron": (True, True), "shared": (False, False), "mixed": (False, True)}


def run(neuron, x, cotangents):
    out = neuron(x)
    loss = sum((o * c).sum() for o, c in zip(out, cotangents))
    params = [p for _, p in sorted(neuron.named_parameters())]
    grads = torch.autograd.grad(loss, [x, *params])
    return [o.detach() for o in out], grads


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("params", PARAMS.values(), ids=PARAMS.keys())
@pytest.mark.parametrize(
    "shape",
    # The parallel float64 kernels compile only for these tests (minutes on a cold numba
    # cache): they run in the slow suite; the serial ones in the default suite.
    [pytest.param(SHAPES["parallel"], marks=pytest.mark.slow, id="parallel"),
     pytest.param(SHAPES["serial"], id="serial")],
)  # fmt: skip
@pytest.mark.parametrize("name", NEURONS.keys())
def test_cpu_kernels_equal_the_reference(name, shape, params, reset):
    from spikeforge.ops.leaky import cpu

    steps, batch, features = shape
    assert cpu.worth_threads((steps, batch * features)) == (shape == SHAPES["parallel"])
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(shape, generator=gen, dtype=F64) * 1.2 - 0.2).requires_grad_(True)
    results = []
    for backend in ("cpu", "reference"):
        neuron = NEURONS[name](features, *params, reset_mechanism=reset, step_mode="multi",
                               backend=backend).to(F64)  # fmt: skip
        cot_gen = torch.Generator().manual_seed(1)
        cotangents = [torch.randn(shape, generator=cot_gen, dtype=F64) for _ in range(4)]
        results.append(run(neuron, x, cotangents))
    (got_out, got_grads), (want_out, want_grads) = results
    assert len(got_out) == len(want_out)
    assert torch.equal(got_out[0], want_out[0])  # spikes
    assert got_out[0].sum() > 0
    for got, want in zip(got_out[1:], want_out[1:]):
        torch.testing.assert_close(got, want)
    for got, want in zip(got_grads, want_grads):
        torch.testing.assert_close(got, want)
