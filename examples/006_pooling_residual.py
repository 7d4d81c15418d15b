"""An SNN with pooling on spikes and a residual connection, as the first seed recommends.

    python examples/006_pooling_residual.py [--small] [--pool-on spikes|current]

    conv 8C3 → Leaky → max-pool on spikes → conv 16C3 → Leaky ─┬→ conv 16C3 → Leaky → (+) →
                                                              └──────── identity ──────┘
    → max-pool on spikes → FC10 → Leaky

Max-pooling binary spikes passes a spike when any neuron in the window fired (an OR). The
residual block adds the block's input spikes to its output spikes (spike-element-wise ADD), so
a block that fires nothing still passes its input on, and the gradient has a short path back.
``--pool-on current`` pools the currents before the neurons instead, for comparison.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

import spikeforge as snn
from spikeforge.datasets import load_mnist_arrays


def over_time(fn, seq: torch.Tensor) -> torch.Tensor:
    """A stateless function on every step of ``seq [T, B, ...]`` in one call."""
    out = fn(seq.flatten(0, 1))
    return out.reshape(*seq.shape[:2], *out.shape[1:])


def leaky(beta: float) -> snn.Leaky:
    return snn.Leaky(beta=beta, step_mode="multi")


class PoolResidualSNN(nn.Module):
    def __init__(self, num_steps: int, beta: float = 0.9, pool_on: str = "spikes"):
        super().__init__()
        if pool_on not in ("spikes", "current"):
            raise ValueError(f"pool_on must be 'spikes' or 'current', got {pool_on!r}")
        self.num_steps, self.pool_on = num_steps, pool_on
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)  # the residual block
        self.fc = nn.Linear(16 * 7 * 7, 10)
        self.lif1, self.lif2, self.lif3, self.lif4 = (leaky(beta) for _ in range(4))

    def forward(self, x):
        for lif in (self.lif1, self.lif2, self.lif3, self.lif4):
            lif.reset_mem()
        pool_spikes = self.pool_on == "spikes"
        cur1 = self.conv1(x)  # the image is the same at every step: convolve it once
        if not pool_spikes:
            cur1 = F.max_pool2d(cur1, 2)
        spk1, _ = self.lif1(cur1.expand(self.num_steps, *cur1.shape))
        if pool_spikes:
            spk1 = over_time(lambda s: F.max_pool2d(s, 2), spk1)  # [T, B, 8, 14, 14]
        spk2, _ = self.lif2(over_time(self.conv2, spk1))  # [T, B, 16, 14, 14]
        spk3, _ = self.lif3(over_time(self.conv3, spk2))
        res = spk3 + spk2  # residual: spike-element-wise ADD
        if pool_spikes:
            res = over_time(lambda s: F.max_pool2d(s, 2), res)
            spk_out, mem_out = self.lif4(self.fc(res.flatten(2)))
        else:
            cur4 = self.fc(over_time(lambda s: F.max_pool2d(s, 2), res).flatten(2))
            spk_out, mem_out = self.lif4(cur4)
        self.spike_count = sum(float(s.detach().sum()) for s in (spk1, spk2, spk3, spk_out))
        return spk_out, mem_out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20 batches, 1000 test images")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pool-on", choices=("spikes", "current"), default="spikes")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train_x, train_y = (torch.from_numpy(a) for a in load_mnist_arrays(train=True))
    test_x, test_y = (torch.from_numpy(a) for a in load_mnist_arrays(train=False))
    train_x, test_x = train_x.view(-1, 1, 28, 28), test_x.view(-1, 1, 28, 28)
    if args.small:
        test_x, test_y = test_x[:1000], test_y[:1000]
    batch_size = 128
    n_batches = 20 if args.small else len(train_y) // batch_size

    net = PoolResidualSNN(args.steps, pool_on=args.pool_on)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    order = torch.randperm(len(train_y))
    start = time.perf_counter()
    net.train()
    for b in range(n_batches):
        idx = order[b * batch_size : (b + 1) * batch_size]
        _, mem = net(train_x[idx])
        loss = F.cross_entropy(mem.flatten(0, 1), train_y[idx].repeat(args.steps)) * args.steps
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if b % 50 == 0:
            print(f"iteration {b}: loss {loss.item():.3f}", flush=True)
    seconds = time.perf_counter() - start
    net.eval()
    correct = spikes = 0.0
    with torch.no_grad():
        for first in range(0, len(test_y), 500):
            spk, mem = net(test_x[first : first + 500])
            counts, membrane = spk.sum(0), mem.sum(0)  # most spikes; ties by membrane
            tied = counts == counts.max(1, keepdim=True).values
            pred = torch.where(tied, membrane, torch.full_like(membrane, -torch.inf)).argmax(1)
            correct += float((pred == test_y[first : first + 500]).sum())
            spikes += net.spike_count
    accuracy = 100.0 * correct / len(test_y)
    print(
        f"\npooling on {args.pool_on}, residual block, T={args.steps}: test accuracy "
        f"{accuracy:.2f}% after {n_batches} batches ({seconds:.1f} s); "
        f"{spikes / len(test_y):.0f} spikes per inference"
    )
    return {"accuracy": accuracy, "seconds": seconds, "spikes": spikes / len(test_y)}


if __name__ == "__main__":
    main()
