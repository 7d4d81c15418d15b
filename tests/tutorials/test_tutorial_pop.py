"""The population-coding tutorial: ``nn.Sequential`` nets of ``init_hidden`` Leaky layers
(10 outputs, or 500 outputs pooled into 10 classes), trained for one step per sample with
``backprop.BPTT(..., time_var=False)`` and ``SF.mse_count_loss(correct_rate=1.0,
incorrect_rate=0.0[, population_code=True, num_classes=10])``, evaluated with
``utils.reset`` and ``SF.accuracy_rate(spk.unsqueeze(0), ...)``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ._flows import assert_same, run_both, submodules

pytestmark = pytest.mark.parity


class Digits(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 1, 28, 28, generator=g)
        self.labels = torch.arange(n) % 10

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


@pytest.mark.parametrize("population", [False, True])
def test_population_coding_bptt_training(population):
    num_steps, outputs = 1, 500 if population else 10
    train_loader = torch.utils.data.DataLoader(Digits(48, 1), batch_size=16, drop_last=True)
    test_loader = torch.utils.data.DataLoader(Digits(32, 2), batch_size=16, drop_last=True)

    def flow(snn):
        sub = submodules(snn, "surrogate", "functional", "utils", "backprop")
        SF = sub.functional
        grad = sub.surrogate.fast_sigmoid()
        torch.manual_seed(17)
        net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 128),
            snn.Leaky(beta=0.9, spike_grad=grad, init_hidden=True),
            nn.Linear(128, outputs),
            snn.Leaky(beta=0.9, spike_grad=grad, init_hidden=True, output=True),
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.9, 0.999))
        if population:
            loss_fn = SF.mse_count_loss(
                correct_rate=1.0, incorrect_rate=0.0, population_code=True, num_classes=10
            )
        else:
            loss_fn = SF.mse_count_loss(correct_rate=1.0, incorrect_rate=0.0)

        def test_accuracy():
            with torch.no_grad():
                total, acc = 0, 0
                net.eval()
                for data, targets in test_loader:
                    sub.utils.reset(net)
                    spk_rec, _ = net(data)
                    if population:
                        acc += SF.accuracy_rate(
                            spk_rec.unsqueeze(0), targets, population_code=True, num_classes=10
                        ) * spk_rec.size(1)
                    else:
                        acc += SF.accuracy_rate(spk_rec.unsqueeze(0), targets) * spk_rec.size(1)
                    total += spk_rec.size(1)
            return float(acc / total)

        out = {}
        for epoch in range(2):
            avg_loss = sub.backprop.BPTT(net, train_loader, num_steps=num_steps,
                                         optimizer=optimizer, criterion=loss_fn,
                                         time_var=False, device="cpu")  # fmt: skip
            out[f"avg_loss_{epoch}"] = float(avg_loss)
            out[f"test_acc_{epoch}"] = test_accuracy()
        out["fc_out"] = net[3].weight.detach().clone()
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5)
