"""Local losses: each block's gradient comes from its own readout only (hand-computed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikeforge.learning import LocalLossNet, RateReadout, SpikingDense, local_loss

F64 = torch.float64


def _linear(weight: list[list[float]]) -> nn.Linear:
    w = torch.tensor(weight, dtype=F64)
    layer = nn.Linear(w.shape[1], w.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer


def test_block_gradient_is_its_own_local_loss_gradient():
    # Block 1: h1 = W1 x; readout r1 = R1 h1; loss L1 = <r1, g1>  =>  ∂L1/∂W1 = (R1ᵀ g1) xᵀ.
    # Block 2 sees h1 detached, so L2 adds nothing to W1's gradient.
    w1 = _linear([[1.0, 2.0], [0.5, -1.0]])
    w2 = _linear([[0.3, 0.1], [0.2, 0.4]])
    r1 = _linear([[1.0, -1.0]])
    r2 = _linear([[2.0, 0.5]])
    net = LocalLossNet([w1, w2], [r1, r2])
    x = torch.tensor([[1.0, 3.0]], dtype=F64)
    g1, g2 = 0.5, -2.0

    out1, out2 = net(x)
    (out1.sum() * g1 + out2.sum() * g2).backward()
    # ∂L1/∂W1 = (R1ᵀ·g1) xᵀ = [[0.5], [−0.5]] @ [[1, 3]]
    assert w1.weight.grad.tolist() == [[0.5, 1.5], [-0.5, -1.5]]
    # ∂L2/∂W2 = (R2ᵀ·g2) h1ᵀ with h1 = W1 x = [7, −2.5]
    assert w2.weight.grad.flatten().tolist() == pytest.approx([-28.0, 10.0, -7.0, 2.5])
    # readouts get the usual gradients: g·h
    assert r1.weight.grad.tolist() == [[3.5, -1.25]]


def test_spiking_blocks_train_only_from_their_readout():
    torch.manual_seed(0)
    blocks = [SpikingDense(6, 5, beta=0.8), SpikingDense(5, 4, beta=0.8)]
    readouts = [RateReadout(5, 3), RateReadout(4, 3)]
    net = LocalLossNet(blocks, readouts)
    x = torch.rand(6, 2, 6) * 2
    y = torch.tensor([0, 2])

    net.zero_grad()
    total, values = local_loss(net(x), y)
    total.backward()
    first_from_total = blocks[0].fc.weight.grad.clone()
    assert len(values) == 2
    assert total.item() == pytest.approx(sum(values))

    net.zero_grad()
    outputs = net(x)
    nn.functional.cross_entropy(outputs[0], y).backward()
    assert torch.allclose(first_from_total, blocks[0].fc.weight.grad)
    assert first_from_total.abs().sum() > 0


def test_block_returning_tuple_passes_spikes_on():
    block = SpikingDense(3, 2)
    net = LocalLossNet([block], [RateReadout(2, 2)])
    (logits,) = net(torch.rand(4, 1, 3))
    assert logits.shape == (1, 2)


def test_mismatched_blocks_and_readouts_raise():
    with pytest.raises(ValueError, match="pair up"):
        LocalLossNet([nn.Linear(2, 2)], [])
    with pytest.raises(ValueError, match="must not be empty"):
        LocalLossNet([], [])
