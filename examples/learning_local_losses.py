"""Local losses on MNIST: each spiking block learns from its own readout, next to BPTT.

Two blocks 784 -> 128 Leaky -> 128 Leaky, each with a linear readout of its firing rate.
``--rule local`` detaches between blocks and sums the per-block cross-entropies;
``--rule bptt`` trains the same blocks end to end through the last readout only.

    python examples/learning_local_losses.py --rule local --epochs 1
"""

from __future__ import annotations

import time

import torch
from _learning_common import base_parser, batches, evaluate, mnist, rate_code, report
from torch import nn

from spikeforge.learning import LocalLossNet, RateReadout, SpikingDense, local_loss


def build(hidden: int) -> LocalLossNet:
    blocks = [SpikingDense(784, hidden), SpikingDense(hidden, hidden)]
    readouts = [RateReadout(hidden, 10), RateReadout(hidden, 10)]
    return LocalLossNet(blocks, readouts)


def end_to_end(net: LocalLossNet, x: torch.Tensor) -> torch.Tensor:
    """The same blocks without the detach: the last readout's logits."""
    h = x
    for block in net.blocks:
        h, _ = block(h)
    return net.readouts[-1](h)


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rule", choices=["local", "bptt"], default="local")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = mnist(args.train, args.test)
    net = build(args.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    for _ in range(args.epochs):
        for xb, yb in batches(xtr, ytr, args.batch, gen):
            spikes = rate_code(xb, args.steps, gen)
            if args.rule == "local":
                loss, _ = local_loss(net(spikes), yb)
            else:
                loss = nn.functional.cross_entropy(end_to_end(net, spikes), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    trained = time.perf_counter() - started
    test_gen = torch.Generator().manual_seed(args.seed + 1)
    accuracy = evaluate(
        lambda s: net.predict(s).argmax(-1),
        xte,
        yte,
        lambda xb: rate_code(xb, args.steps, test_gen),
    )
    extra = {}
    if args.rule == "local":
        first = evaluate(
            lambda s: net(s)[0].argmax(-1), xte, yte, lambda xb: rate_code(xb, args.steps, test_gen)
        )
        extra["first_block_accuracy"] = round(first, 4)
    return report(args.rule, accuracy, args, trained, **extra)


if __name__ == "__main__":
    main()
