"""Feedback alignment (FA) and direct feedback alignment (DFA) on MNIST, next to BPTT.

The network is 784 -> 128 Leaky -> 10 Leaky on rate-coded digits. ``--rule fa`` replaces
every ``nn.Linear`` by ``FALinear`` (fixed random feedback); ``--rule dfa`` projects the
output error to the hidden spikes through a fixed random matrix; ``--rule bptt`` is plain
backprop through time on the same network.

    python examples/learning_feedback_alignment.py --rule fa --epochs 1
"""

from __future__ import annotations

import time

import torch
from _learning_common import (
    TwoLayerSNN,
    base_parser,
    evaluate,
    mnist,
    rate_code,
    report,
    train_bptt,
)
from torch import nn

from spikeforge.learning import DirectFeedbackAlignment, to_feedback_alignment


class DFANet(nn.Module):
    """``TwoLayerSNN`` with a DFA tap on the hidden spikes and on the output."""

    def __init__(self, net: TwoLayerSNN, seed: int) -> None:
        super().__init__()
        self.net = net
        self.dfa = DirectFeedbackAlignment(10, [net.hidden.out_features], seed=seed)

    def forward(self, x):
        spk, _ = self.net.hidden(x)
        spk_out, mem_out = self.net.out(self.dfa.hidden(spk, 0))
        return self.dfa.output(spk_out), mem_out


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rule", choices=["fa", "dfa", "bptt"], default="fa")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    data = mnist(args.train, args.test)
    net = TwoLayerSNN(args.hidden)
    if args.rule == "fa":
        to_feedback_alignment(net, seed=args.seed)
        model = net
    elif args.rule == "dfa":
        model = DFANet(net, args.seed)
    else:
        model = net
    started = time.perf_counter()
    train_bptt(model, data, args)
    trained = time.perf_counter() - started
    gen = torch.Generator().manual_seed(args.seed + 1)
    accuracy = evaluate(
        lambda s: net(s)[0].sum(0).argmax(-1),
        data[2],
        data[3],
        lambda xb: rate_code(xb, args.steps, gen),
    )
    return report(args.rule, accuracy, args, trained)


if __name__ == "__main__":
    main()
