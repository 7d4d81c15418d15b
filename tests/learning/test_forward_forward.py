"""Forward-forward: goodness, the layer loss and one layer update against hand values."""

from __future__ import annotations

import math

import pytest
import torch

from spikeforge.learning import ForwardForward, embed_label, ff_layer_loss, goodness


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_goodness_rate_and_membrane_by_hand():
    spikes = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])  # T=2, B=1, H=2: rates (1, 0.5)
    mem = torch.tensor([[[2.0, 0.0]], [[1.0, -1.0]]])
    assert goodness(spikes, mem, "rate").tolist() == [pytest.approx((1 + 0.25) / 2)]
    assert goodness(spikes, mem, "membrane").tolist() == [pytest.approx((4 + 0 + 1 + 1) / 4)]
    with pytest.raises(ValueError, match="goodness kind"):
        goodness(spikes, mem, "energy")


def test_layer_loss_by_hand():
    loss = ff_layer_loss(torch.tensor([0.5]), torch.tensor([0.2]), threshold=0.3)
    expected = math.log1p(math.exp(0.3 - 0.5)) + math.log1p(math.exp(0.2 - 0.3))
    assert loss.item() == pytest.approx(expected)


def test_one_membrane_update_matches_hand_gradient():
    # One layer, T=1, membrane goodness: U = W x + b (U_{-1} = 0), g = mean_j U_j².
    # ∂L/∂W = −σ(θ − g⁺)·(2/H) U⁺ x⁺ᵀ + σ(g⁻ − θ)·(2/H) U⁻ x⁻ᵀ, and SGD steps W −= η ∂L/∂W.
    ff = ForwardForward([2, 2], num_classes=1, threshold=1.0, goodness_kind="membrane")
    layer = ff.layers[0]
    w = torch.tensor([[0.5, -0.2], [0.1, 0.4]])
    with torch.no_grad():
        layer.fc.weight.copy_(w)
        layer.fc.bias.zero_()
    lr = 0.1
    ff.optimizers = [torch.optim.SGD(layer.parameters(), lr=lr)]
    x_pos = torch.tensor([[[1.0, 0.5]]])
    x_neg = torch.tensor([[[0.2, 1.0]]])
    u_pos, u_neg = w @ x_pos[0, 0], w @ x_neg[0, 0]
    g_pos, g_neg = u_pos.pow(2).mean().item(), u_neg.pow(2).mean().item()
    grad = -_sigmoid(1.0 - g_pos) * torch.outer(u_pos, x_pos[0, 0]) + _sigmoid(
        g_neg - 1.0
    ) * torch.outer(u_neg, x_neg[0, 0])  # 2/H = 1 for H = 2
    (loss,) = ff.train_step(x_pos, x_neg)
    expected_loss = math.log1p(math.exp(1.0 - g_pos)) + math.log1p(math.exp(g_neg - 1.0))
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert torch.allclose(layer.fc.weight.detach(), w - lr * grad, atol=1e-6)


def test_first_layer_update_ignores_the_layers_above():
    def build(sizes):
        torch.manual_seed(0)
        ff = ForwardForward(sizes, num_classes=2, threshold=0.05)
        ff.optimizers = [torch.optim.SGD(layer.parameters(), lr=0.5) for layer in ff.layers]
        return ff

    deep, shallow = build([6, 5, 4]), build([6, 5])
    x_pos, x_neg = torch.rand(4, 3, 6) * 2, torch.rand(4, 3, 6) * 2
    before = deep.layers[0].fc.weight.detach().clone()
    deep_losses = deep.train_step(x_pos, x_neg)
    shallow_losses = shallow.train_step(x_pos, x_neg)
    assert len(deep_losses) == 2
    assert deep_losses[0] == shallow_losses[0]
    assert torch.equal(deep.layers[0].fc.weight, shallow.layers[0].fc.weight)
    assert not torch.equal(deep.layers[0].fc.weight, before)


def test_embed_label_overwrites_the_first_features():
    x = torch.full((2, 2, 5), 0.5)  # [T, B, F]
    out = embed_label(x, torch.tensor([2, 0]), num_classes=3, value=2.0)
    assert out[0, 0].tolist() == [0.0, 0.0, 2.0, 0.5, 0.5]
    assert out[1, 1].tolist() == [2.0, 0.0, 0.0, 0.5, 0.5]
    assert x[0, 0, 0] == 0.5  # input untouched
    with pytest.raises(ValueError, match="labels must have shape"):
        embed_label(x, torch.tensor([1]), num_classes=3)


def test_predict_picks_the_label_with_most_goodness():
    ff = ForwardForward([4, 3], num_classes=2, goodness_kind="membrane")
    with torch.no_grad():
        # the neuron listens only to feature 1 (label 1's slot): label 1 has more goodness
        ff.layers[0].fc.weight.zero_()
        ff.layers[0].fc.bias.zero_()
        ff.layers[0].fc.weight[:, 1] = 0.5
    x = torch.rand(3, 5, 4) * 0.1
    assert ff.predict(x).tolist() == [1] * 5
