"""``spikeforge.export_nir`` / ``spikeforge.import_nir``: snnTorch's modules, signatures and
call convention, and ``F.avg_pool2d`` in exported graphs (issue 14, item 4)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import spikeforge as snn

nir = pytest.importorskip("nir")
snntorch_export = pytest.importorskip("snntorch.export_nir")
snntorch_import = pytest.importorskip("snntorch.import_nir")

from spikeforge.export_nir import export_to_nir  # noqa: E402
from spikeforge.import_nir import NIRNetwork, import_from_nir  # noqa: E402


def _params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


def test_signatures_are_snntorchs():
    ours, theirs = _params(export_to_nir), _params(snntorch_export.export_to_nir)
    assert ours[: len(theirs)] == theirs  # spikeforge adds dt after them
    assert [n for n, _ in _params(import_from_nir)] == ["graph"]
    assert [n for n, _ in _params(snntorch_import.import_from_nir)] == ["graph"]


class PooledConv(nn.Module):
    """A convolutional net that pools with the functional ``F.avg_pool2d``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.8, init_hidden=True)
        self.fc = nn.Linear(2 * 4 * 4, 3)
        self.lif2 = snn.Leaky(beta=0.7, init_hidden=True)

    def forward(self, x):
        x = self.lif1(F.avg_pool2d(self.conv(x), 2))
        return self.lif2(self.fc(x.flatten(1)))


def test_functional_avg_pool2d_is_exported_as_avg_pool_node():
    torch.manual_seed(0)
    graph = export_to_nir(PooledConv(), torch.rand(1, 1, 8, 8), ignore_dims=[0])
    pools = [n for n in graph.nodes.values() if isinstance(n, nir.AvgPool2d)]
    assert len(pools) == 1
    assert pools[0].kernel_size.tolist() == [2, 2] and pools[0].stride.tolist() == [2, 2]
    assert pools[0].padding.tolist() == [0, 0]
    assert graph.nodes["input"].input_type["input"].tolist() == [1, 8, 8]  # no batch axis


@pytest.mark.parametrize(
    ("call", "kernel", "stride", "padding"),
    [
        (lambda x: F.avg_pool2d(x, 2, 1), [2, 2], [1, 1], [0, 0]),
        (lambda x: F.avg_pool2d(x, kernel_size=(3, 2), padding=1), [3, 2], [3, 2], [1, 1]),
    ],
)
def test_functional_avg_pool2d_arguments(call, kernel, stride, padding):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lif = snn.Leaky(beta=0.5, init_hidden=True)

        def forward(self, x):
            return self.lif(call(x))

    graph = export_to_nir(Net(), torch.rand(1, 2, 6, 6))
    (pool,) = [n for n in graph.nodes.values() if isinstance(n, nir.AvgPool2d)]
    assert (pool.kernel_size.tolist(), pool.stride.tolist()) == (kernel, stride)
    assert pool.padding.tolist() == padding


def test_avg_pool2d_with_divisor_override_is_refused():
    class Net(nn.Module):
        def forward(self, x):
            return F.avg_pool2d(x, 2, divisor_override=3)

    with pytest.raises(ValueError, match="divisor_override"):
        export_to_nir(Net(), torch.rand(1, 1, 4, 4))


def test_round_trip_runs_with_snntorchs_call_convention():
    torch.manual_seed(1)
    net = PooledConv()
    again = import_from_nir(export_to_nir(net, torch.rand(1, 1, 8, 8)))
    assert isinstance(again, NIRNetwork)
    xs = torch.rand(6, 2, 1, 8, 8) * 4
    state = None
    spikes = 0.0
    with torch.no_grad():
        for x in xs:
            want = net(x)
            got, state = again(x, state)
            assert torch.equal(got, want)
            spikes += float(want.sum())
    assert spikes > 0  # the comparison saw spikes
    assert set(state) == set(again.node_names) and all(v is None for v in state.values())
    again.reset_mem()
    with torch.no_grad():
        net.lif1.reset_mem()
        net.lif2.reset_mem()
        assert torch.equal(again(xs[0])[0], net(xs[0]))


def test_same_spikes_and_state_keys_as_snntorchs_import_of_the_same_graph():
    """Both imports are called ``out, state = net(x, state)``, with one ``None`` per node."""
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([4])),
            "fc": nir.Affine(np.ones((3, 4), dtype=np.float32), np.zeros(3, dtype=np.float32)),
            "lif": nir.LIF(
                tau=np.full(3, 1e-3),
                r=np.full(3, 10.0),
                v_leak=np.zeros(3),
                v_threshold=np.ones(3),
                v_reset=np.zeros(3),
            ),
            "output": nir.Output(np.array([3])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )
    theirs = snntorch_import.import_from_nir(graph)
    ours = import_from_nir(graph)
    torch.manual_seed(2)
    spikes = 0.0
    t_state = o_state = None
    for _ in range(8):  # r·dt/τ = 1: both read the LIF as Leaky(β = 0.9), zero reset
        x = torch.rand(2, 4) * 0.6
        (t_out, t_state), (o_out, o_state) = theirs(x, t_state), ours(x, o_state)
        assert o_out.shape == t_out.shape == (2, 3)
        assert torch.equal(o_out, t_out.detach())
        spikes += float(o_out.detach().sum())
    assert spikes > 0
    assert set(o_state) == set(t_state) and all(v is None for v in o_state.values())


def test_model_fwd_args_feed_the_tracing_run():
    class Stateful(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.lif = snn.Leaky(beta=0.9)

        def forward(self, x, mem):
            spk, _ = self.lif(self.fc(x), mem)
            return spk

    graph = export_to_nir(Stateful(), torch.rand(2, 4), model_fwd_args=[torch.zeros(2, 3)])
    assert sorted(graph.edges) == [("fc", "lif"), ("input", "fc"), ("lif", "output")]


def test_ignore_dims_may_name_only_the_batch_axis():
    net = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True))
    for dims in ([], [0], [-2]):
        export_to_nir(net, torch.rand(2, 4), ignore_dims=dims)
    with pytest.raises(ValueError, match="ignore_dims"):
        export_to_nir(net, torch.rand(2, 4), ignore_dims=[1])
    with pytest.raises(TypeError, match="ignore_dims"):
        export_to_nir(net, torch.rand(2, 4), ignore_dims=["0"])


def test_out_is_the_spikes_even_after_output_true_as_in_snntorch():
    """snnTorch's documented example: the last Leaky has output=True."""
    torch.manual_seed(3)
    lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), snn.Leaky(beta=0.9, init_hidden=True),
                        nn.Linear(8, 3), lif2)  # fmt: skip
    again = import_from_nir(export_to_nir(net, torch.randn(1, 12), model_name="snntorch"))
    x = torch.rand(4, 12) * 3
    with torch.no_grad():
        out, state = again(x)
        spk, _ = net(x)
    assert isinstance(out, torch.Tensor) and torch.equal(out, spk)
    assert "output" in state
