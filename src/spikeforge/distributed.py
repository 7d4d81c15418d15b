"""Multi-process data-parallel training on PyTorch's own engine (``torch.distributed``, DDP).

Spiking neurons keep their hidden state in buffers (``mem``, ``syn``, …). Plain
``DistributedDataParallel`` broadcasts every buffer from rank 0 before each forward, which
would overwrite each replica's membranes with rank 0's (cross-talk) and fails when the last
batch of one rank is smaller. :func:`wrap_ddp` therefore tells DDP to leave the state buffers
alone: each replica integrates its own data, while parameters (and constant buffers such as
``beta`` and ``threshold``) stay synchronised through the gradient all-reduce.

One CPU machine, ``N`` processes (gloo)::

    from spikeforge import distributed as dist

    def train(rank, world_size, epochs):
        model = dist.wrap_ddp(dist.SequenceModel(make_net()))
        loader = dist.distributed_loader(dataset, batch_size=64, seed=0)
        ...                        # an ordinary loop; call loader.sampler.set_epoch(e)

    dist.launch(train, 2, 5)       # spawns 2 processes, each runs train(rank, 2, 5)

Several GPUs (one process per GPU, NCCL), in a script that calls ``dist.init_from_env()``::

    torchrun --standalone --nproc_per_node=4 train.py
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \
        --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train.py   # multi-node
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .neurons import SpikingNeuron

__all__ = [
    "SequenceModel",
    "all_reduce_mean",
    "distributed_loader",
    "free_port",
    "init_from_env",
    "is_main_process",
    "launch",
    "neuron_state_names",
    "wrap_ddp",
]


def init_from_env(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group that ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, …).

    Returns ``(rank, world_size, device)``: ``cuda:LOCAL_RANK`` (set as current) when CUDA
    is available, else the CPU. ``backend`` defaults to ``nccl`` on GPUs and ``gloo`` else.
    """
    missing = [
        k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f"init_from_env: environment variables {missing} are not set; start the script "
            "with torchrun (or use spikeforge.distributed.launch)"
        )
    use_cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if use_cuda else "gloo")
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    return torch_dist.get_rank(), torch_dist.get_world_size(), device


def is_main_process() -> bool:
    """True on rank 0, or when no process group is running."""
    return not torch_dist.is_initialized() or torch_dist.get_rank() == 0


def neuron_state_names(model: nn.Module) -> list[str]:
    """Fully qualified names of the hidden-state buffers of every neuron in ``model``."""
    names = []
    for prefix, module in model.named_modules():
        if isinstance(module, SpikingNeuron):
            names.extend(f"{prefix}.{s}" if prefix else s for s in module.state_names)
    return names


def wrap_ddp(model: nn.Module, device: torch.device | None = None, **ddp_kwargs: Any):
    """``DistributedDataParallel(model)`` that never syncs neuron states between replicas."""
    if not torch_dist.is_initialized():
        raise RuntimeError("wrap_ddp: no process group; call init_from_env() or use launch()")
    if device is not None:
        model = model.to(device)
    ignore = neuron_state_names(model)
    if hasattr(DistributedDataParallel, "_set_params_and_buffers_to_ignore_for_model"):
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ignore)
    elif ignore:
        ddp_kwargs.setdefault("broadcast_buffers", False)
    if device is not None and device.type == "cuda":
        ddp_kwargs.setdefault("device_ids", [device.index])
    return DistributedDataParallel(model, **ddp_kwargs)


class SequenceModel(nn.Module):
    """A per-step network run over a time-major sequence in one call: ``[T, B, ...]`` in and out.

    Neuron states are forgotten at the start of each call, so one DDP forward covers a whole
    sequence (one gradient all-reduce per backward). If the network returns a tuple (a
    neuron with ``output=True``), each element is stacked over time.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor):
        if x.dim() < 2:
            raise ValueError(f"SequenceModel: x must be [T, B, ...], got shape {tuple(x.shape)}")
        for module in self.net.modules():
            if isinstance(module, SpikingNeuron):
                module.reset_mem()
        outputs = [self.net(x_t) for x_t in x]
        if isinstance(outputs[0], tuple):
            return tuple(torch.stack(parts) for parts in zip(*outputs))
        return torch.stack(outputs)


def distributed_loader(
    dataset: Dataset, batch_size: int, shuffle: bool = True, seed: int = 0, **loader_kwargs: Any
) -> DataLoader:
    """A ``DataLoader`` over this rank's shard (``DistributedSampler``); call
    ``loader.sampler.set_epoch(epoch)`` each epoch for a fresh shuffle."""
    if not torch_dist.is_initialized():
        raise RuntimeError("distributed_loader: no process group; call init_from_env() first")
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **loader_kwargs)


def all_reduce_mean(value: Tensor) -> Tensor:
    """The mean of ``value`` over all ranks (a copy; ``value`` is untouched)."""
    out = value.detach().clone()
    if torch_dist.is_initialized():
        torch_dist.all_reduce(out)
        out /= torch_dist.get_world_size()
    return out


def free_port() -> int:
    """A TCP port that is free on this machine right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, fn: Callable, nproc: int, backend: str, port: int, args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank),
    )  # fmt: skip
    if backend == "gloo":  # one machine: loopback, and no oversubscription of the cores
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // nproc))
    torch_dist.init_process_group(backend, rank=rank, world_size=nproc)
    try:
        fn(rank, nproc, *args)
    finally:
        torch_dist.destroy_process_group()


def launch(fn: Callable, nproc: int, *args: Any, backend: str = "gloo", port: int | None = None):
    """Run ``fn(rank, nproc, *args)`` in ``nproc`` new processes joined in one process group.

    ``fn`` must be importable (a module-level function). Raises if any process fails. For
    GPUs prefer ``torchrun`` (see the module docstring); this is the single-machine launcher
    behind ``spikeforge train --nproc N``.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    port = port or free_port()
    mp.spawn(_worker, args=(fn, nproc, backend, port, args), nprocs=nproc, join=True)
