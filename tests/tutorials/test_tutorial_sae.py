"""The spiking-autoencoder tutorial: a conv encoder (BatchNorm, ``Leaky(init_hidden=True,
threshold=thresh)``, a latent ``Leaky(output=True)``), a linear bridge, a transposed-conv
decoder whose last ``Leaky`` has ``threshold=20000`` so its membrane is the image; every
forward resets the three ``nn.Sequential`` parts with ``utils.reset``; MSE on the last
step's membrane, AdamW. Shrunk: latent 8, batch 4, two iterations and a test pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ._flows import assert_same, run_both, submodules

pytestmark = pytest.mark.parity


@pytest.mark.slow
def test_spiking_autoencoder_training_and_test_pass():
    num_steps, latent_dim, beta, thresh, batch = 5, 8, 0.5, 1, 4
    g = torch.Generator().manual_seed(14)
    images = torch.rand(3 * batch, 1, 32, 32, generator=g)

    def flow(snn):
        sub = submodules(snn, "surrogate", "utils")
        spike_grad = sub.surrogate.atan(alpha=2.0)

        def leaky(**kw):
            kw.setdefault("threshold", thresh)
            return snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, **kw)

        class SAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(
                    nn.Conv2d(1, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), leaky(),
                    nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), leaky(),
                    nn.Conv2d(64, 128, 3, padding=1, stride=2), nn.BatchNorm2d(128), leaky(),
                    nn.Flatten(start_dim=1, end_dim=3),
                    nn.Linear(128 * 4 * 4, latent_dim), leaky(output=True),
                )  # fmt: skip
                self.linearNet = nn.Sequential(
                    nn.Linear(latent_dim, 128 * 4 * 4), leaky(output=True)
                )
                self.decoder = nn.Sequential(
                    nn.Unflatten(1, (128, 4, 4)), leaky(),
                    nn.ConvTranspose2d(128, 64, 3, padding=1, stride=(2, 2), output_padding=1),
                    nn.BatchNorm2d(64), leaky(),
                    nn.ConvTranspose2d(64, 32, 3, padding=1, stride=(2, 2), output_padding=1),
                    nn.BatchNorm2d(32), leaky(),
                    nn.ConvTranspose2d(32, 1, 3, padding=1, stride=(2, 2), output_padding=1),
                    leaky(output=True, threshold=20000),
                )  # fmt: skip

            def forward(self, x):
                sub.utils.reset(self.encoder)
                sub.utils.reset(self.decoder)
                sub.utils.reset(self.linearNet)
                spk_rec, spk_mem = [], []
                for _ in range(num_steps):
                    spk_x, mem_x = self.encoder(x)
                    spk_rec.append(spk_x)
                    spk_mem.append(mem_x)
                spk_rec = torch.stack(spk_rec, dim=2)
                spk_mem2 = []
                for step in range(num_steps):
                    spk_x, _ = self.linearNet(spk_rec[..., step])
                    _, x_mem_recon = self.decoder(spk_x)
                    spk_mem2.append(x_mem_recon)
                self.latent_spikes = spk_rec.detach()
                return torch.stack(spk_mem2, dim=4)[:, :, :, :, -1]

        torch.manual_seed(29)
        net = SAE()
        opti = torch.optim.AdamW(
            net.parameters(), lr=0.0001, betas=(0.9, 0.999), weight_decay=0.001
        )
        out = {}
        net = net.train()
        for it, real_img in enumerate(images[: 2 * batch].split(batch)):
            opti.zero_grad()
            x_recon = net(real_img)
            loss_val = F.mse_loss(x_recon, real_img)
            loss_val.backward()
            out[f"grad_{it}"] = net.encoder[0].weight.grad.clone()
            opti.step()
            out[f"loss_{it}"] = loss_val.item()
            out[f"latent_spk_{it}"] = net.latent_spikes
        net = net.eval()
        with torch.no_grad():
            x_recon = net(images[2 * batch :])
            out["test_loss"] = F.mse_loss(x_recon, images[2 * batch :]).item()
            out["recon"] = x_recon
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5, exact=("latent_spk_0", "latent_spk_1"))
    assert results["spikeforge"]["recon"].shape == (batch, 1, 32, 32)
