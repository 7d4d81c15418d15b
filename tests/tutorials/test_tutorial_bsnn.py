"""The binarized-SNN tutorial's pattern: convolution and linear layers whose weights are
binarized to ±1 in the forward pass (a straight-through estimator: plain PyTorch, no library
call), batch norm, max pooling and ``Leaky(init_hidden=True)`` neurons with the ``atan`` and
``fast_sigmoid`` surrogates inside ``nn.Sequential``, reset with ``utils.reset`` per batch and
trained with Adam on Fashion-MNIST-shaped data (normalised to [-1, 1])."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ._flows import assert_same, run_both, submodules

pytestmark = pytest.mark.parity


class _Sign(torch.autograd.Function):
    """±1 forward, identity gradient (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, w):
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad):
        return grad


class BinaryConv2d(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, _Sign.apply(self.weight), self.bias, self.stride, self.padding)


class BinaryLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, _Sign.apply(self.weight), self.bias)


def test_binarized_snn_training_steps():
    num_steps, batch = 6, 8
    g = torch.Generator().manual_seed(12)
    images = torch.rand(2 * batch, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.randint(0, 10, (2 * batch,), generator=g)

    def flow(snn):
        sub = submodules(snn, "surrogate", "utils", "functional")
        torch.manual_seed(23)
        net = nn.Sequential(
            BinaryConv2d(1, 8, 5, bias=False),
            nn.BatchNorm2d(8),
            nn.MaxPool2d(2),
            snn.Leaky(beta=0.5, spike_grad=sub.surrogate.atan(), init_hidden=True),
            BinaryConv2d(8, 16, 5, bias=False),
            nn.BatchNorm2d(16),
            nn.MaxPool2d(2),
            snn.Leaky(beta=0.5, spike_grad=sub.surrogate.fast_sigmoid(), init_hidden=True),
            nn.Flatten(),
            BinaryLinear(16 * 4 * 4, 10, bias=False),
            snn.Leaky(beta=0.5, spike_grad=sub.surrogate.atan(), init_hidden=True, output=True),
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        out = {}
        for it, (data, targets) in enumerate(zip(images.split(batch), labels.split(batch))):
            net.train()
            sub.utils.reset(net)
            spk_rec, mem_rec = [], []
            for _ in range(num_steps):
                spk, mem = net(data)
                spk_rec.append(spk)
                mem_rec.append(mem)
            spk_rec, mem_rec = torch.stack(spk_rec), torch.stack(mem_rec)
            loss = sum(loss_fn(mem_rec[t], targets) for t in range(num_steps))
            optimizer.zero_grad()
            loss.backward()
            out[f"grad_conv_{it}"] = net[0].weight.grad.clone()
            optimizer.step()
            out[f"loss_{it}"] = loss.item()
            out[f"spk_{it}"] = spk_rec.detach()
            out[f"acc_{it}"] = float(sub.functional.accuracy_rate(spk_rec, targets))
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5, exact=("spk_0", "spk_1"))
    assert results["spikeforge"]["spk_0"].shape == (num_steps, batch, 10)
