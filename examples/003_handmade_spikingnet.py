"""The fourth seed's hand-made PyTorch ``SpikingNet``, rebuilt from ``snn.GradedRefractory``,
next to the ``NonSpikingNet`` it is compared with. One epoch each: time steps 128, SGD lr 0.1,
momentum 0.5, batch 1000. The seed reports 85.55% (spiking) and 86.90% (non-spiking).

    python examples/003_handmade_spikingnet.py [--small]

The seed's layer, per step: ``V = W x + 0.9 V``; ``O = ReLU(V − 2)``; on firing
``V −= 2.5 + O``; the layer emits the previous step's ``O``. The input layer multiplies each
pixel by fresh uniform noise every step; the logits are layer 2's state one step late, summed
over the steps, then ``log_softmax`` (trained with NLL).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

import spikeforge as snn
from spikeforge.datasets import load_mnist_arrays


class SpikingNet(nn.Module):
    """784 → 100 → 10 of ``GradedRefractory`` neurons (decay .9, threshold 2, penalty 2.5)."""

    def __init__(self, n_time_steps: int, begin_eval: int = 0):
        super().__init__()
        if not 0 <= begin_eval < n_time_steps:
            raise ValueError(f"begin_eval must lie in [0, {n_time_steps}), got {begin_eval}")
        self.n_time_steps, self.begin_eval = n_time_steps, begin_eval
        self.fc1 = nn.Linear(28 * 28, 100)
        self.layer1 = snn.GradedRefractory(0.9, threshold=2.0, penalty_threshold=2.5)
        self.fc2 = nn.Linear(100, 10)
        self.layer2 = snn.GradedRefractory(0.9, threshold=2.0, penalty_threshold=2.5)
        for layer in (self.layer1, self.layer2):
            layer.step_mode = "multi"
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)  # the seed's init_parameters

    def forward(self, x):
        self.layer1.reset_mem()
        self.layer2.reset_mem()
        x = x.flatten(1)
        # Input conversion: each pixel times fresh uniform noise, at every step.
        xi = torch.rand(self.n_time_steps, *x.shape, device=x.device) * x
        out1, _ = self.layer1(self.fc1(xi))  # the graded outputs, one step late
        _, state2 = self.layer2(self.fc2(out1))
        # Logits: layer 2's state one step late (zero at step 0), summed over the steps.
        delayed = torch.cat([torch.zeros_like(state2[:1]), state2[:-1]])
        self.spikes = (out1 > 0).sum() / len(x)  # firing events per image, hidden layer
        return F.log_softmax(delayed[self.begin_eval :].sum(0), dim=-1)


class NonSpikingNet(nn.Module):
    """The same layers with ReLU and no time."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(28 * 28, 100)
        self.layer2 = nn.Linear(100, 10)

    def forward(self, x):
        x = F.relu(self.layer1(x.flatten(1)))
        return F.log_softmax(self.layer2(x), dim=-1)


def train(model, images, labels, batch_size, max_batches, log_every):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    order = torch.randperm(len(labels))
    start = time.perf_counter()
    for b, first in enumerate(range(0, len(labels), batch_size)):
        if b == max_batches:
            break
        idx = order[first : first + batch_size]
        output = model(images[idx])
        loss = F.nll_loss(output, labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if b % log_every == 0:
            correct = (output.argmax(1) == labels[idx]).float().mean().item()
            print(f"  batch {b}: loss {loss.item():.6f} accuracy {100 * correct:.2f}%")
    return time.perf_counter() - start


def test(model, images, labels):
    model.eval()
    loss = correct = spikes = 0.0
    with torch.no_grad():
        for first in range(0, len(labels), 1000):
            x, y = images[first : first + 1000], labels[first : first + 1000]
            output = model(x)
            loss += F.nll_loss(output, y, reduction="sum").item()
            correct += (output.argmax(1) == y).sum().item()
            spikes += float(getattr(model, "spikes", 0.0)) * len(y)
    n = len(labels)
    print(
        f"Test set: Average loss: {loss / n:.4f}, Accuracy: {int(correct)}/{n} "
        f"({100 * correct / n:.2f}%)"
    )
    return 100 * correct / n, spikes / n


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="5 batches, T=16, 1000 test images")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = 16 if args.small else args.steps
    max_batches = 5 if args.small else None

    # The seed's transform: ToTensor() then Normalize((0.5,), (1.0,)), i.e. pixels − 0.5.
    train_x, train_y = (torch.from_numpy(a) for a in load_mnist_arrays(train=True))
    test_x, test_y = (torch.from_numpy(a) for a in load_mnist_arrays(train=False))
    train_x, test_x = train_x - 0.5, test_x - 0.5
    if args.small:
        test_x, test_y = test_x[:1000], test_y[:1000]

    results = {}
    for name, make in (
        ("SpikingNet", lambda: SpikingNet(n_time_steps=steps, begin_eval=0)),
        ("NonSpikingNet", NonSpikingNet),
    ):
        torch.manual_seed(args.seed)
        model = make()
        print(f"\n== {name} ==")
        seconds = train(model, train_x, train_y, 1000, max_batches, log_every=10)
        accuracy, spikes = test(model, test_x, test_y)
        results[name] = {"accuracy": accuracy, "seconds": seconds, "spikes": spikes}
        print(f"{name}: {accuracy:.2f}% after one epoch ({seconds:.1f} s)")
    print("\nseed (1 epoch): SpikingNet 85.55%, NonSpikingNet 86.90%")
    for name, r in results.items():
        print(f"  here: {name:13s} {r['accuracy']:.2f}%")
    return results


if __name__ == "__main__":
    main()
