"""Backprop through spike times on latency-coded MNIST, next to BPTT on the same network.

Digits become one spike per pixel (bright pixels early, ``spikegen.latency``, linear and
normalised over T steps). The network is 784 -> 128 Leaky -> 10 Leaky. ``--rule spike_time``
reads the output layer's interpolated first-crossing times ``t*`` from its membrane and
trains on ``ce_time_loss`` (the exact ``dt*/dU`` at the output; hidden spikes keep their
surrogate gradient). ``--rule bptt`` trains the same network with surrogate gradients and
``spikeforge.functional.ce_temporal_loss`` on the output spikes. Both predict the output
neuron that fires first.

    python examples/learning_spike_time.py --rule spike_time --epochs 1
"""

from __future__ import annotations

import time

import torch
from _learning_common import TwoLayerSNN, base_parser, evaluate, mnist, report, train_bptt
from torch import nn

import spikeforge.functional as SF
from spikeforge import spikegen
from spikeforge.learning import ce_time_loss, first_spike_time


def latency_code(images: torch.Tensor, steps: int) -> torch.Tensor:
    return spikegen.latency(
        images, num_steps=steps, tau=5, threshold=0.01, clip=True, normalize=True, linear=True
    )


class OutputTimes(nn.Module):
    """``TwoLayerSNN`` read out as interpolated first-crossing times ``[B, 10]``."""

    def __init__(self, net: TwoLayerSNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        spk, _ = self.net.hidden(x)
        _, mem_out = self.net.out(spk)
        return first_spike_time(mem_out, float(self.net.out.lif.threshold)), None


def first_to_fire(spk_out: torch.Tensor) -> torch.Tensor:
    """Index of the output that spikes first (silent outputs count as time T)."""
    steps = spk_out.shape[0]
    times = torch.where(spk_out.any(0), spk_out.argmax(0), torch.full_like(spk_out[0], steps))
    return times.argmin(-1)


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rule", choices=["spike_time", "bptt"], default="spike_time")
    parser.set_defaults(steps=20)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    data = mnist(args.train, args.test)
    net = TwoLayerSNN(args.hidden)

    def encode(xb):
        return latency_code(xb, args.steps)

    started = time.perf_counter()
    if args.rule == "spike_time":
        timed = OutputTimes(net)
        train_bptt(timed, data, args, loss_fn=ce_time_loss, encode=encode)
        trained = time.perf_counter() - started

        def predict(s):
            return timed(s)[0].argmin(-1)
    else:
        train_bptt(net, data, args, loss_fn=SF.ce_temporal_loss(), encode=encode)
        trained = time.perf_counter() - started

        def predict(s):
            return first_to_fire(net(s)[0])

    accuracy = evaluate(predict, data[2], data[3], encode)
    return report(args.rule, accuracy, args, trained)


if __name__ == "__main__":
    main()
