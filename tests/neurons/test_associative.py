"""AssociativeLeaky: the recurrence it approximates, parity with snnTorch 1.0.0 (same seed,
outputs within 1e-6, gradients within 1e-5), constructors and bad arguments."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")


def test_state_follows_the_matrix_recurrence_while_products_are_large():
    """S_t = S_{t−1} diag(a_t) + v_t k_t^T (exact while P_t ≫ 1e−8)."""
    torch.manual_seed(0)
    lif = sf.AssociativeLeaky(in_dim=3, d_value=2, d_key=4, num_spiking_neurons=8)
    with torch.no_grad():
        lif.to_alpha.bias.fill_(4.0)  # a ≈ 0.98: P_T stays near 0.5 over 20 steps
    x = torch.randn(20, 2, 3, dtype=torch.float64)
    lif = lif.double()
    states = lif.state_sequence(x)
    v, k = lif.to_v(x), lif.to_k(x)
    a = torch.sigmoid(lif.to_alpha(x))
    s = torch.zeros(2, 2, 4, dtype=torch.float64)
    for t in range(20):
        s = s * a[t].unsqueeze(-2) + v[t].unsqueeze(-1) * k[t].unsqueeze(-2)
        torch.testing.assert_close(states[t], s, rtol=1e-6, atol=1e-6)


@pytest.mark.parity
@pytest.mark.parametrize("use_q", [True, False])
@pytest.mark.parametrize(("d_value", "d_key"), [(3, 3), (2, 5)])
def test_parity_with_snntorch(use_q, d_value, d_key):
    built = []
    for lib in (sf, snntorch):
        torch.manual_seed(1)
        built.append(lib.AssociativeLeaky(4, d_value, d_key, d_value * d_key, use_q))
    ours, theirs = built
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(50, 3, 4, generator=gen) * 2
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), theirs(xb)
    width = d_value * (d_value if use_q else d_key)
    assert ya.shape == (50, 3, width)
    torch.testing.assert_close(ya, yb, rtol=0, atol=1e-6)
    cot = torch.randn(ya.shape, generator=gen)
    (ya * cot).sum().backward()
    (yb * cot).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-5)
    pa, pb = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert pa.keys() == pb.keys()
    for name in pa:
        torch.testing.assert_close(pa[name].grad, pb[name].grad, rtol=1e-5, atol=1e-5, msg=name)


def test_from_num_spiking_neurons():
    lif = sf.AssociativeLeaky.from_num_spiking_neurons(5, 16, use_q_projection=False)
    assert (lif.d_value, lif.d_key, lif.num_spiking_neurons, lif.to_q) == (4, 4, 16, None)
    assert lif(torch.randn(7, 2, 5)).shape == (7, 2, 16)
    with pytest.raises(ValueError, match="must be a perfect square"):
        sf.AssociativeLeaky.from_num_spiking_neurons(5, 12)
    with pytest.raises(ValueError, match="num_spiking_neurons must be a positive int"):
        sf.AssociativeLeaky.from_num_spiking_neurons(5, 0)


def test_inferred_neuron_count():
    """None infers d_value·d_key (snnTorch 1.0.0 then fails building its Q layer)."""
    lif = sf.AssociativeLeaky(3, 2, 3, None)
    assert lif.num_spiking_neurons == 6 and lif.to_q.out_features == 6


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"must equal d_value \* d_key = 6"):
        sf.AssociativeLeaky(3, 2, 3, 5)
    with pytest.raises(ValueError, match="in_dim must be a positive int"):
        sf.AssociativeLeaky(0, 2, 3, 6)
    with pytest.raises(ValueError, match="d_key must be a positive int"):
        sf.AssociativeLeaky(3, 2, -1, None)
    lif = sf.AssociativeLeaky(3, 2, 3, 6)
    with pytest.raises(ValueError, match=r"\[T, B, in_dim=3\], got \(4, 3\)"):
        lif(torch.zeros(4, 3))
