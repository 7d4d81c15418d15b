"""The ``spikeforge`` command line: ``train``, ``evaluate`` and ``demo``.

``spikeforge train`` alone trains snnTorch tutorial 5's network on MNIST for one epoch and
writes ``runs/fc-leaky-direct/``; ``spikeforge evaluate runs/NAME`` reloads a run's
checkpoint and tests it again; ``spikeforge demo`` (what ``make demo`` runs) is ``train``
with its defaults writing ``runs/demo``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .evaluate import add_evaluate_arguments
    from .options import add_train_arguments

    parser = argparse.ArgumentParser(
        prog="spikeforge",
        description="Train and evaluate spiking neural networks on MNIST.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,demo}")
    train = sub.add_parser("train", help="train a spiking network and write runs/NAME/")
    add_train_arguments(train)
    evaluate = sub.add_parser("evaluate", help="reload runs/NAME/checkpoint.pt and test it")
    add_evaluate_arguments(evaluate)
    demo = sub.add_parser("demo", help="train with the defaults into runs/demo and report")
    add_train_arguments(demo)
    demo.set_defaults(out="runs/demo")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .data import DataError

    try:
        if args.command in ("train", "demo"):
            from .train import run_train

            return run_train(args)
        from .evaluate import run_evaluate

        return run_evaluate(args)
    except DataError as err:
        print(f"spikeforge: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"spikeforge {args.command}: error: {err}", file=sys.stderr)
        return 2
