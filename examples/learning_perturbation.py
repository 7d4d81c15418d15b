"""Weight and node perturbation on a small spiking net (MNIST at 14x14), next to BPTT.

The network is 196 -> 64 Leaky -> 10 Leaky on rate-coded digits downsampled to 14x14; the
loss is the cross-entropy of the output layer's mean membrane. ``--rule node`` perturbs the
input currents of both layers (per-sample losses weigh their own noise), ``--rule weight``
perturbs every weight, ``--rule bptt`` is backprop through time on the same net and loss.
No perturbation rule ever calls ``backward``.

    python examples/learning_perturbation.py --rule node --epochs 1
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from _learning_common import base_parser, batches, evaluate, mnist, rate_code, report
from torch import nn

from spikeforge.learning import NodePerturbation, SpikingDense, WeightPerturbation


class SmallSNN(nn.Module):
    """``196 -> hidden Leaky -> 10 Leaky`` (``hidden=0``: ``196 -> 10 Leaky``)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        if hidden:
            self.layers.append(SpikingDense(196, hidden, beta=0.9))
        self.layers.append(SpikingDense(hidden or 196, 10, beta=0.9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: the output layer's mean membrane, ``[B, 10]``."""
        for layer in self.layers:
            x, mem = layer(x)
        return mem.mean(0)


def downsample(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images.view(-1, 1, 28, 28), 2).flatten(1)


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rule", choices=["node", "weight", "bptt"], default="node")
    parser.add_argument("--sigma", type=float, default=None)
    parser.set_defaults(hidden=0, batch=64, steps=8, lr=None)
    args = parser.parse_args(argv)
    defaults = {"node": (2.0, 0.3), "weight": (0.1, 0.01), "bptt": (2e-3, None)}
    lr, sigma = defaults[args.rule]
    args.lr = args.lr if args.lr is not None else lr
    args.sigma = args.sigma if args.sigma is not None else sigma
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = mnist(args.train, args.test)
    xtr, xte = downsample(xtr), downsample(xte)
    net = SmallSNN(args.hidden)
    gen = torch.Generator().manual_seed(args.seed)
    if args.rule == "node":
        opt = NodePerturbation(
            [layer.fc for layer in net.layers], args.lr, args.sigma, seed=args.seed
        )
    elif args.rule == "weight":
        opt = WeightPerturbation(net.parameters(), args.lr, args.sigma, seed=args.seed)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    started = time.perf_counter()
    for _ in range(args.epochs):
        for xb, yb in batches(xtr, ytr, args.batch, gen):
            spikes = rate_code(xb, args.steps, gen)
            if args.rule == "node":
                # per-sample losses (each sample's ΔL weighs its own noise), mean-scaled
                opt.step(
                    lambda s=spikes, y=yb: F.cross_entropy(net(s), y, reduction="none") / len(y)
                )
            elif args.rule == "weight":
                opt.step(lambda s=spikes, y=yb: F.cross_entropy(net(s), y))
            else:
                loss = F.cross_entropy(net(spikes), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
    trained = time.perf_counter() - started
    test_gen = torch.Generator().manual_seed(args.seed + 1)
    accuracy = evaluate(
        lambda s: net(s).argmax(-1), xte, yte, lambda xb: rate_code(xb, args.steps, test_gen)
    )
    return report(args.rule, accuracy, args, trained, lr=args.lr, sigma=args.sigma)


if __name__ == "__main__":
    main()
