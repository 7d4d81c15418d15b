"""Per-batch time of ``spikeforge train --model conv`` and the epoch it implies.

Runs the CLI's conv net (12C5-MP2-64C5-MP2-FC10, T = 25, batch 128, its preset options)
for ``--batches`` training steps on real MNIST, as ``train_epoch`` does them (forward,
membrane loss, backward, Adam, the batch statistics), and prints the median wall and CPU
time per step and ``468 × median`` (the batches of one 60,000-image epoch). Measure on an
idle machine; the CPU time is the better guide under load.

    PYTHONPATH=src python bench/conv_step.py --batches 20 [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from spikeforge.cli.data import load_split, num_train_batches
from spikeforge.cli.evaluate import predictions
from spikeforge.cli.loss import make_loss
from spikeforge.cli.memory import keep_freed_memory
from spikeforge.cli.model import build_model
from spikeforge.cli.options import PRESETS, TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `spikeforge train` does on CPU
    config = TrainConfig(model="conv", **PRESETS["conv"], limit=128 * (args.batches + 1))
    torch.manual_seed(0)
    images, labels = load_split(config, train=True)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = make_loss(config)
    walls, cpus = [], []
    for b in range(args.batches + 1):  # the first step compiles and warms up: not counted
        x = images[b * 128 : (b + 1) * 128]
        y = labels[b * 128 : (b + 1) * 128]
        wall, cpu = time.perf_counter(), time.process_time()
        record = model(x, config.steps, True)
        loss = loss_fn(record, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            (predictions(record) == y).sum()
            [spikes.sum() for spikes in record.spikes]
        if b:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    per_epoch = num_train_batches(60_000, 128)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"{args.batches} batches, {torch.get_num_threads()} threads, "
        f"load {os.getloadavg()[0]:.2f}: median {wall:.3f} s wall, {cpu:.3f} s CPU per batch; "
        f"epoch ({per_epoch} batches) ≈ {per_epoch * wall:.0f} s"
    )


if __name__ == "__main__":
    main()
