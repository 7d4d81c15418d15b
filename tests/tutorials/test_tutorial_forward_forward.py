"""The forward-forward tutorial: ``nn.Linear`` subclasses whose activation is a one-step
``Leaky(beta=0.8)`` from ``init_leaky()``, each trained locally with Adam on the softplus
goodness loss of positive (true label overlaid) and negative (shuffled label) samples, then
``predict`` by the summed goodness per label. Shrunk: 784-100-100, 10 local epochs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ._flows import assert_same, run_both

pytestmark = pytest.mark.parity


def overlay_y_on_x(x, y):
    """The first 10 pixels become a one-hot code of ``y`` (at ``x.max()``)."""
    x_ = x.clone()
    x_[:, :10] *= 0.0
    x_[range(x.shape[0]), y] = x.max()
    return x_


def test_forward_forward_with_one_step_leaky_layers():
    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(32, 784, generator=g), torch.randint(0, 10, (32,), generator=g)
    x_te = torch.rand(32, 784, generator=g)

    def flow(snn):
        class LeakyLayer(nn.Linear):
            def __init__(self, in_features, out_features):
                super().__init__(in_features, out_features, bias=False)
                self.activation = snn.Leaky(beta=0.8)
                self.opt = torch.optim.Adam(self.parameters(), lr=0.03)
                self.threshold = 5.0
                self.num_epochs = 10

            def forward(self, x):
                mem = self.activation.init_leaky()
                x_direction = x / (torch.norm(x, p=2, dim=1, keepdim=True) + 1e-4)
                weighted_input = torch.mm(x_direction, self.weight.T)
                _, potential = self.activation(weighted_input, mem)
                return potential

            def train(self, x_pos, x_neg):  # the tutorial overrides Module.train
                tot_loss = []
                for _ in range(self.num_epochs):
                    g_pos = self.forward(x_pos).pow(2).mean(1)
                    g_neg = self.forward(x_neg).pow(2).mean(1)
                    loss = F.softplus(torch.cat([-g_pos + self.threshold, g_neg - self.threshold]))
                    loss = loss.mean()
                    self.opt.zero_grad()
                    loss.backward()
                    self.opt.step()
                    tot_loss.append(loss.item())
                return (self.forward(x_pos).detach(), self.forward(x_neg).detach()), tot_loss

        class Net(nn.Module):
            def __init__(self, dims):
                super().__init__()
                self.layers = nn.ModuleList(
                    [LeakyLayer(dims[d], dims[d + 1]) for d in range(len(dims) - 1)]
                )

            def predict(self, x):
                goodness_per_label = []
                for label in range(10):
                    h = overlay_y_on_x(x, label)
                    goodness = []
                    for layer in self.layers:
                        h = layer(h)
                        goodness.append(h.pow(2).mean(1))
                    goodness_per_label.append(sum(goodness).unsqueeze(1))
                return torch.cat(goodness_per_label, 1).argmax(1)

            def train(self, x_pos, x_neg):
                h_pos, h_neg, layer_losses = x_pos, x_neg, []
                for layer in self.layers:
                    (h_pos, h_neg), loss = layer.train(h_pos, h_neg)
                    layer_losses.append(loss)
                return torch.tensor(layer_losses)

        torch.manual_seed(123)
        net = Net([784, 100, 100])
        x_pos = overlay_y_on_x(x, y)
        rnd = torch.randperm(x.size(0))
        x_neg = overlay_y_on_x(x, y[rnd])
        out = {"losses": net.train(x_pos, x_neg)}
        out["train_pred"] = net.predict(x)
        out["test_pred"] = net.predict(x_te)
        out["train_error"] = 1.0 - out["train_pred"].eq(y).float().mean().item()
        out["w1"] = net.layers[1].weight.detach().clone()
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5, exact=("train_pred", "test_pred"))
    losses = results["spikeforge"]["losses"]
    assert losses.shape == (2, 10) and losses[0, -1] < losses[0, 0]  # the local loss falls
