"""Long sequences: memory for training is linear in T, and T = 10,000 trains (one
backward). Memory is measured as the bytes autograd keeps for the backward pass (every
tensor packed by ``saved_tensors_hooks``, counted once per storage) plus the outputs:
deterministic, unlike process RSS, and it is what grows with T."""

from __future__ import annotations

import pytest
import torch

import spikeforge as snn
from spikeforge.ops import registry

BATCH, FEATURES = 4, 64


def backends() -> list[str]:
    snn.Leaky(beta=0.5)
    specs = registry.kernels("leaky")
    cpu = torch.device("cpu")
    fused = [n for n, s in specs.items() if s.available() and s.why_not(cpu, torch.float32) is None]
    return ["reference", *sorted(fused)]


def train_step_bytes(steps: int, backend: str) -> tuple[int, torch.Tensor]:
    """Bytes held for backward + outputs for one forward of ``steps`` steps, then backward."""
    torch.manual_seed(0)
    lif = snn.Leaky(beta=0.9, learn_beta=True, step_mode="multi", backend=backend)
    x = (torch.rand(steps, BATCH, FEATURES) * 0.3).requires_grad_(True)
    storages: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        spk, mem = lif(x)
    held = sum(storages.values()) + spk.nbytes + mem.nbytes
    (spk.sum() + 0.1 * mem.sum()).backward()
    assert bool(torch.isfinite(x.grad).all()) and bool(torch.isfinite(lif.beta.grad).all())
    return held, lif.beta.grad


@pytest.mark.parametrize("backend", backends())
def test_memory_grows_linearly_in_time(backend):
    sizes = (1000, 2000, 4000)
    held = {t: train_step_bytes(t, backend)[0] for t in sizes}
    per_step = held[1000] / 1000
    for t in sizes[1:]:
        ratio = held[t] / held[1000]
        assert ratio == pytest.approx(t / 1000, rel=0.05), (backend, held)
    # A [T, B, N] float32 tensor costs 1 KiB per step here: a handful of them, no more.
    assert per_step <= 12 * BATCH * FEATURES * 4, (backend, per_step)


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends())
def test_ten_thousand_steps_train_with_one_backward(backend):
    held_10k, grad_10k = train_step_bytes(10_000, backend)
    held_1k, _ = train_step_bytes(1000, backend)
    assert held_10k / held_1k == pytest.approx(10, rel=0.05)
    assert grad_10k.abs().item() > 0
