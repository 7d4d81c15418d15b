"""The seed's tricks, each an option with a hand-computed check."""

from __future__ import annotations

import math

import pytest
import torch

from spikeforge import Leaky
from spikeforge.learning import SpikeMajorityPool2d, SpikingDense, SpikingResidualBlock


def _atan_grad(x: float, alpha: float = 2.0) -> float:
    return alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)


def test_reset_is_detached_from_the_graph():
    # U_0 = 1.5 > θ, so R_1 = 1: U_1 = 0.7·1.5 + 0.2 − 1 = 0.25 and ∂U_1/∂U_0 = β exactly
    # (an attached reset would add −θ·σ'(U_0 − θ) = −0.716… here).
    lif = Leaky(beta=0.7)
    mem0 = torch.tensor([1.5], requires_grad=True)
    _, mem1 = lif(torch.tensor([0.2]), mem0)
    mem1.backward()
    assert mem1.item() == pytest.approx(0.25)
    assert mem0.grad.item() == pytest.approx(0.7)


def test_learnable_decay_receives_its_gradient():
    # U_1 = β U_0 + x  =>  ∂U_1/∂β = U_0 = 0.5
    lif = Leaky(beta=0.6, learn_beta=True)
    assert isinstance(lif.beta, torch.nn.Parameter)
    _, mem = lif(torch.tensor([0.1]), torch.tensor([0.5]))
    mem.backward()
    assert lif.beta.grad.item() == pytest.approx(0.5)


def test_learnable_threshold_receives_its_gradient():
    # U_1 = 1.2 (U_0 = 0, no reset); S = H(U_1 − θ)  =>  ∂S/∂θ = −σ'(0.2) (ATan, α=2)
    lif = Leaky(beta=0.5, learn_threshold=True)
    spk, _ = lif(torch.tensor([1.2]), torch.tensor([0.0]))
    spk.backward()
    assert lif.threshold.grad.item() == pytest.approx(-_atan_grad(0.2))
    # With a reset: U_1 = β·1.5 + 0.1 − R θ, R = 1 detached  =>  ∂U_1/∂θ = −1
    lif = Leaky(beta=0.5, learn_threshold=True)
    _, mem = lif(torch.tensor([0.1]), torch.tensor([1.5]))
    mem.backward()
    assert lif.threshold.grad.item() == pytest.approx(-1.0)


def test_graded_spikes_scale_output_and_learn():
    lif = Leaky(beta=0.5, graded_spikes_factor=0.5, learn_graded_spikes_factor=True)
    spk, _ = lif(torch.tensor([1.2, 0.3]), torch.zeros(2))
    assert spk.tolist() == [0.5, 0.0]
    spk.sum().backward()
    assert lif.graded_spikes_factor.grad.item() == pytest.approx(1.0)  # ∂(g·H)/∂g = H summed


def test_majority_pool_spikes_where_more_than_half_spiked():
    # 2×2 windows with 3, 2, 4, 1 spikes: majority → 1, 0 (tie), 1, 0
    s = torch.tensor(
        [[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]]
    ).reshape(1, 1, 4, 4)
    s.requires_grad_(True)
    out = SpikeMajorityPool2d(2)(s)
    assert out.flatten().tolist() == [1.0, 0.0, 1.0, 0.0]
    out.sum().backward()
    # ∂out/∂s_i = σ'(m − 1/2)/4 with m the window's spike fraction
    fractions = [0.75, 0.5, 1.0, 0.25]
    expected = [_atan_grad(m - 0.5) / 4 for m in fractions]
    assert s.grad[0, 0, 0, 0].item() == pytest.approx(expected[0])
    assert s.grad[0, 0, 0, 2].item() == pytest.approx(expected[1])
    assert s.grad[0, 0, 2, 0].item() == pytest.approx(expected[2])
    assert s.grad[0, 0, 3, 3].item() == pytest.approx(expected[3])


def test_max_mode_pools_any_spike_and_keeps_leading_dims():
    s = torch.zeros(3, 2, 1, 4, 4)  # [T, B, C, H, W]
    s[0, 1, 0, 1, 1] = 1.0
    out = SpikeMajorityPool2d(2, mode="max")(s)
    assert out.shape == (3, 2, 1, 2, 2)
    assert out.sum().item() == 1.0 and out[0, 1, 0, 0, 0].item() == 1.0
    with pytest.raises(ValueError, match="mode"):
        SpikeMajorityPool2d(2, mode="mean")


@pytest.mark.parametrize(
    ("connect", "expected"),
    [("add", [2.0, 1.0, 1.0, 0.0]), ("and", [1.0, 0.0, 0.0, 0.0]), ("iand", [0.0, 1.0, 0.0, 0.0])],
)
def test_residual_connections_by_hand(connect, expected):
    body_out = torch.tensor([1.0, 0.0, 1.0, 0.0])
    block = SpikingResidualBlock(lambda_module(body_out), connect=connect)
    assert block(torch.tensor([1.0, 1.0, 0.0, 0.0])).tolist() == expected


def test_residual_block_around_a_spiking_layer_passes_gradient_both_ways():
    body = SpikingDense(5, 5, beta=0.8)
    block = SpikingResidualBlock(body)
    x = (torch.rand(4, 2, 5) > 0.5).float().requires_grad_(True)
    out = block(x)
    assert out.shape == x.shape
    out.sum().backward()
    through_body = torch.autograd.grad(body(x)[0].sum(), x)[0]
    assert torch.allclose(x.grad, 1.0 + through_body)  # identity path adds exactly 1
    with pytest.raises(ValueError, match="differ"):
        SpikingResidualBlock(SpikingDense(5, 3))(x)


class lambda_module(torch.nn.Module):  # a tiny test double returning a fixed output
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value
