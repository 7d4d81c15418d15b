"""Weight and node perturbation: the update equals −η·ΔL/σ²·(noise term) for a fixed draw."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from spikeforge.learning import NodePerturbation, WeightPerturbation


def test_weight_perturbation_update_for_a_fixed_noise_draw():
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    b = nn.Parameter(torch.tensor([0.5]))
    lr, sigma = 0.1, 0.05
    opt = WeightPerturbation([w, b], lr=lr, sigma=sigma, seed=123)

    def loss_at(wv, bv):
        return (wv.pow(2).sum() + 3 * bv.sum()).item()

    gen = torch.Generator().manual_seed(123)  # the same draws, in parameter order
    xi_w = torch.randn(2, generator=gen) * sigma
    xi_b = torch.randn(1, generator=gen) * sigma
    w0, b0 = w.detach().clone(), b.detach().clone()
    delta = loss_at(w0 + xi_w, b0 + xi_b) - loss_at(w0, b0)

    returned = opt.step(lambda: w.pow(2).sum() + 3 * b.sum())
    assert returned.item() == pytest.approx(loss_at(w0, b0))
    assert torch.allclose(w.detach(), w0 - lr * delta / sigma**2 * xi_w, atol=1e-6)
    assert torch.allclose(b.detach(), b0 - lr * delta / sigma**2 * xi_b, atol=1e-6)


def test_greedy_rule_keeps_only_improvements():
    w = nn.Parameter(torch.tensor([3.0]))
    opt = WeightPerturbation([w], sigma=0.1, rule="greedy", seed=0)
    losses = [opt.step(lambda: (w - 1).pow(2).sum()).item() for _ in range(50)]
    assert all(b <= a for a, b in itertools.pairwise(losses))  # never worse
    assert losses[-1] < losses[0]


def test_weight_perturbation_descends_a_quadratic_on_average():
    torch.manual_seed(0)
    w = nn.Parameter(torch.tensor([2.0, -1.0, 0.5]))
    opt = WeightPerturbation([w], lr=0.02, sigma=0.01, seed=1)
    for _ in range(300):
        opt.step(lambda: w.pow(2).sum())
    assert w.detach().pow(2).sum() < 0.05


def test_node_perturbation_update_for_a_fixed_noise_draw():
    # y = W x + b + ψ with ψ ~ N(0, σ²); L = sum(y²) over the batch.
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -0.3], [0.2, 0.1]]))
        layer.bias.copy_(torch.tensor([0.1, -0.2]))
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, 0.3]])  # B = 3
    lr, sigma = 0.05, 0.1
    opt = NodePerturbation([layer], lr=lr, sigma=sigma, seed=7)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    psi = torch.randn(3, 2, generator=torch.Generator().manual_seed(7)) * sigma
    clean = x @ w0.t() + b0
    delta = ((clean + psi).pow(2).sum() - clean.pow(2).sum()).item()

    opt.step(lambda: layer(x).pow(2).sum())
    assert torch.allclose(layer.weight.detach(), w0 - lr * delta / sigma**2 * psi.t() @ x)
    assert torch.allclose(layer.bias.detach(), b0 - lr * delta / sigma**2 * psi.sum(0))


def test_node_perturbation_per_sample_losses_weigh_their_own_noise():
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -1.0]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    lr, sigma = 0.1, 0.2
    opt = NodePerturbation([layer], lr=lr, sigma=sigma, seed=3)
    w0 = layer.weight.detach().clone()
    psi = torch.randn(2, 1, generator=torch.Generator().manual_seed(3)) * sigma
    clean = x @ w0.t()
    delta = ((clean + psi).pow(2) - clean.pow(2)).squeeze(1)  # ΔL_b, one per sample

    opt.step(lambda: layer(x).pow(2).squeeze(1))
    expected = w0 - lr / sigma**2 * (psi * delta.unsqueeze(1)).t() @ x
    assert torch.allclose(layer.weight.detach(), expected)


def test_node_perturbation_sums_over_time_steps():
    # The layer is called twice (two steps); each call draws its own ψ_t.
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.5)
    xs = [torch.tensor([[1.0]]), torch.tensor([[2.0]])]
    lr, sigma = 0.1, 0.1
    opt = NodePerturbation([layer], lr=lr, sigma=sigma, seed=11)
    gen = torch.Generator().manual_seed(11)
    psis = [torch.randn(1, 1, generator=gen) * sigma for _ in xs]
    clean = sum((0.5 * x).sum() for x in xs)
    noisy = sum((0.5 * x + p).sum() for x, p in zip(xs, psis))
    delta = (noisy - clean).item()

    opt.step(lambda: sum(layer(x).sum() for x in xs))
    step = sum(p.t() @ x for p, x in zip(psis, xs))
    assert torch.allclose(layer.weight.detach(), 0.5 - lr * delta / sigma**2 * step)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        pytest.param(lambda p: WeightPerturbation(p, lr=0), ValueError, id="lr-0"),
        pytest.param(lambda p: WeightPerturbation(p, sigma=-1.0), ValueError, id="sigma"),
        pytest.param(lambda p: WeightPerturbation(p, rule="anneal"), ValueError, id="rule"),
        pytest.param(lambda p: NodePerturbation([nn.ReLU()]), TypeError, id="not-linear"),
    ],
)
def test_bad_arguments_raise(make, error):
    with pytest.raises(error):
        make([nn.Parameter(torch.zeros(1))])
