"""Tutorials 5 (fully connected SNN on MNIST) and 6 (convolutional SNN with surrogate
gradients): the networks, losses and training steps of the notebooks on a batch of
MNIST-shaped random images, under snnTorch and spikeforge; every number must agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ._flows import assert_same, run_both, submodules

pytestmark = pytest.mark.parity


def _digits(n: int, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.slow
def test_tutorial5_fully_connected_training_and_accuracy():
    num_steps, beta, batch = 25, 0.95, 16
    images, targets = _digits(3 * batch)

    def flow(snn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(28 * 28, 1000)
                self.lif1 = snn.Leaky(beta=beta)
                self.fc2 = nn.Linear(1000, 10)
                self.lif2 = snn.Leaky(beta=beta)

            def forward(self, x):
                mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
                spk2_rec, mem2_rec = [], []
                for _ in range(num_steps):
                    spk1, mem1 = self.lif1(self.fc1(x), mem1)
                    spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                    spk2_rec.append(spk2)
                    mem2_rec.append(mem2)
                return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

        torch.manual_seed(11)
        net = Net()
        loss = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
        out = {}
        for it, (data, labels) in enumerate(zip(images.split(batch), targets.split(batch))):
            net.train()
            spk_rec, mem_rec = net(data.view(batch, -1))
            loss_val = torch.zeros((1), dtype=torch.float)
            for step in range(num_steps):
                loss_val += loss(mem_rec[step], labels)
            optimizer.zero_grad()
            loss_val.backward()
            out[f"grad_fc1_{it}"] = net.fc1.weight.grad.clone()
            optimizer.step()
            out[f"loss_{it}"] = loss_val.detach()
            out[f"spk_{it}"] = spk_rec.detach()
            _, idx = spk_rec.sum(dim=0).max(1)
            out[f"acc_{it}"] = float(np.mean((labels == idx).detach().cpu().numpy()))
        with torch.no_grad():
            net.eval()
            test_spk, test_mem = net(images[:batch].view(batch, -1))
        out["test_spk"], out["test_mem"] = test_spk, test_mem
        out["fc2_after"] = net.fc2.weight.detach().clone()
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, exact=[k for k in results["snntorch"] if "spk" in k])
    assert results["spikeforge"]["test_spk"].shape == (num_steps, batch, 10)
    assert results["spikeforge"]["spk_0"].sum() > 0


@pytest.mark.parametrize(
    "surrogate_from", ["fast_sigmoid", pytest.param("custom_function", marks=pytest.mark.slow)]
)
def test_tutorial6_convolutional_snn_with_reset_and_rate_loss(surrogate_from):
    beta, num_steps, batch = 0.5, 8, 4  # the notebook: 50 steps, batch 128
    images, targets = _digits(2 * batch, seed=4)
    images = images * 4  # brighter than MNIST: output spikes within 8 steps

    def flow(snn):
        sub = submodules(snn, "surrogate", "utils", "functional")
        SF = sub.functional

        if surrogate_from == "fast_sigmoid":
            spike_grad = sub.surrogate.fast_sigmoid(slope=25)
        else:  # the notebook's first section: a hand-written autograd Function

            class SpikeOperator(torch.autograd.Function):
                @staticmethod
                def forward(ctx, mem):
                    ctx.save_for_backward(mem)
                    return (mem > 0).float()

                @staticmethod
                def backward(ctx, grad_output):
                    (mem,) = ctx.saved_tensors
                    return grad_output / (25 * mem.abs() + 1.0) ** 2

            spike_grad = SpikeOperator.apply

        torch.manual_seed(12)
        net = nn.Sequential(
            nn.Conv2d(1, 12, 5),
            nn.MaxPool2d(2),
            snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
            nn.Conv2d(12, 64, 5),
            nn.MaxPool2d(2),
            snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 10),
            snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
        )

        def forward_pass(data):
            mem_rec, spk_rec = [], []
            sub.utils.reset(net)
            for _ in range(num_steps):
                spk_out, mem_out = net(data)
                spk_rec.append(spk_out)
                mem_rec.append(mem_out)
            return torch.stack(spk_rec), torch.stack(mem_rec)

        loss_fn = SF.ce_rate_loss()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999))
        out = {}
        for it, (data, labels) in enumerate(zip(images.split(batch), targets.split(batch))):
            net.train()
            spk_rec, mem_rec = forward_pass(data)
            loss_val = loss_fn(spk_rec, labels)
            optimizer.zero_grad()
            loss_val.backward()
            out[f"grad_conv1_{it}"] = net[0].weight.grad.clone()
            optimizer.step()
            # snnTorch's ce_rate_loss returns shape (1,), ours 0-d like every other loss
            out[f"loss_{it}"] = loss_val.detach().reshape(())
            out[f"loss_shape_{it}"] = tuple(loss_val.shape)
            out[f"acc_{it}"] = float(SF.accuracy_rate(spk_rec, labels))
            out[f"spk_{it}"] = spk_rec.detach()
            out[f"mem_{it}"] = mem_rec.detach()
        with torch.no_grad():
            net.eval()
            test_spk, _ = forward_pass(images[:batch])
        out["test_spk"] = test_spk
        return out

    results = run_both(flow)
    for it in range(2):  # the documented difference: a 0-d loss
        assert results["snntorch"].pop(f"loss_shape_{it}") == (1,)
        assert results["spikeforge"].pop(f"loss_shape_{it}") == ()
    assert_same(results, atol=1e-5, exact=[k for k in results["snntorch"] if "spk" in k])
    assert sum(v.sum() for k, v in results["spikeforge"].items() if "spk" in k) > 0


def test_tutorial6_class_net_single_step_from_init_leaky():
    """Tutorial 6's first network: a ``Net`` class whose ``forward`` starts three step-API
    Leaky layers from ``init_leaky()`` and runs one step (``F.max_pool2d`` between convs)."""
    import torch.nn.functional as F

    images, _ = _digits(4, seed=7)

    def flow(snn):
        spike_grad = submodules(snn, "surrogate").surrogate.fast_sigmoid(slope=25)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 12, 5)
                self.lif1 = snn.Leaky(beta=0.5, spike_grad=spike_grad)
                self.conv2 = nn.Conv2d(12, 64, 5)
                self.lif2 = snn.Leaky(beta=0.5, spike_grad=spike_grad)
                self.fc1 = nn.Linear(64 * 4 * 4, 10)
                self.lif3 = snn.Leaky(beta=0.5, spike_grad=spike_grad)

            def forward(self, x):
                mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
                mem3 = self.lif3.init_leaky()
                spk1, mem1 = self.lif1(F.max_pool2d(self.conv1(x), 2), mem1)
                spk2, mem2 = self.lif2(F.max_pool2d(self.conv2(spk1), 2), mem2)
                spk3, mem3 = self.lif3(self.fc1(spk2.view(x.shape[0], -1)), mem3)
                return spk3, mem3

        torch.manual_seed(14)
        net = Net()
        spk, mem = net(images * 6)
        mem.sum().backward()
        return {"spk": spk.detach(), "mem": mem.detach(), "grad": net.conv1.weight.grad}

    results = run_both(flow)
    assert_same(results, atol=1e-5, exact=("spk",))
