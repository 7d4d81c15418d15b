"""Surrogate gradients: values worked out from each formula, and parity with snnTorch."""

import math
import pickle

import pytest
import torch

from spikeforge import surrogate

X = torch.tensor([-1.0, -0.1, 0.0, 0.2, 1.5], dtype=torch.float64)


def grad_of(fn, x=X):
    x = x.clone().requires_grad_(True)
    out = fn(x)
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # strict H(x > 0)
    out.sum().backward()
    return x.grad


def test_atan_default_formula():
    # (α/2) / (1 + (π/2 · α · x)²) with α = 2: 1 / (1 + (π x)²)
    expected = [1 / (1 + (math.pi * v) ** 2) for v in X.tolist()]
    assert grad_of(surrogate.atan()).tolist() == pytest.approx(expected)


def test_fast_sigmoid_formula():
    expected = [1 / (25 * abs(v) + 1) ** 2 for v in X.tolist()]
    assert grad_of(surrogate.fast_sigmoid()).tolist() == pytest.approx(expected)


def test_sigmoid_formula_and_no_nan_far_below_threshold():
    expected = [25 * math.exp(-25 * v) / (math.exp(-25 * v) + 1) ** 2 for v in X.tolist()]
    assert grad_of(surrogate.sigmoid()).tolist() == pytest.approx(expected)
    far = grad_of(surrogate.sigmoid(), torch.tensor([-10.0, -1e4, 0.0, 1.0, 1e4]))
    assert torch.isfinite(far).all()


def test_triangular_is_sign_flipped_constant():
    assert grad_of(surrogate.triangular()).tolist() == [1.0, 1.0, -1.0, -1.0, -1.0]


def test_heaviside_and_straight_through():
    assert grad_of(surrogate.heaviside()).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert grad_of(surrogate.straight_through_estimator()).tolist() == [1.0] * 5


def test_spike_rate_escape_lso_sfs():
    expected = [25 * math.exp(-abs(v - 1)) for v in X.tolist()]
    assert grad_of(surrogate.spike_rate_escape()).tolist() == pytest.approx(expected)
    assert grad_of(surrogate.LSO(slope=0.1)).tolist() == pytest.approx([0.1, 0.1, 0.1, 1, 1])
    sfs = [(v > 1) / (25 * abs(v) + 1) ** 2 for v in X.tolist()]
    assert grad_of(surrogate.SFS()).tolist() == pytest.approx(sfs)


def test_sso_gradient_is_one_where_spiking_and_bounded_noise_elsewhere():
    g = grad_of(surrogate.SSO(mean=0, variance=0.2))
    assert g[3:].tolist() == [1.0, 1.0]
    assert (g[:3].abs() <= 0.1).all()


def test_custom_surrogate_receives_input_grad_and_output():
    def backward(input_, grad_input, out):
        return grad_input * 3 + out

    assert grad_of(surrogate.custom_surrogate(backward)).tolist() == [3, 3, 3, 4, 4]


@pytest.mark.parametrize(
    ("factory", "bad"),
    [
        (surrogate.atan, {"alpha": 0}),
        (surrogate.fast_sigmoid, {"slope": -1}),
        (surrogate.sigmoid, {"slope": 0.0}),
        (surrogate.LSO, {"slope": 0}),
    ],
)
def test_non_positive_slopes_are_errors(factory, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        factory(**bad)


def test_surrogates_are_picklable_values():
    for value in (surrogate.atan(3.0), surrogate.fast_sigmoid(), surrogate.SFS(10, 0.5)):
        assert pickle.loads(pickle.dumps(value)) == value
    assert surrogate.ATan.apply(torch.tensor([0.5]), 2.0).item() == 1.0


@pytest.mark.parity
@pytest.mark.parametrize(
    "name",
    [
        "atan",
        "fast_sigmoid",
        "sigmoid",
        "straight_through_estimator",
        "triangular",
        "heaviside",
        "spike_rate_escape",
        "SFS",
    ],
)
def test_parity_with_snntorch(name):
    sn = pytest.importorskip("snntorch.surrogate")
    x = torch.linspace(-0.3, 0.3, 41, dtype=torch.float64)  # finite in snnTorch too
    ours = grad_of_any(getattr(surrogate, name)(), x)
    theirs = grad_of_any(getattr(sn, name)(), x)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def grad_of_any(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad
