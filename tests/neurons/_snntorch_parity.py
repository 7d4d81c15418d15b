"""Shared helpers of the snnTorch parity tests: run one neuron in both libraries and compare.

Inputs are redrawn until every spike decision (``mem − θ`` seen by the spike function) lies
at least ``MARGIN`` away from the threshold, so float rounding cannot flip a spike and
legitimately split the trajectories. Quantiser roundings are not guarded (with 2400 values a
step some land near a rounding boundary); both libraries compute the same float operations
in the same order, so their pre-quantisation states agree bit for bit in practice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

import spikeforge as sf

MARGIN = 1e-3
QUANT_STEP = 1 / 8
T, BATCH, N = 50, 4, 6


def custom_grad(input_: Tensor, grad_input: Tensor, out: Tensor) -> Tensor:
    """A module-level custom surrogate backward (same for both libraries)."""
    return grad_input / (1 + 4 * input_**2)


# Surrogate names present in both libraries (snnTorch's Sigmoid returns NaN for large
# negative inputs and its LSO raises, so both are left out here; see test_surrogate.py).
SURROGATES: dict[str, tuple] = {
    "atan": (lambda m: m.atan(), False),
    "atan_alpha3": (lambda m: m.atan(alpha=3.0), False),
    "fast_sigmoid": (lambda m: m.fast_sigmoid(slope=10), False),
    "straight_through_estimator": (lambda m: m.straight_through_estimator(), False),
    "triangular": (lambda m: m.triangular(), False),
    "heaviside": (lambda m: m.heaviside(), False),
    "spike_rate_escape": (lambda m: m.spike_rate_escape(beta=1, slope=5), False),
    "SFS": (lambda m: m.SFS(slope=25, B=0.1), False),
    "SSO": (lambda m: m.SSO(mean=0.1, variance=0.3), True),
    "custom_surrogate": (lambda m: m.custom_surrogate(custom_grad), False),
}


def quantiser(x: Tensor) -> Tensor:
    """Uniform quantiser to multiples of 1/8 with a straight-through gradient."""
    return x + (torch.round(x / QUANT_STEP) * QUANT_STEP - x).detach()


class Margins:
    """Records the smallest distance of any decision to its boundary."""

    def __init__(self) -> None:
        self.closest = float("inf")

    def spike_fn(self, x: Tensor) -> Tensor:
        self.closest = min(self.closest, x.detach().abs().min().item())
        return sf.surrogate.atan()(x)


def run(neuron: torch.nn.Module, x_seq: Tensor, init: str) -> tuple[Tensor, list[Tensor]]:
    """Step ``neuron`` over ``x_seq`` passing states explicitly; returns spikes and states."""
    states = getattr(neuron, init)()
    states = states if isinstance(states, tuple) else (states,)
    spikes, per_state = [], [[] for _ in states]
    for x in x_seq:
        spk, *states = neuron(x, *states)
        spikes.append(spk)
        for seq, value in zip(per_state, states):
            seq.append(value)
    return torch.stack(spikes), [torch.stack(seq) for seq in per_state]


def draw_inputs(
    build_ours: Callable[..., torch.nn.Module],
    init: str,
    scale: float,
    shift: float,
    quantised: bool,
    seed: int = 0,
) -> Tensor:
    """Random ``[T, B, N]`` inputs whose spike and quantiser decisions keep ``MARGIN``."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(200):
        x = torch.randn(T, BATCH, N, generator=gen) * scale + shift
        margins = Margins()
        extra = {"state_quant": quantiser} if quantised else {}
        with torch.no_grad():
            run(build_ours(spike_grad=margins.spike_fn, **extra), x, init)
        if margins.closest > MARGIN:
            return x
    raise AssertionError("could not draw inputs that keep every decision off its boundary")


def compare(
    ours: torch.nn.Module,
    theirs: torch.nn.Module,
    x_seq: Tensor,
    init: str,
    params: tuple[str, ...],
    stochastic: bool = False,
) -> Tensor:
    """Run both; assert equal spikes, states within 1e-6, gradients within 1e-5.

    Gradients are taken of random cotangents of every output with respect to the input and
    to each name in ``params``. Returns our spikes (callers check the test is not vacuous).
    """
    x_ours = x_seq.clone().requires_grad_()
    x_theirs = x_seq.clone().requires_grad_()
    spk_o, states_o = run(ours, x_ours, init)
    spk_t, states_t = run(theirs, x_theirs, init)
    assert torch.equal(spk_o, spk_t), "spikes differ"
    assert len(states_o) == len(states_t)
    for a, b in zip(states_o, states_t):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)

    gen = torch.Generator().manual_seed(1)
    cotangents = [torch.randn(spk_o.shape, generator=gen) for _ in range(1 + len(states_o))]

    def grads(module, x, spk, states):
        loss = sum((c * v).sum() for c, v in zip(cotangents, [spk, *states]))
        inputs = [x, *(getattr(module, p) for p in params)]
        if stochastic:
            torch.manual_seed(1234)
        return torch.autograd.grad(loss, inputs, allow_unused=True)

    for name, g_o, g_t in zip(
        ("input", *params),
        grads(ours, x_ours, spk_o, states_o),
        grads(theirs, x_theirs, spk_t, states_t),
    ):
        assert g_t is not None, f"snnTorch gives no gradient for {name}"
        assert g_o is not None, f"no gradient for {name}"
        scale = max(1.0, g_t.abs().max().item())
        torch.testing.assert_close(g_o, g_t, atol=1e-5 * scale, rtol=1e-5, msg=name)
    return spk_o
