"""``torch.library`` registration of the fused Leaky ops: opcheck, and torch.compile."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge.nn import SeqToANN
from spikeforge.ops.leaky import op  # noqa: F401  (registers spikeforge::leaky_*)


def fwd_args(backend, store=True, delay=True, per_neuron=False):
    n = 6
    p = (lambda v: torch.full((n,), v)) if per_neuron else (lambda v: torch.tensor([v]))
    x = (torch.rand(4, n) * 1.5).requires_grad_(True)
    return (
        x, torch.rand(n).requires_grad_(True), p(0.8).requires_grad_(True),
        p(1.0).requires_grad_(True), p(1.0), 0, delay, store, "atan", 2.0, 0.0, backend,
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_opcheck_forward(backend, delay, per_neuron):
    torch.library.opcheck(
        torch.ops.spikeforge.leaky_fwd.default, fwd_args(backend, True, delay, per_neuron)
    )


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_opcheck_backward(backend):
    n = 5
    useq = torch.rand(3, n)
    args = (
        torch.randn(3, n), torch.randn(3, n), useq, torch.rand(3, n), torch.rand(n),
        torch.tensor([0.9]), torch.tensor([1.0]), torch.tensor([1.0]), 3, 0, False, "atan",
        2.0, 0.0, True, True, True, True, backend,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.leaky_bwd.default, args)


@pytest.mark.compile
@pytest.mark.parametrize(
    "compiler", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)]
)
def test_compiled_multistep_net_equals_eager(compiler):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        SeqToANN(torch.nn.Linear(8, 16)),
        snn.Leaky(beta=0.9, init_hidden=True, step_mode="multi", learn_beta=True),
        SeqToANN(torch.nn.Linear(16, 4)),
        snn.Leaky(beta=0.8, init_hidden=True, output=True, step_mode="multi"),
    )
    x = torch.rand(6, 3, 8) * 2

    def run(model):
        for m in net.modules():
            if isinstance(m, snn.SpikingNeuron):
                m.reset_mem()
        spk, mem = model(x)
        loss = spk.sum() + (mem**2).sum()
        grads = torch.autograd.grad(loss, list(net.parameters()))
        return spk, mem, grads

    eager = run(net)
    compiled = run(torch.compile(net, fullgraph=True, backend=compiler))
    assert torch.equal(eager[0], compiled[0])
    torch.testing.assert_close(eager[1], compiled[1])
    for a, b in zip(eager[2], compiled[2]):
        torch.testing.assert_close(a, b)
