"""``torch.library`` registration of the LIF family's ops: opcheck, and torch.compile."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge.nn import SeqToANN
from spikeforge.ops.lif import flags

MODELS = {"leaky": flags.LEAKY, "lapicque": flags.LAPICQUE, "synaptic": flags.SYNAPTIC,
          "rleaky": flags.RLEAKY, "rsynaptic": flags.RSYNAPTIC}  # fmt: skip


def fwd_args(model, backend, store=True, delay=True, per_neuron=False):
    n = 6
    p = (lambda v: torch.full((n,), v)) if per_neuron else (lambda v: torch.tensor([v]))
    x = (torch.rand(4, n) * 1.5).requires_grad_(True)
    syn = torch.rand(n).requires_grad_(True) if model & flags.SYN else torch.empty(0)
    spk = (
        (torch.rand(n) > 0.5).float().requires_grad_(True) if model & flags.REC else torch.empty(0)
    )
    return (
        x, syn, torch.rand(n).requires_grad_(True), spk, p(0.7).requires_grad_(True),
        p(0.8).requires_grad_(True), p(0.3).requires_grad_(True), p(1.0).requires_grad_(True),
        p(1.0), model, 0, delay, store, "atan", 2.0, 0.0, backend,
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize(("delay", "per_neuron"), [(True, False), (False, True)])
def test_opcheck_forward(backend, model, delay, per_neuron):
    args = fwd_args(MODELS[model], backend, True, delay, per_neuron)
    torch.library.opcheck(torch.ops.spikeforge.lif_fwd.default, args)


@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize("model", ["leaky", "rsynaptic"])
def test_opcheck_backward(backend, model):
    n, m = 5, MODELS[model]
    useq = torch.rand(3, n)

    def rows(k):
        return torch.randn(k, n)

    syn, rec = m & flags.SYN, m & flags.REC
    one = torch.tensor([0.9])
    args = (
        rows(3), rows(3 if syn else 0), rows(3), rows(3 if rec else 0), rows(3 if syn else 0),
        useq, rows(0), torch.rand(n if syn else 0), torch.rand(n), torch.rand(n if rec else 0),
        one, one, one * 0.5, torch.tensor([1.0]), torch.tensor([1.0]), 3, m, 0, True, "atan",
        2.0, 0.0, [bool(syn), True, bool(rec), bool(syn), True, bool(rec), True, True], backend,
    )  # fmt: skip
    torch.library.opcheck(torch.ops.spikeforge.lif_bwd.default, args)


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
