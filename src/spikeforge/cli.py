"""The ``spikeforge`` command line (placeholder until the training job lands)."""

from __future__ import annotations

import argparse


def _demo() -> int:
    import torch

    import spikeforge as snn

    lif = snn.Leaky(beta=0.9)
    mem = lif.init_leaky()
    for step in range(5):
        spk, mem = lif(torch.tensor([0.4]), mem)
        print(f"step {step}: spike={int(spk.item())} membrane={mem.item():.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spikeforge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="simulate one leaky neuron")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo()
    return 2
