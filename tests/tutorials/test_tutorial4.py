"""Tutorial 4 (second-order neurons): Synaptic driven by a periodic 0-d input from
``init_synaptic()``'s empty states, and Alpha (threshold 0.5) driven by ``(1,)``-shaped
weighted spikes from ``init_alpha()``; spikes and every state trace as in snnTorch."""

from __future__ import annotations

import pytest
import torch

from ._flows import assert_same, run_both

pytestmark = pytest.mark.parity


def test_tutorial4_synaptic_and_alpha_neurons():
    num_steps = 200

    def flow(snn):
        out = {}
        lif1 = snn.Synaptic(alpha=0.9, beta=0.8)
        spk_in = torch.cat((torch.ones(1) * 0.2, torch.zeros(9)), 0).repeat(20)
        syn, mem = lif1.init_synaptic()
        spikes, syns, mems = [], [], []
        for step in range(num_steps):
            spk_out, syn, mem = lif1(spk_in[step], syn, mem)
            spikes.append(spk_out)
            syns.append(syn)
            mems.append(mem)
        out["syn_spk"], out["syn_syn"], out["syn_mem"] = map(torch.stack, (spikes, syns, mems))

        lif2 = snn.Alpha(alpha=0.8, beta=0.7, threshold=0.5)
        periodic = torch.cat((torch.ones(1), torch.zeros(9)), 0).repeat(10)
        spk_in = torch.cat((torch.zeros(10), torch.ones(1), torch.zeros(89), periodic)) * 0.85
        spk_in = spk_in.unsqueeze(1)
        syn_exc, syn_inh, mem = lif2.init_alpha()
        spikes, mems = [], []
        for step in range(num_steps):
            spk_out, syn_exc, syn_inh, mem = lif2(spk_in[step], syn_exc, syn_inh, mem)
            mems.append(mem.squeeze(0))
            spikes.append(spk_out.squeeze(0))
        out["alpha_spk"], out["alpha_mem"] = torch.stack(spikes), torch.stack(mems)
        out["alpha_exc_inh"] = torch.stack((syn_exc, syn_inh))
        return out

    results = run_both(flow)
    assert_same(results, exact=("syn_spk", "alpha_spk"))
    ours = results["spikeforge"]
    assert ours["syn_mem"].shape == (num_steps,)  # 0-d steps, as snnTorch
    assert ours["alpha_spk"].shape == (num_steps,)
    assert ours["syn_spk"].sum() > 0 and ours["alpha_spk"].sum() > 0
