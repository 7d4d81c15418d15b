"""LeakyParallel: parity with snnTorch 1.0.0 (same seed, same RNN weights; spikes equal,
gradients within 1e-5), the per-neuron beta fix, bad arguments."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")

CASES = {
    "random-beta": {},
    "beta": {"beta": 0.9},
    "beta-learn": {"beta": 0.8, "learn_beta": True, "learn_threshold": True},
    "dense": {"beta": 0.5, "weight_hh_enable": True, "learn_beta": True},
    "dense-random": {"weight_hh_enable": True},
    "graded": {"graded_spikes_factor": 2.0, "learn_graded_spikes_factor": True, "beta": 0.7},
    "no-bias-threshold": {"bias": False, "threshold": 0.3, "beta": 0.95},
    "surrogate": {"beta": 0.9, "spike_grad": "fs", "learn_beta": True},
    "disabled": {"beta": 0.9, "surrogate_disable": True},
}


def _build(lib, case):
    kwargs = dict(CASES[case])
    if kwargs.get("spike_grad") == "fs":
        kwargs["spike_grad"] = lib.surrogate.fast_sigmoid(slope=5)
    torch.manual_seed(7)  # the RNN's initialisation is the first draw in both libraries
    return lib.LeakyParallel(input_size=5, hidden_size=6, **kwargs)


@pytest.mark.parity
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batched", [True, False])
def test_parity_with_snntorch(case, batched):
    ours, theirs = _build(sf, case), _build(snntorch, case)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    gen = torch.Generator().manual_seed(len(case))
    x = torch.randn(50, 3, 5, generator=gen) if batched else torch.randn(50, 5, generator=gen)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    spk_a, spk_b = ours(xa), theirs(xb)
    torch.testing.assert_close(spk_a, spk_b, rtol=0, atol=1e-6)
    assert spk_a.sum() > 0
    if case == "disabled":  # no surrogate: the spikes carry no gradient in either library
        assert not spk_a.requires_grad and not spk_b.requires_grad
        return
    cot = torch.randn(spk_a.shape, generator=gen)
    (spk_a * cot).sum().backward()
    (spk_b * cot).sum().backward()
    pa, pb = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert pa.keys() == pb.keys()
    pairs = [("input", xa.grad, xb.grad)] + [(n, pa[n].grad, pb[n].grad) for n in pa]
    for name, a, b in pairs:
        if b is None:
            assert a is None, name
            continue
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=name)
    assert ours.rnn.weight_hh_l0.requires_grad == ("learn_beta" in CASES[case])


def test_beta_sets_the_diagonal():
    lif = sf.LeakyParallel(2, 3, beta=0.9)
    assert torch.equal(lif.rnn.weight_hh_l0, 0.9 * torch.eye(3))
    lif = sf.LeakyParallel(2, 3, beta=1.4)  # clamped to [0, 1] as snnTorch does
    assert torch.equal(lif.rnn.weight_hh_l0, torch.eye(3))


def test_per_neuron_beta_is_applied():
    """Deliberate fix: snnTorch 1.0.0 silently keeps the random W_hh for such a tensor."""
    beta = torch.tensor([0.5, 0.7, 0.9])
    lif = sf.LeakyParallel(2, 3, beta=beta, bias=False)
    assert torch.allclose(lif.rnn.weight_hh_l0, torch.diag(beta))
    # U_t = relu(W x_t + β ⊙ U_{t−1}): with W x = 1 at t=0 then 0, U decays as β^t
    with torch.no_grad():
        lif.rnn.weight_ih_l0.copy_(torch.tensor([[1.0, 0.0]] * 3))
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]])
    mem, _ = lif.rnn(x)
    assert torch.allclose(mem[:, 0], torch.stack([beta**0, beta, beta**2]))


def test_learned_diagonal_stays_diagonal():
    lif = sf.LeakyParallel(4, 3, beta=0.5, learn_beta=True)
    lif(torch.randn(10, 2, 4) * 3).sum().backward()
    grad = lif.rnn.weight_hh_l0.grad
    assert torch.equal(grad, torch.diag(torch.diagonal(grad)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="beta must be a single value or hidden_size=3"):
        sf.LeakyParallel(2, 3, beta=torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        sf.LeakyParallel(2, 0)
    with pytest.raises(TypeError, match="beta must be a number"):
        sf.LeakyParallel(2, 3, beta="0.9")
    lif = sf.LeakyParallel(2, 3)
    with pytest.raises(ValueError, match=r"input_size=2\] or \[T, input_size\], got \(4, 1, 3\)"):
        lif(torch.zeros(4, 1, 3))
    with pytest.raises(TypeError, match="floating-point"):
        lif(torch.zeros(4, 1, 2, dtype=torch.long))
