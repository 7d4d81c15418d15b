"""Two CPU processes (gloo) train one spiking net with DDP: weights agree, loss falls."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

import spikeforge as snn
from spikeforge import distributed as dist

STEPS = 8
T = 4


def _dataset(n: int = 256) -> TensorDataset:
    gen = torch.Generator().manual_seed(7)
    labels = torch.randint(0, 2, (n,), generator=gen)
    centres = torch.tensor([[1.0] * 4 + [0.0] * 4, [0.0] * 4 + [1.0] * 4])
    x = centres[labels] + 0.3 * torch.randn(n, 8, generator=gen)
    return TensorDataset(x, labels)


def _train(rank: int, world_size: int, out_dir: str) -> None:
    torch.manual_seed(rank)  # different local RNGs: DDP must still give identical weights
    net = nn.Sequential(
        nn.Linear(8, 16), snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(16, 2), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )  # fmt: skip
    model = dist.wrap_ddp(dist.SequenceModel(net))
    loader = dist.distributed_loader(_dataset(), batch_size=16 + 8 * rank, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses, step = [], 0
    while step < STEPS:
        for x, y in loader:
            _, mem = model(x.unsqueeze(0).expand(T, *x.shape))  # constant input, T steps
            loss = nn.functional.cross_entropy(mem.sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(dist.all_reduce_mean(loss)))
            step += 1
            if step == STEPS:
                break
    torch.save(
        {"state": net.state_dict(), "losses": losses, "mem": net[1].mem.clone(),
         "batch": x.shape[0]},
        f"{out_dir}/rank{rank}.pt",
    )  # fmt: skip


def test_two_process_ddp_keeps_replicas_identical_and_learns(tmp_path):
    dist.launch(_train, 2, str(tmp_path))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["state"].keys() == r1["state"].keys()
    for key in r0["state"]:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    # Each replica kept its own membranes: different batch sizes, so different shapes.
    assert (r0["batch"], r1["batch"]) == (16, 24)  # rank 1: 128 = 5·24 + 8, then 24, 24
    assert r0["mem"].shape[0] == 16 and r1["mem"].shape[0] == 24
    losses = r0["losses"]
    assert losses == r1["losses"]  # the all-reduced loss is the same on both ranks
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses


def test_neuron_state_names_lists_hidden_buffers_only():
    net = nn.Sequential(nn.Linear(2, 2), snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True))
    assert dist.neuron_state_names(dist.SequenceModel(net)) == ["net.1.syn", "net.1.mem"]
