"""The call patterns of snnTorch's tutorials 1-3, run through both libraries on small
synthetic data: every number must be the same (issue 14; the tutorials' own notebooks need
torchvision's MNIST download, so the patterns are rebuilt here on tensors of MNIST's layout).

Tutorial 2 passes ``mem = torch.zeros(1)`` with 0-d inputs to ``Lapicque``, tutorial 3 to
``Leaky``: the broadcast states of item 5. Tutorial 2's cells that start from
``torch.ones(1) * 0.9`` (or ``* 0.5``) are left out: snnTorch discards such a state (spikeforge
uses it, a documented difference), and those cells' ``torch.stack([mem, *later])`` of a ``(1,)``
and ``()`` state fails in both libraries.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeforge

snntorch = pytest.importorskip("snntorch")

pytestmark = pytest.mark.parity

LIBS = {"snntorch": snntorch, "spikeforge": spikeforge}


class DigitsLike(torch.utils.data.Dataset):
    """torchvision's MNIST layout: ``.data`` uint8 ``[N, 28, 28]``, ``.targets``."""

    def __init__(self, n: int = 200) -> None:
        generator = torch.Generator().manual_seed(5)
        self.data = (torch.rand(n, 28, 28, generator=generator) * 255).to(torch.uint8)
        self.targets = torch.randint(0, 10, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return self.data[i].float().unsqueeze(0) / 255, int(self.targets[i])


def _both(flow):
    return {name: flow(lib) for name, lib in LIBS.items()}


def _assert_same(results: dict) -> None:
    ours, theirs = results["spikeforge"], results["snntorch"]
    assert ours.keys() == theirs.keys()
    for key in ours:
        a, b = ours[key], theirs[key]
        if isinstance(a, torch.Tensor):
            assert a.shape == b.shape, key
            torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=1e-6, msg=key)
        else:
            assert a == b, key


def test_tutorial1_encoders_on_a_digit_batch():
    def flow(lib):
        from importlib import import_module

        spikegen, utils = (
            import_module(f"{lib.__name__}.spikegen"),
            import_module(f"{lib.__name__}.utils"),
        )
        dataset = utils.data_subset(DigitsLike(), 10)
        images, _ = next(iter(torch.utils.data.DataLoader(dataset, batch_size=8)))
        out = {"subset": len(dataset)}
        torch.manual_seed(1)
        out["rate"] = spikegen.rate(images, num_steps=10)
        torch.manual_seed(2)
        out["rate_gain"] = spikegen.rate(images, num_steps=10, gain=0.25)
        for name, options in {
            "latency": {},
            "latency_linear": {"linear": True},
            "latency_normalize": {"normalize": True, "linear": True},
            "latency_clip": {"clip": True, "normalize": True, "linear": True},
        }.items():
            out[name] = spikegen.latency(images, num_steps=100, tau=5, threshold=0.01, **options)
        series = torch.tensor([0.0, 1, 0, 2, 8, -20, 20, -5, 0, 1, 0])
        out["delta"] = spikegen.delta(series, threshold=4)
        out["delta_off"] = spikegen.delta(series, threshold=4, off_spike=True)
        return out

    results = _both(flow)
    _assert_same(results)
    assert results["spikeforge"]["subset"] == 20
    assert results["spikeforge"]["rate"].shape == (10, 8, 1, 28, 28)


def test_tutorial2_lapicque_with_one_element_states_and_0d_inputs():
    def run(neuron, currents, mem):
        spikes, mems = [], []
        for x in currents:
            spk, mem = neuron(x, mem)
            spikes.append(spk)
            mems.append(mem)
        return torch.stack(spikes), torch.stack(mems)

    def flow(lib):
        out = {}
        passive = lib.Lapicque(R=5, C=1e-3, time_step=1e-3)
        pulses = {
            "step": torch.cat((torch.zeros(10), torch.ones(190) * 0.1)),
            "pulse": torch.cat((torch.zeros(10), torch.ones(20) * 0.1, torch.zeros(170))),
            "spike": torch.cat((torch.zeros(10), torch.ones(1) * 0.5, torch.zeros(189))),
        }
        for name, currents in pulses.items():
            out[f"mem_{name}"] = run(passive, currents, torch.zeros(1))[1]
        for amplitude in (0.2, 0.3):
            firing = lib.Lapicque(R=5.1, C=5e-3, time_step=1e-3)
            currents = torch.cat((torch.zeros(10), torch.ones(190) * amplitude))
            out[f"spk_{amplitude}"], out[f"mem_{amplitude}"] = run(firing, currents, torch.zeros(1))
        low = lib.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5)
        out["spk_low"], _ = run(low, torch.cat((torch.zeros(10), torch.ones(190) * 0.3)),
                                torch.zeros(1))  # fmt: skip
        return out

    results = _both(flow)
    _assert_same(results)
    spikes = results["spikeforge"]["spk_0.2"]
    assert spikes.shape == (200,) and int(spikes.sum()) >= 1  # 0-d steps, as snnTorch


def test_tutorial3_leaky_and_a_feedforward_net_with_init_leaky():
    def flow(lib):
        out = {}
        lif = lib.Leaky(beta=0.8)
        mem, mems, spikes = torch.zeros(1), [], []
        for x in torch.cat((torch.zeros(10), torch.ones(190) * 0.21)):
            spk, mem = lif(x, mem)
            mems.append(mem)
            spikes.append(spk)
        out["single_mem"], out["single_spk"] = torch.stack(mems), torch.stack(spikes)

        torch.manual_seed(4)
        fc1, fc2 = nn.Linear(50, 30), nn.Linear(30, 5)
        lif1, lif2 = lib.Leaky(beta=0.99), lib.Leaky(beta=0.99)
        mem1, mem2 = lif1.init_leaky(), lif2.init_leaky()
        spk_in = (torch.rand(40, 1, 50) < 0.3).float()
        rec1, rec2, recm = [], [], []
        for x in spk_in:
            spk1, mem1 = lif1(fc1(x), mem1)
            spk2, mem2 = lif2(fc2(spk1), mem2)
            rec1.append(spk1)
            rec2.append(spk2)
            recm.append(mem2)
        out["hidden_spk"] = torch.stack(rec1).detach()
        out["out_spk"] = torch.stack(rec2).detach()
        out["out_mem"] = torch.stack(recm).detach()
        return out

    results = _both(flow)
    _assert_same(results)
    assert results["spikeforge"]["single_mem"].shape == (200,)
    assert results["spikeforge"]["hidden_spk"].sum() > 0
