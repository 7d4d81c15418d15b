"""Quantisation: codes and scales by hand, STE gradients, QAT parametrizations, bf16 autocast."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from spikeforge import Leaky
from spikeforge.learning import SpikingDense, run_neuron
from spikeforge.quantization import (
    BinaryWeight,
    IntWeight,
    TernaryWeight,
    fake_quantize,
    freeze_quantization,
    quantize,
    quantize_aware,
    quantize_state,
    quantize_weights_,
)


def test_per_tensor_int8_codes_by_hand():
    # s = 1.27/127 = 0.01: codes round(w/s)
    qt = quantize(torch.tensor([0.5, -1.27, 0.013]), bits=8)
    assert qt.values.tolist() == [50, -127, 1]
    assert qt.scale.item() == pytest.approx(0.01)
    assert qt.dequantize().tolist() == pytest.approx([0.5, -1.27, 0.01])


def test_per_channel_int4_codes_by_hand():
    # row scales 1/7 and 0.1/7: row 0 → (7, round(−2.1)) ; row 1 → (7, round(2.8))
    w = torch.tensor([[1.0, -0.3], [0.1, 0.04]])
    qt = quantize(w, bits=4, axis=0)
    assert qt.values.tolist() == [[7, -2], [7, 3]]
    assert qt.scale.tolist() == pytest.approx([1 / 7, 0.1 / 7])


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("axis", [None, 0], ids=["tensor", "channel"])
def test_fake_quantize_agrees_with_codes_and_passes_gradient(bits, axis):
    w = torch.randn(5, 7, requires_grad=True)
    fake = fake_quantize(w, bits, axis)
    assert torch.allclose(fake, quantize(w, bits, axis).dequantize(), atol=1e-6)
    levels = fake.detach().unique().numel() if axis is None else None
    if levels is not None:
        assert levels <= 2**bits
    fake.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))  # STE: the range covers every weight


def test_quantize_weights_in_place_reports_codes_and_bounds_error():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    original = [net[0].weight.detach().clone(), net[2].weight.detach().clone()]
    codes = quantize_weights_(net, bits=4, per_channel=True)
    assert sorted(codes) == ["0", "2"]
    for layer, before, key in zip([net[0], net[2]], original, ["0", "2"]):
        scale = codes[key].scale.unsqueeze(1)
        assert ((layer.weight - before).abs() <= scale / 2 + 1e-7).all()
        assert torch.equal(layer.weight, codes[key].dequantize())
    with pytest.raises(ValueError, match=r"no nn\.Linear"):
        quantize_weights_(nn.ReLU())


def test_state_quantizer_snaps_to_grid_with_clipped_ste():
    # 2 bits on [−1, 2]: scale 1, levels {−1, 0, 1, 2}
    q = quantize_state(bits=2, lower=-1.0, upper=2.0)
    u = torch.tensor([0.4, 0.6, 2.7, -3.0], requires_grad=True)
    out = q(u)
    assert out.tolist() == [0.0, 1.0, 2.0, -1.0]
    out.sum().backward()
    assert u.grad.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert pickle.loads(pickle.dumps(q)) == q
    with pytest.raises(ValueError, match="lower <= 0 < upper"):
        quantize_state(4, lower=0.5, upper=1.0)


def test_leaky_membrane_state_quantised_post_training():
    # 3 bits on [−1, 2.5]: scale 0.5. β=0.5, x=0.3: U_0 = q(0.3) = 0.5; U_1 = q(0.25+0.3) = 0.5
    lif = Leaky(beta=0.5, state_quant=quantize_state(3, -1.0, 2.5))
    _, mem = run_neuron(lif, torch.full((3, 1, 1), 0.3))
    assert mem.flatten().tolist() == [0.5, 0.5, 0.5]
    # β=0.5, x=0.8: U_0 = q(0.8) = 1.0 (no spike: 1.0 is not > 1); U_1 = q(1.3) = 1.5 (spike);
    # U_2 = q(0.75 + 0.8 − 1) = q(0.55) = 0.5
    spk, mem = run_neuron(lif, torch.full((3, 1, 1), 0.8))
    assert mem.flatten().tolist() == [1.0, 1.5, 0.5]
    assert spk.flatten().tolist() == [0.0, 1.0, 0.0]


def test_binary_weight_values_and_clipped_ste():
    w = torch.tensor([0.5, -0.25, 0.0, -1.5], requires_grad=True)
    out = BinaryWeight()(w)
    alpha = (0.5 + 0.25 + 0.0 + 1.5) / 4
    assert out.tolist() == [alpha, -alpha, alpha, -alpha]
    out.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0, 0.0]  # |w| > 1 gets no gradient


def test_ternary_weight_values_and_ste():
    # mean|w| = 0.4125, Δ = 0.28875: keep 0.9 and −0.6, α = 0.75
    w = torch.tensor([0.9, -0.05, -0.6, 0.1], requires_grad=True)
    out = TernaryWeight()(w)
    assert out.tolist() == [0.75, 0.0, -0.75, 0.0]
    out.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_int4_weight_parametrization_uses_fake_quantized_weight():
    layer = nn.Linear(3, 2)
    latent = layer.weight.detach().clone()
    parametrize.register_parametrization(layer, "weight", IntWeight(4, per_channel=True))
    assert torch.allclose(layer.weight, fake_quantize(latent, 4, axis=0))
    assert torch.equal(layer.parametrizations.weight.original, latent)


@pytest.mark.parametrize("scheme", ["int8", "int4", "binary", "ternary"])
def test_quantize_aware_training_step_moves_latent_weights(scheme):
    torch.manual_seed(0)
    net = nn.ModuleList([SpikingDense(8, 6, beta=0.8), SpikingDense(6, 3, beta=0.8)])
    quantize_aware(net, scheme)
    fc = net[0].fc
    assert parametrize.is_parametrized(fc, "weight")
    levels = fc.weight.detach().unique().numel()
    assert levels <= {"int8": 256, "int4": 16, "binary": 2, "ternary": 3}[scheme]
    latent = fc.parametrizations.weight.original
    before = latent.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x = torch.rand(5, 4, 8) * 2
    _spk, mem = net[1](net[0](x)[0])
    mem.sum().backward()
    assert latent.grad is not None and latent.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(latent.detach(), before)
    quantised = fc.weight.detach().clone()
    freeze_quantization(net)
    assert not parametrize.is_parametrized(fc, "weight")
    assert torch.equal(fc.weight.detach(), quantised)


def test_quantize_aware_rejects_unknown_scheme_and_empty_model():
    with pytest.raises(ValueError, match="scheme must be one of"):
        quantize_aware(nn.Linear(2, 2), "int2")
    with pytest.raises(ValueError, match=r"no nn\.Linear"):
        quantize_aware(nn.ReLU(), "int8")


def test_bf16_autocast_leaky_matches_fp32_within_rounding_bound():
    """bf16 keeps 8 significant bits: unit roundoff u = 2⁻⁸. A current I = Σ w x computed
    from bf16-rounded w and x and rounded once more is off by at most 3u·Σ|w||x|; the
    membrane, stored in bf16, adds u·|U| per step. Through U_t = βU_{t−1} + I_t the errors
    add with weights β^k, so |ΔU| ≤ (3u·max Σ|w||x| + u·max|U|)/(1 − β) =: δ.
    A neuron whose fp32 membrane never comes within δ of θ must spike identically and
    keep |ΔU| ≤ δ; we check that, and that such neurons are the large majority."""
    torch.manual_seed(0)
    beta, steps = 0.8, 12
    layer = SpikingDense(40, 64, beta=beta)
    x = torch.rand(steps, 8, 40)
    with torch.no_grad():
        spk32, mem32 = layer(x)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        spk16, mem16 = layer(x)
    assert mem16.dtype == torch.bfloat16
    u = 2.0**-8
    reach = (x.abs() @ layer.fc.weight.detach().abs().t() + layer.fc.bias.detach().abs()).max()
    delta = float((3 * u * reach + u * mem32.abs().max()) / (1 - beta))
    safe = ((mem32 - 1.0).abs() > delta).all(0)  # [B, H]: never within δ of θ
    assert safe.float().mean() > 0.5
    assert torch.equal(spk16.float()[:, safe], spk32[:, safe])
    assert ((mem16.float() - mem32).abs()[:, safe] <= delta).all()
