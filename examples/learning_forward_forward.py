"""Forward-forward training of spiking layers on MNIST, next to BPTT on the same layers.

Positive data: a digit with its label one-hot in its first 10 pixels; negative data: the same
digit with a random wrong label. Both are rate-coded. Each of the two 784 -> H -> H Leaky
layers learns locally to raise its goodness on positive and lower it on negative data; a
digit is classified by trying all ten labels. ``--rule bptt`` trains the same two layers
plus a linear rate readout end to end (surrogate gradients) on the plain digits.

    python examples/learning_forward_forward.py --rule ff --epochs 1
"""

from __future__ import annotations

import time

import torch
from _learning_common import base_parser, batches, evaluate, mnist, rate_code, report
from torch import nn

from spikeforge.learning import ForwardForward, RateReadout, embed_label


def wrong_labels(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    shift = torch.randint(1, 10, labels.shape, generator=gen)
    return (labels + shift) % 10


def train_ff(args, xtr, ytr, gen) -> ForwardForward:
    ff = ForwardForward(
        [784, args.hidden, args.hidden],
        threshold=args.ff_threshold,
        goodness_kind=args.goodness,
        lr=args.lr,
    )
    for _ in range(args.epochs):
        for xb, yb in batches(xtr, ytr, args.batch, gen):
            pos = rate_code(embed_label(xb, yb, 10), args.steps, gen)
            neg = rate_code(embed_label(xb, wrong_labels(yb, gen), 10), args.steps, gen)
            ff.train_step(pos, neg)
    return ff


def train_bptt(args, xtr, ytr, gen) -> nn.Module:
    ff = ForwardForward([784, args.hidden, args.hidden])
    layers, readout = ff.layers, RateReadout(args.hidden, 10)
    model = nn.ModuleList([*layers, readout])
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    def forward(spikes):
        for layer in layers:
            spikes, _ = layer(spikes)
        return readout(spikes)

    for _ in range(args.epochs):
        for xb, yb in batches(xtr, ytr, args.batch, gen):
            loss = nn.functional.cross_entropy(forward(rate_code(xb, args.steps, gen)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.predict_fn = forward
    return model


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rule", choices=["ff", "bptt"], default="ff")
    parser.add_argument("--goodness", choices=["rate", "membrane"], default="membrane")
    parser.add_argument("--ff-threshold", type=float, default=0.5)
    parser.set_defaults(hidden=256)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = mnist(args.train, args.test)
    gen = torch.Generator().manual_seed(args.seed)
    test_gen = torch.Generator().manual_seed(args.seed + 1)
    started = time.perf_counter()
    if args.rule == "ff":
        ff = train_ff(args, xtr, ytr, gen)
        trained = time.perf_counter() - started
        # rate coding maps the embedded 1/0 pixels to always/never spiking, so embedding
        # each candidate label into the coded digit (ForwardForward.predict) is the same
        accuracy = evaluate(ff.predict, xte, yte, lambda xb: rate_code(xb, args.steps, test_gen))
        return report("ff", accuracy, args, trained, goodness=args.goodness)
    model = train_bptt(args, xtr, ytr, gen)
    trained = time.perf_counter() - started
    accuracy = evaluate(
        lambda s: model.predict_fn(s).argmax(-1),
        xte,
        yte,
        lambda xb: rate_code(xb, args.steps, test_gen),
    )
    return report("bptt", accuracy, args, trained)


if __name__ == "__main__":
    main()
