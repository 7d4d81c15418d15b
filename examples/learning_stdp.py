"""Unsupervised STDP: two spiking neurons learn to tell two input patterns apart.

Twenty input channels; pattern A makes channels 0-9 fire often (channels 10-19 rarely),
pattern B the other way round. A ``Linear(20, 2)`` drives two ``Leaky`` neurons in
winner-take-all (``inhibition=True``: at most the neuron with the higher membrane fires).
No labels and no backprop: after each presentation ``STDPLearner.step()`` writes the STDP
weight change (soft-bounded to [0, 1] by ``f_pre(w) = w``, ``f_post(w) = 1 − w``) into
``weight.grad`` and an SGD step applies it; each neuron's total weight is then scaled back
to its start (synaptic scaling, so one neuron cannot grow to win everything). The neuron
that wins a pattern strengthens the synapses from that pattern's channels (at the expense of
the others), so it wins it again: each neuron ends up answering one pattern. The script
prints how often each neuron fires for each pattern before and after.

    python examples/learning_stdp.py            # 200 presentations, a few seconds
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch
from torch import nn

import spikeforge as snn
from spikeforge.functional.stdp_learner import STDPLearner

CHANNELS, STEPS = 20, 25
RATE_ON, RATE_OFF = 0.4, 0.02


def pattern_spikes(label: int, generator: torch.Generator) -> torch.Tensor:
    """``[STEPS, 1, CHANNELS]`` Bernoulli spikes: the label's half fires at ``RATE_ON``."""
    rates = torch.full((CHANNELS,), RATE_OFF)
    half = CHANNELS // 2
    rates[label * half : (label + 1) * half] = RATE_ON
    return (torch.rand(STEPS, 1, CHANNELS, generator=generator) < rates).float()


def soft_lower(w: torch.Tensor) -> torch.Tensor:
    return w.clamp(0, 1)


def soft_upper(w: torch.Tensor) -> torch.Tensor:
    return (1 - w).clamp(0, 1)


def responses(fc: nn.Linear, lif: snn.Leaky, generator: torch.Generator, trials: int):
    """Mean spike count of each neuron (columns) for each pattern (rows)."""
    counts = torch.zeros(2, 2)
    with torch.no_grad():
        for label in (0, 1):
            for _ in range(trials):
                lif.reset_mem()
                for x in pattern_spikes(label, generator):
                    counts[label] += lif(fc(x))[0]
    return counts / trials


def selectivity(counts: torch.Tensor) -> float:
    """How much each pattern has its own neuron: 1 when each neuron answers one pattern
    only (either assignment), 0 when both neurons answer both patterns alike."""
    share = counts / counts.sum(1, keepdim=True).clamp(min=1e-9)  # per pattern, per neuron
    return float((share[0] - share[1]).abs().mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presentations", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    fc = nn.Linear(CHANNELS, 2, bias=False)
    with torch.no_grad():
        fc.weight.uniform_(0.3, 0.5)
        total = fc.weight.sum(1, keepdim=True)
    with warnings.catch_warnings():  # inhibition=True warns that it is for dense layers: it is
        warnings.simplefilter("ignore", UserWarning)
        lif = snn.Leaky(beta=0.8, threshold=1.5, inhibition=True, init_hidden=True)
    learner = STDPLearner(fc, lif, tau_pre=4.0, tau_post=4.0, f_pre=soft_lower, f_post=soft_upper)
    optimizer = torch.optim.SGD(fc.parameters(), lr=args.lr)

    learner.disable()  # measure without learning
    before = responses(fc, lif, generator, trials=10)
    learner.enable()
    for _ in range(args.presentations):
        label = int(torch.randint(0, 2, (1,), generator=generator))
        lif.reset_mem()
        with torch.no_grad():
            for x in pattern_spikes(label, generator):
                lif(fc(x))
        optimizer.zero_grad()
        learner.step()  # −ΔW into weight.grad
        optimizer.step()
        with torch.no_grad():  # synaptic scaling: each neuron keeps its total weight
            fc.weight.clamp_(0, 1)
            fc.weight.mul_(total / fc.weight.sum(1, keepdim=True))
    learner.disable()
    after = responses(fc, lif, generator, trials=10)

    half = CHANNELS // 2
    weights = fc.weight.detach()
    result = {
        "selectivity_before": round(selectivity(before), 3),
        "selectivity_after": round(selectivity(after), 3),
        "spikes_before": [[round(v, 2) for v in row] for row in before.tolist()],
        "spikes_after": [[round(v, 2) for v in row] for row in after.tolist()],
        "mean_weight_from_A": [round(float(w), 3) for w in weights[:, :half].mean(1)],
        "mean_weight_from_B": [round(float(w), 3) for w in weights[:, half:].mean(1)],
    }
    print("spikes per presentation (rows: pattern A, B; columns: neuron 0, 1)")
    print(f"  before: {result['spikes_before']}")
    print(f"  after:  {result['spikes_after']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
