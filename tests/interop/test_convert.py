"""ANN-to-SNN conversion: batch-norm folding, threshold balancing and IAF rate coding."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.convert import activation_scales, convert_to_snn, fold_batchnorm, simulate


def _linear(weight: float, bias: float = 0.0) -> nn.Linear:
    layer = nn.Linear(1, 1)
    with torch.no_grad():
        layer.weight.fill_(weight)
        layer.bias.fill_(bias)
    return layer


def test_fold_batchnorm_matches_eval_mode_network():
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
        nn.Sequential(nn.Linear(12, 4), nn.BatchNorm1d(4)), nn.Dropout(0.5),
    )  # fmt: skip
    for bn in (net[1], net[4][1]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    folded = fold_batchnorm(net)
    assert [type(m) for m in folded] == [nn.Conv2d, nn.ReLU, nn.Flatten, nn.Linear]
    x = torch.randn(5, 2, 4, 4)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)


def test_activation_scale_is_percentile_of_positive_activations():
    net = nn.Sequential(_linear(1.0), nn.ReLU())
    data = torch.tensor([[1.0], [2.0], [3.0], [4.0], [-1.0], [-5.0]])
    assert activation_scales(net, data, percentile=50) == [2.0]
    assert activation_scales(net, data, percentile=100) == [4.0]
    assert activation_scales(nn.Sequential(_linear(-1.0), nn.ReLU()), data[:4]) == [1.0]


def test_converted_network_rates_match_hand_computed_iaf_trace():
    # ANN: y = 1 · relu(2x); λ1 = max activation 2 → W1 = 2/2 = 1, W2 = 1 · 2 = 2.
    ann = nn.Sequential(_linear(2.0), nn.ReLU(), _linear(1.0))
    snn_net = convert_to_snn(ann, torch.tensor([[0.25], [0.5], [1.0]]), percentile=100)
    assert isinstance(snn_net[1], snn.IAF)
    assert snn_net[0].weight.item() == 1.0 and snn_net[2].weight.item() == 2.0
    # IAF with input .25: U = .25, .5, .75, 1.0 (no spike: strict >), 1.25 (spike), then the
    # subtract reset lands one step later, so spikes at steps 5, 9, 13.
    sums = simulate(snn_net, torch.tensor([[0.25]]), 16, checkpoints=(4, 8, 16))
    assert [sums[t].item() for t in (4, 8, 16)] == [0.0, 2.0, 6.0]
    # The ANN's answer is 0.5 per step; spikes at 5, 9, …, 397 give 99 · 2 / 400 = 0.495.
    assert simulate(snn_net, torch.tensor([[0.25]]), 400).item() / 400 == 0.495


def test_unsupported_layers_raise_clear_errors():
    with pytest.raises(TypeError, match=r"MaxPool2d.*AvgPool2d"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.MaxPool2d(2)))
    with pytest.raises(TypeError, match="BatchNorm must directly follow"):
        fold_batchnorm(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))
    with pytest.raises(TypeError, match=r"nn\.Sequential"):
        fold_batchnorm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="percentile"):
        activation_scales(nn.Sequential(nn.ReLU()), torch.ones(2, 1), percentile=0)
    with pytest.raises(ValueError, match="num_steps"):
        simulate(nn.Sequential(), torch.ones(1), 0)


@pytest.mark.slow
def test_mnist_conv_net_converts_within_one_point_at_64_steps():
    path = Path(__file__).resolve().parents[2] / "examples" / "convert_ann_to_snn.py"
    spec = importlib.util.spec_from_file_location("convert_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ann_acc, curve = example.run(epochs=1, percentile=99.9, seed=0)
    print(f"ANN {ann_acc:.2f}%, SNN {curve}")
    assert ann_acc > 97.0
    assert ann_acc - curve[64] <= 1.0
    assert curve[8] <= curve[64] + 0.5
