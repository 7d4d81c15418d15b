"""The snnTorch-to-NIR tutorial: a conv net with a functional ``avg_pool2d``, an
``x.view(-1, 28*28*16 // 4)`` and two ``init_hidden`` Leaky layers, exported with
``export_to_nir(net, sample, ignore_dims=[0])``, ``infer_types()``, ``nir.write``,
``nir.read``, then the ``lif1`` node the notebook prints.

snnTorch 1.0.0 cannot run this notebook: ``from snntorch import export_to_nir`` is commented
out of its ``__init__`` (ImportError), and through ``snntorch.export_nir`` the export stops in
nir's type check (the view's ``[1, 28, 28]`` type meets ``lif1``'s empty one). spikeforge
exports the view as a ``Flatten``; the test checks its graph against the numbers the notebook
printed (``tau ≈ 0.001, r ≈ 10``) and runs the read-back graph against the network.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np
import pytest
import torch

import spikeforge

from ._flows import snntorch

nir = pytest.importorskip("nir")

pytestmark = pytest.mark.parity


def _net(snn):
    class NetWithAvgPool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1)
            self.lif1 = snn.Leaky(beta=0.9, init_hidden=True)
            self.fc1 = torch.nn.Linear(28 * 28 * 16 // 4, 500)
            self.lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)

        def forward(self, x):
            x = torch.nn.functional.avg_pool2d(self.conv1(x), kernel_size=2, stride=2)
            x = x.view(-1, 28 * 28 * 16 // 4)
            x = self.lif1(x)
            x = self.fc1(x)
            return self.lif2(x)

    return NetWithAvgPool()


def test_snntorch_cannot_export_the_tutorial_net():
    with pytest.raises(ImportError):
        exec("from snntorch import export_to_nir", {})
    export_to_nir = import_module("snntorch.export_nir").export_to_nir
    with pytest.raises(ValueError, match="type mismatch"):
        export_to_nir(_net(snntorch), torch.randn(1, 1, 28, 28), ignore_dims=[0])


def test_export_conv_avgpool_view_net_write_read_and_run(tmp_path):
    from spikeforge import export_to_nir, import_from_nir  # the notebook's import line
    from spikeforge.import_nir import import_from_nir as import_snntorch_style

    torch.manual_seed(31)
    net = _net(spikeforge)
    graph = export_to_nir(net, torch.randn(1, 1, 28, 28), ignore_dims=[0])
    graph.infer_types()
    nir.write(str(tmp_path / "testconv2d+avgpool.nir"), graph)
    nir_graph = nir.read(str(tmp_path / "testconv2d+avgpool.nir"))

    assert {"conv1", "fc1", "input", "lif1", "lif2", "output"} <= set(nir_graph.nodes)
    lif1 = nir_graph.nodes["lif1"]
    assert isinstance(lif1, nir.LIF)
    # the notebook's printout: LIF(tau=0.0009999997615814777, r=9.999997615814776, v_leak=0.0,
    # v_threshold=1.0)
    np.testing.assert_allclose(lif1.tau, 0.0009999997615814777, rtol=1e-6)
    np.testing.assert_allclose(lif1.r, 9.999997615814776, rtol=1e-6)
    np.testing.assert_allclose(lif1.v_leak, 0.0)
    np.testing.assert_allclose(lif1.v_threshold, 1.0)
    flatten = [n for n in nir_graph.nodes.values() if isinstance(n, nir.Flatten)]
    assert len(flatten) == 1 and int(flatten[0].start_dim) == 0

    assert callable(import_from_nir)
    again = import_snntorch_style(nir_graph)  # out, state = net(x, state), as snnTorch's
    xs = torch.rand(5, 2, 1, 28, 28) * 3
    state, spikes = None, 0.0
    with torch.no_grad():
        for x in xs:
            want, _ = net(x)
            got, state = again(x, state)
            torch.testing.assert_close(got, want, rtol=0, atol=0)
            spikes += float(want.sum())
    assert spikes > 0


def test_view_that_is_not_a_flatten_is_refused():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 8)
            self.lif = spikeforge.Leaky(beta=0.9, init_hidden=True)

        def forward(self, x):
            return self.lif(self.fc(x).view(-1, 2, 4))

    with pytest.raises(TypeError, match=r"view.*only a view that flattens"):
        spikeforge.export_to_nir(Odd(), torch.randn(1, 8))
