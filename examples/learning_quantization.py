"""Quantisation on MNIST: post-training (weights, membrane), QAT and bf16, next to fp32 BPTT.

The network is 784 -> 128 Leaky -> 10 Leaky on rate-coded digits.

* ``--scheme fp32`` trains in float32 (the BPTT baseline), then reports post-training
  quantisation of the weights (int8 and int4, per channel), of the membrane state
  (8, 4 and 3 bits on a min-max range seen on 256 digits, and on ``[−θ, 2θ]``) and a
  bf16-autocast evaluation.
* ``--scheme int8|int4|binary|ternary`` trains with that weight quantisation in the loop
  (straight-through estimators, ``quantize_aware``) and evaluates the quantised net.
* ``--scheme bf16`` trains and evaluates under ``torch.autocast(dtype=torch.bfloat16)``.

    python examples/learning_quantization.py --scheme int4 --epochs 1
"""

from __future__ import annotations

import copy
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

from spikeforge.quantization import quantize_aware, quantize_state, quantize_weights_


class Autocast(nn.Module):
    """Run ``net`` under bf16 autocast on the CPU; return float32 outputs."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            spk, mem = self.net(x)
        return spk.float(), mem.float()


def accuracy_of(net: nn.Module, data, args) -> float:
    gen = torch.Generator().manual_seed(args.seed + 1)
    return evaluate(
        lambda s: net(s)[0].sum(0).argmax(-1),
        data[2],
        data[3],
        lambda xb: rate_code(xb, args.steps, gen),
    )


def state_quantised(net: TwoLayerSNN, data, args, bits: int, span: str) -> TwoLayerSNN:
    """A copy whose neurons quantise their membrane to ``bits`` on a range chosen by ``span``.

    ``"minmax"``: the range the membranes take on 256 training digits (coarse: they reach
    tens of θ); ``"threshold"``: ``[−θ, 2θ]``, fine where the spike decision is made (a
    membrane far below θ clamps to −θ, which changes no spike).
    """
    quant = copy.deepcopy(net)
    if span == "threshold":
        for layer in (quant.hidden, quant.out):
            theta = float(layer.lif.threshold)
            layer.lif.state_quant = quantize_state(bits, -theta, 2 * theta)
        return quant
    gen = torch.Generator().manual_seed(args.seed + 2)
    sample = rate_code(data[0][:256], args.steps, gen)
    with torch.no_grad():
        spk, mem_hidden = net.hidden(sample)
        _, mem_out = net.out(spk)
    for layer, mem in ((quant.hidden, mem_hidden), (quant.out, mem_out)):
        lower, upper = min(float(mem.min()), 0.0), max(float(mem.max()), 1e-3)
        layer.lif.state_quant = quantize_state(bits, lower, upper)
    return quant


def main(argv=None) -> list[dict]:
    parser = base_parser(__doc__)
    parser.add_argument(
        "--scheme", choices=["fp32", "int8", "int4", "binary", "ternary", "bf16"], default="fp32"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    data = mnist(args.train, args.test)
    net = TwoLayerSNN(args.hidden)
    if args.scheme in ("int8", "int4", "binary", "ternary"):
        quantize_aware(net, args.scheme, per_channel=args.scheme in ("int8", "int4"))
    model = Autocast(net) if args.scheme == "bf16" else net
    started = time.perf_counter()
    train_bptt(model, data, args)
    trained = time.perf_counter() - started
    rows = [report(f"bptt-{args.scheme}", accuracy_of(model, data, args), args, trained)]
    if args.scheme == "fp32":
        for bits in (8, 4):
            ptq = copy.deepcopy(net)
            quantize_weights_(ptq, bits=bits, per_channel=True)
            rows.append(report(f"ptq-weights-int{bits}", accuracy_of(ptq, data, args), args, 0))
        for span in ("minmax", "threshold"):
            for bits in (8, 4, 3):
                quant = state_quantised(net, data, args, bits, span)
                name = f"ptq-membrane-{bits}bit-{span}"
                rows.append(report(name, accuracy_of(quant, data, args), args, 0))
        rows.append(report("eval-bf16-autocast", accuracy_of(Autocast(net), data, args), args, 0))
    return rows


if __name__ == "__main__":
    main()
