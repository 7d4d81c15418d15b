"""``spikeforge train``'s summary prints the energy estimate of its operation counts."""

from __future__ import annotations

import torch
from torch import nn

import spikeforge as snn
from spikeforge.cli.evaluate import EvalResult
from spikeforge.cli.options import TrainConfig
from spikeforge.cli.train import TrainResult, summary
from spikeforge.metrics import OpCounter


def test_train_summary_shows_the_energy_line():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3, bias=False), snn.Leaky(beta=0.5, init_hidden=True))
    with OpCounter(net) as counter:
        net(torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
    # One call on a binary input: 2 nonzero inputs × fan-out 3 = 6 ACs = 5.4 pJ; dense
    # 12 MACs = 55.2 pJ.
    result = TrainResult(
        config=TrainConfig(),
        history=[
            {
                "epoch": 1,
                "train_loss": 1.0,
                "train_accuracy": 50.0,
                "test_accuracy": 60.0,
                "train_seconds": 1.0,
            }
        ],
        test=EvalResult(accuracy=60.0, loss=1.0, firing_rates={"1": 0.5}, spikes_per_inference=1),
        operations=counter.summary(num_samples=1),
    )
    text = summary(result)
    energy = [line for line in text.splitlines() if line.startswith(" energy")]
    assert energy == [
        " energy (45 nm: 0.9 pJ/AC, 4.6 pJ/MAC)  SNN 5.4 pJ vs ANN 55.2 pJ per sample"
        " (ANN/SNN 10.2x)"
    ]
