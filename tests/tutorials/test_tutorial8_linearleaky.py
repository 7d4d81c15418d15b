"""Tutorial 8 (state-space SNNs): tutorial 5's network with ``StateLeaky(beta=0.95,
channels=1)`` layers applied to whole ``[T, B, features]`` sequences (the one channel
broadcast over 1000 and 10 features), CE summed over steps, Adam; and the same pattern with
``LinearLeaky`` replacing each ``nn.Linear`` + ``StateLeaky`` pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ._flows import assert_same, run_both

pytestmark = pytest.mark.parity


@pytest.mark.parametrize(
    "layers", ["stateleaky", pytest.param("linearleaky", marks=pytest.mark.slow)]
)
def test_tutorial8_state_space_network_training(layers):
    num_steps, beta, batch = 5, 0.95, 16
    g = torch.Generator().manual_seed(6)
    images, targets = (
        torch.rand(3 * batch, 1, 28, 28, generator=g),
        torch.randint(0, 10, (3 * batch,), generator=g),
    )

    def flow(snn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                if layers == "stateleaky":
                    self.fc1 = nn.Linear(28 * 28, 1000)
                    self.lif1 = snn.StateLeaky(beta=beta, channels=1)
                    self.fc2 = nn.Linear(1000, 10)
                    self.lif2 = snn.StateLeaky(beta=beta, channels=1)
                else:
                    self.fc1, self.fc2 = nn.Identity(), nn.Identity()
                    self.lif1 = snn.LinearLeaky(beta=beta, in_features=28 * 28, out_features=1000)
                    self.lif2 = snn.LinearLeaky(beta=beta, in_features=1000, out_features=10)

            def forward(self, x):
                spk1, _ = self.lif1(self.fc1(x))
                return self.lif2(self.fc2(spk1))

        torch.manual_seed(13)
        net = Net()
        loss = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))

        def sequence(data):
            return data.view(batch, -1).unsqueeze(0).expand(num_steps, -1, -1)

        out = {}
        for it, (data, labels) in enumerate(zip(images.split(batch), targets.split(batch))):
            net.train()
            spk_rec, mem_rec = net(sequence(data))
            loss_val = torch.zeros((1), dtype=torch.float)
            for step in range(num_steps):
                loss_val += loss(mem_rec[step], labels)
            optimizer.zero_grad()
            loss_val.backward()
            first = net.fc1 if layers == "stateleaky" else net.lif1.linear
            out[f"grad_{it}"] = first.weight.grad.clone()
            optimizer.step()
            out[f"loss_{it}"] = loss_val.detach()
            out[f"spk_{it}"] = spk_rec.detach()
            with torch.no_grad():
                net.eval()
                output, test_mem = net(sequence(images[:batch]))
                _, idx = output.sum(dim=0).max(1)
                out[f"test_acc_{it}"] = float(np.mean((targets[:batch] == idx).numpy()))
                out[f"test_mem_{it}"] = test_mem
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5, exact=[k for k in results["snntorch"] if "spk" in k])
    assert results["spikeforge"]["test_mem_0"].shape == (num_steps, batch, 10)
