"""DeltaLeaky: worked numbers, parity with snnTorch 1.0.0 (50 steps, outputs within 1e-6,
gradients within 1e-5), the multi-step path against the step loop, bad arguments."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")


def test_worked_numbers():
    """β = 0.5, δ = 0.6, input 1, 1, 0: U = 1, 1.5, 0.75; |ΔU| = 1, 0.5, 0.75."""
    lif = sf.DeltaLeaky(0.6, 0.5)
    state = lif.reset_mem()
    assert state == (None, None)
    spikes, mems = [], []
    for v in (1.0, 1.0, 0.0):
        spk, state = lif(torch.tensor([v]), state)
        spikes.append(spk.item())
        mems.append(state[0].item())
    assert mems == pytest.approx([1.0, 1.5, 0.75])
    assert spikes == [1.0, 0.0, 1.0]
    assert state[1].item() == pytest.approx(1.5)  # mem_prev


def _run(lib, kwargs, x_seq, per_step_state=True):
    lif = lib.DeltaLeaky(**kwargs)
    state = lif.reset_mem()
    spikes, mems, prevs = [], [], []
    for x in x_seq:
        spk, state = lif(x, state) if not kwargs.get("init_hidden") else lif(x)
        spikes.append(spk)
        mems.append(state[0])
        prevs.append(state[1])
    return lif, torch.stack(spikes), torch.stack(mems), torch.stack(prevs)


CASES = {
    "default": {"beta": 0.9},
    "delta": {"delta_threshold": 0.3, "beta": 0.8},
    "per-neuron": {"delta_threshold": 0.4, "beta": torch.linspace(0.5, 0.95, 5)},
    "learnable": {"delta_threshold": 0.4, "beta": 0.85, "learn_beta": True},
    "init-hidden": {"delta_threshold": 0.4, "beta": 0.85, "init_hidden": True},
    "fast-sigmoid": {"delta_threshold": 0.4, "beta": 0.7, "spike_grad": "fs"},
}


@pytest.mark.parity
@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_with_snntorch(case):
    gen = torch.Generator().manual_seed(len(case))
    x = torch.randn(50, 3, 5, generator=gen)
    results = []
    for lib in (sf, snntorch):
        kwargs = dict(CASES[case])
        if isinstance(kwargs["beta"], torch.Tensor):
            kwargs["beta"] = kwargs["beta"].clone()
        if kwargs.get("spike_grad") == "fs":
            kwargs["spike_grad"] = lib.surrogate.fast_sigmoid(slope=5)
        xi = x.clone().requires_grad_()
        lif, spk, mem, prev = _run(lib, kwargs, xi)
        cot = torch.randn(spk.shape, generator=torch.Generator().manual_seed(1))
        ((spk * cot).sum() + (mem * cot).sum() + prev.sum()).backward()
        grads = [xi.grad] + [p.grad for n, p in lif.named_parameters()]
        results.append((spk, mem, prev, grads))
    (s1, m1, p1, g1), (s2, m2, p2, g2) = results
    torch.testing.assert_close(s1, s2, rtol=0, atol=0)
    torch.testing.assert_close(m1, m2, rtol=0, atol=1e-6)
    torch.testing.assert_close(p1, p2, rtol=0, atol=1e-6)
    assert len(g1) == len(g2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_multi_step_equals_step_loop(backend):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(30, 4, 6, generator=gen)
    beta = torch.rand(6, generator=gen)
    loop = sf.DeltaLeaky(0.3, beta.clone(), learn_beta=True)
    _, spk, mem, prev = _run(sf, {"delta_threshold": 0.3, "beta": beta.clone()}, x)
    multi = sf.DeltaLeaky(0.3, beta.clone(), learn_beta=True, step_mode="multi", backend=backend)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    spk_m, (mem_m, prev_m) = multi(x2, multi.reset_mem())
    torch.testing.assert_close(spk_m, spk, rtol=0, atol=0)
    torch.testing.assert_close(mem_m, mem, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(prev_m, prev, rtol=1e-6, atol=1e-6)
    # gradients: the fused membrane against the step loop
    state = loop.reset_mem()
    mems = []
    for xt in x1:
        _, state = loop(xt, state)
        mems.append(state[0])
    cot = torch.randn(mem.shape, generator=gen)
    (torch.stack(mems) * cot).sum().backward()
    (mem_m * cot).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(multi.beta.grad, loop.beta.grad, rtol=1e-5, atol=1e-5)
    assert multi.mem.shape == (4, 6) and torch.equal(multi.mem, mem_m[-1])


def test_bad_arguments():
    lif = sf.DeltaLeaky(0.5, 0.9)
    with pytest.raises(TypeError, match=r"pass the state `mem` = \(mem, mem_prev\)"):
        lif(torch.zeros(3))
    with pytest.raises(TypeError, match="the pair"):
        lif(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="delta_threshold must be a number"):
        sf.DeltaLeaky("0.5", 0.9)
    with pytest.raises(ValueError, match="beta must lie in"):
        sf.DeltaLeaky(0.5, 1.5)
