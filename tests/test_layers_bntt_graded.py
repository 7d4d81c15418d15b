"""BatchNormTT1d/2d and GradedSpikes: snnTorch 1.0.0's construction, numbers and gradients."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")


@pytest.mark.parity
@pytest.mark.parametrize(
    ("name", "shape"), [("BatchNormTT1d", (8, 5)), ("BatchNormTT1d", (8, 5, 3)),
                        ("BatchNormTT2d", (6, 5, 4, 3))]
)  # fmt: skip
@pytest.mark.parametrize("affine", [True, False])
def test_bntt_parity(name, shape, affine):
    steps = 4
    ours = getattr(sf, name)(5, steps, eps=1e-4, momentum=0.2, affine=affine)
    theirs = getattr(snntorch, name)(5, steps, eps=1e-4, momentum=0.2, affine=affine)
    assert isinstance(ours, torch.nn.ModuleList) and len(ours) == steps
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert all(bn.bias is None for bn in ours)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(steps, *shape, generator=gen) * 2 + 1
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya = torch.stack([ours[t](xa[t]) for t in range(steps)])
        yb = torch.stack([theirs[t](xb[t]) for t in range(steps)])
        torch.testing.assert_close(ya, yb, rtol=0, atol=1e-6)
        cot = torch.randn(ya.shape, generator=gen)
        (ya * cot).sum().backward()
        (yb * cot).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-5)
        for a, b in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-5)
        for a, b in zip(ours.buffers(), theirs.buffers()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_bntt_normalises_each_step_with_its_own_statistics():
    bntt = sf.BatchNormTT1d(1, 2)
    x0 = torch.tensor([[1.0], [3.0]])  # mean 2, biased variance 1
    y0 = bntt[0](x0)
    assert y0.flatten().tolist() == pytest.approx([-1 / (1 + 1e-5) ** 0.5, 1 / (1 + 1e-5) ** 0.5])
    assert bntt[0].running_mean.item() == pytest.approx(0.2)  # momentum 0.1
    assert bntt[1].running_mean.item() == 0.0  # step 1 untouched


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bntt_bad_sizes(bad):
    with pytest.raises(ValueError, match="time_steps must be a positive int"):
        sf.BatchNormTT1d(3, bad)
    with pytest.raises(ValueError, match="input_features must be a positive int"):
        sf.BatchNormTT2d(bad, 3)


def test_graded_spikes_numbers_and_gradient():
    layer = sf.GradedSpikes(3, constant_factor=2.5)
    assert layer.weights.shape == (3, 1)
    x = torch.tensor([[[1.0], [0.0], [1.0]]], requires_grad=True)  # [B=1, size=3, 1]
    y = layer(x)
    assert y.flatten().tolist() == [2.5, 0.0, 2.5]
    y.sum().backward()
    assert layer.weights.grad.flatten().tolist() == [1.0, 0.0, 1.0]
    assert x.grad.flatten().tolist() == [2.5, 2.5, 2.5]


@pytest.mark.parity
@pytest.mark.parametrize("factor", [None, 0, 1.7])
def test_graded_spikes_parity(factor):
    torch.manual_seed(3)
    ours = sf.GradedSpikes(4, factor)
    torch.manual_seed(3)
    theirs = snntorch.GradedSpikes(4, factor)
    torch.testing.assert_close(ours.weights, theirs.weights, rtol=0, atol=0)
    if not factor:
        assert ((ours.weights >= 0.5) & (ours.weights < 1.5)).all()
    x = (torch.rand(2, 4, 5) > 0.5).float()
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_graded_spikes_bad_arguments():
    with pytest.raises(ValueError, match="size must be a positive int"):
        sf.GradedSpikes(0, 1.0)
    with pytest.raises(TypeError, match="constant_factor must be a number"):
        sf.GradedSpikes(3, "2")
