"""Data-parallel training of a small spiking net on synthetic data, one process per device.

    python examples/ddp_train.py --nproc 2                           # CPU processes (gloo)
    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py   # same, via torchrun
    torchrun --standalone --nproc_per_node=8 examples/ddp_train.py   # 8 GPUs (NCCL)

Each replica keeps its own neuron state; gradients are averaged by DDP. Rank 0 prints the
mean loss over ranks.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch import nn
from torch.utils.data import TensorDataset

import spikeforge as snn
from spikeforge import distributed as dist


def synthetic(n: int = 2048, features: int = 20, classes: int = 4) -> TensorDataset:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, classes, (n,), generator=gen)
    centres = torch.rand(classes, features, generator=gen)
    return TensorDataset(centres[labels] + 0.2 * torch.randn(n, features, generator=gen), labels)


def train(rank: int, world_size: int, epochs: int, num_steps: int, device_name: str) -> None:
    device = torch.device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(20, 64), snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(64, 4), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )  # fmt: skip
    model = dist.wrap_ddp(dist.SequenceModel(net), device=device)
    loader = dist.distributed_loader(synthetic(), batch_size=64, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        total = torch.zeros((), device=device)
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            _, mem = model(x.unsqueeze(0).expand(num_steps, *x.shape))
            loss = nn.functional.cross_entropy(mem.sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach()
        mean = dist.all_reduce_mean(total / len(loader))
        if dist.is_main_process():
            print(f"epoch {epoch}: loss {mean.item():.4f} ({world_size} processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes when not under torchrun")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--num-steps", type=int, default=10)
    args = parser.parse_args()
    if "RANK" in os.environ:  # started by torchrun
        rank, world, device = dist.init_from_env()
        try:
            train(rank, world, args.epochs, args.num_steps, str(device))
        finally:
            torch.distributed.destroy_process_group()
    else:
        dist.launch(train, args.nproc, args.epochs, args.num_steps, "cpu")


if __name__ == "__main__":
    main()
