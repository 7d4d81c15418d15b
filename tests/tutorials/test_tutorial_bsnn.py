"""The binarized-SNN tutorial (BSNN): convolution and linear layers whose weights are
binarized to ±1 in the forward pass (a straight-through estimator: plain PyTorch, no library
call), batch norm, max pooling, dropout and three step-API ``Leaky(beta, threshold)`` layers
started from ``init_leaky()``; CE on the spike count, Adam; validation by the count, test by
the mean over steps; the best model saved with ``torch.save(state_dict)`` and restored with
``load_state_dict``. The notebook's ``32*5*5`` linear input implies unpadded 3×3
convolutions on 28×28 images, as here. Its config values (thresholds, β, steps, rate) are
not in the parts read; the ones below are stand-ins. Data: Fashion-MNIST-shaped, in [-1, 1]."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ._flows import assert_same, run_both

pytestmark = pytest.mark.parity

CONFIG = {"threshold1": 0.5, "threshold2": 0.5, "threshold3": 0.5, "beta": 0.9,
          "num_steps": 5, "batch_norm": True, "dropout": 0.2, "lr": 1e-3}  # fmt: skip


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
        return F.conv2d(x, _Sign.apply(self.weight), self.bias)  # unpadded


class BinaryLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, _Sign.apply(self.weight), self.bias)


@pytest.mark.slow
def test_binarized_snn_train_validate_save_and_test(tmp_path):
    batch = 8
    g = torch.Generator().manual_seed(12)
    images = torch.rand(3 * batch, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.randint(0, 10, (3 * batch,), generator=g)

    def flow(snn):
        class BSNN(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.beta, self.num_steps = config["beta"], config["num_steps"]
                self.batch_norm = config["batch_norm"]
                self.bin_conv_1 = BinaryConv2d(1, 16, kernel_size=3, padding="same", bias=False)
                self.batch_norm_1 = nn.BatchNorm2d(16)
                self.max_pool_1 = nn.MaxPool2d(kernel_size=2)
                self.lif1 = snn.Leaky(beta=self.beta, threshold=config["threshold1"])
                self.bin_conv_2 = BinaryConv2d(16, 32, kernel_size=3, padding="same", bias=False)
                self.batch_norm_2 = nn.BatchNorm2d(32)
                self.max_pool_2 = nn.MaxPool2d(kernel_size=2)
                self.lif2 = snn.Leaky(beta=self.beta, threshold=config["threshold2"])
                self.flatten = nn.Flatten()
                self.bin_fully_connected_1 = BinaryLinear(32 * 5 * 5, 10)
                self.dropout = nn.Dropout(config["dropout"])
                self.lif3 = snn.Leaky(beta=self.beta, threshold=config["threshold3"])

            def forward(self, inpt):
                mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
                mem3 = self.lif3.init_leaky()
                spike3_rec, mem3_rec = [], []
                for _ in range(self.num_steps):
                    current1 = self.bin_conv_1(inpt)
                    current1 = self.batch_norm_1(current1) if self.batch_norm else current1
                    spike1, mem1 = self.lif1(self.max_pool_1(current1), mem1)
                    current2 = self.bin_conv_2(spike1)
                    current2 = self.batch_norm_2(current2) if self.batch_norm else current2
                    spike2, mem2 = self.lif2(self.max_pool_2(current2), mem2)
                    current3 = self.bin_fully_connected_1(self.flatten(spike2))
                    spike3, mem3 = self.lif3(self.dropout(current3), mem3)
                    spike3_rec.append(spike3)
                    mem3_rec.append(mem3)
                return torch.stack(spike3_rec, dim=0), torch.stack(mem3_rec, dim=0)

        torch.manual_seed(23)
        model = BSNN(CONFIG)
        optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
        criterion = nn.CrossEntropyLoss()
        out = {}
        model.train()
        for it, (data, targets) in enumerate(
            zip(images[:16].split(batch), labels[:16].split(batch))
        ):
            optimizer.zero_grad()
            spike_out, _ = model(data)
            output = spike_out.sum(dim=0)
            loss = criterion(output, targets)
            _, predicted = torch.max(output.data, 1)
            loss.backward()
            out[f"grad_conv_{it}"] = model.bin_conv_1.weight.grad.clone()
            optimizer.step()
            out[f"loss_{it}"], out[f"pred_{it}"] = loss.item(), predicted
            out[f"spk_{it}"] = spike_out.detach()
        path = tmp_path / f"best_BSNN_model_{snn.__name__}.pth"
        torch.save(model.state_dict(), path)
        model.eval()
        with torch.no_grad():
            spike_out, _ = model(images[16:])
            out["val_loss"] = criterion(spike_out.sum(dim=0), labels[16:]).item()
            model.load_state_dict(torch.load(path))
            outputs, _ = model(images[16:])
            outputs = outputs.mean(dim=0)
            out["test_loss"] = criterion(outputs, labels[16:]).item()
            out["test_pred"] = torch.max(outputs.data, 1)[1]
        return out

    results = run_both(flow)
    assert_same(results, atol=1e-5, rtol=1e-5,
                exact=("spk_0", "spk_1", "pred_0", "pred_1", "test_pred"))  # fmt: skip
    assert results["spikeforge"]["spk_0"].shape == (CONFIG["num_steps"], batch, 10)
    assert results["spikeforge"]["spk_0"].sum() > 0
