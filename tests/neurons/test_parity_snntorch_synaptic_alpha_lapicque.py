"""Parity of Synaptic, Alpha and Lapicque with snnTorch 1.0.0 over 50 random steps.

Spikes must be equal, states within 1e-6, and the gradients of random cotangents with
respect to the input and every learnable parameter within 1e-5 (relative to their size).
Where snnTorch 1.0.0 crashes (Alpha ``learn_alpha``, Lapicque per-neuron ``beta`` and a
second backward with ``learn_beta``), the fix is tested against snnTorch run another way.
"""

from __future__ import annotations

import pytest
import torch
from _snntorch_parity import SURROGATES, compare, draw_inputs, quantiser, run

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")
pytestmark = pytest.mark.parity

PER_NEURON = {
    "alpha": [0.95, 0.9, 0.85, 0.97, 0.92, 0.88],
    "beta": [0.9, 0.8, 0.7, 0.85, 0.6, 0.75],
    "threshold": [1.0, 0.8, 1.2, 0.9, 1.1, 1.05],
}

# name -> (init method, base kwargs, input scale, input shift)
NEURONS = {
    "Synaptic": ("init_synaptic", {"alpha": 0.8, "beta": 0.9}, 0.15, 0.03),
    "Alpha": ("init_alpha", {"alpha": 0.9, "beta": 0.8}, 0.4, 0.1),
    "Lapicque": ("init_lapicque", {"R": 5.0, "C": 1e-3, "time_step": 1e-3}, 0.4, 0.15),
}


def build(lib, name: str, kwargs: dict, surrogate: str | None = None, **extra):
    """``lib.<name>(**kwargs)``, with tensors copied so the two libraries share nothing."""
    args = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    if surrogate is not None:
        args["spike_grad"] = SURROGATES[surrogate][0](lib.surrogate)
    args.update(extra)
    return getattr(lib, name)(**args)


def check(name: str, options: dict, params: tuple[str, ...] = (), surrogate=None, seed=0):
    init, base, scale, shift = NEURONS[name]
    kwargs = {**base, **options}
    quantised = kwargs.pop("state_quant", False)
    extra = {"state_quant": quantiser} if quantised else {}

    def ours_for_margins(**over):
        return build(sf, name, kwargs, **{**extra, **over})

    x = draw_inputs(ours_for_margins, init, scale, shift, quantised, seed)
    stochastic = surrogate is not None and SURROGATES[surrogate][1]
    spikes = compare(
        build(sf, name, kwargs, surrogate, **extra),
        build(snntorch, name, kwargs, surrogate, **extra),
        x,
        init,
        params,
        stochastic,
    )
    assert 0 < spikes.abs().sum() < spikes.numel(), "the run must spike, but not always"


def per_neuron(*names: str) -> dict:
    return {n: torch.tensor(PER_NEURON[n]) for n in names}


# -- Synaptic ----------------------------------------------------------------------------

SYNAPTIC_CASES = {
    "subtract": {},
    "zero": {"reset_mechanism": "zero"},
    "none": {"reset_mechanism": "none"},
    "subtract-immediate": {"reset_delay": False},
    "zero-immediate": {"reset_mechanism": "zero", "reset_delay": False},
    "threshold-0.7": {"threshold": 0.7},
    "per-neuron": per_neuron("alpha", "beta", "threshold"),
    "surrogate-disabled": {"surrogate_disable": True},
    "inhibition": {"inhibition": True},
    "state-quant": {"state_quant": True, "threshold": 1.03},
}


@pytest.mark.filterwarnings("ignore:.*nhibition")
@pytest.mark.parametrize("case", SYNAPTIC_CASES)
def test_synaptic_options(case):
    check("Synaptic", SYNAPTIC_CASES[case])


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("shape", ["scalar", "per-neuron"])
def test_synaptic_learnable(reset, shape):
    options = {"learn_alpha": True, "learn_beta": True, "learn_threshold": True}
    if shape == "per-neuron":
        options.update(per_neuron("alpha", "beta", "threshold"))
    options["reset_mechanism"] = reset
    check("Synaptic", options, ("alpha", "beta", "threshold"))


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_synaptic_surrogates(surrogate):
    check(
        "Synaptic", {"learn_beta": True, "learn_threshold": True}, ("beta", "threshold"), surrogate
    )


# -- Alpha -------------------------------------------------------------------------------

ALPHA_CASES = {
    "zero": {},
    "subtract": {"reset_mechanism": "subtract"},
    "none": {"reset_mechanism": "none"},
    "threshold-0.5": {"threshold": 0.5},
    "per-neuron": {
        "alpha": torch.tensor(PER_NEURON["alpha"]),
        "beta": torch.tensor([0.8, 0.7, 0.6, 0.9, 0.5, 0.75]),
        "threshold": torch.tensor(PER_NEURON["threshold"]),
    },
    "surrogate-disabled": {"surrogate_disable": True},
    "inhibition": {"inhibition": True},
    "state-quant": {"state_quant": True, "threshold": 1.03},
}


@pytest.mark.filterwarnings("ignore:.*nhibition")
@pytest.mark.parametrize("case", ALPHA_CASES)
def test_alpha_options(case):
    check("Alpha", ALPHA_CASES[case])


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_alpha_learn_beta_threshold(reset):
    check(
        "Alpha",
        {"learn_beta": True, "learn_threshold": True, "reset_mechanism": reset},
        ("beta", "threshold"),
    )


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_alpha_surrogates(surrogate):
    check("Alpha", {"learn_beta": True, "learn_threshold": True}, ("beta", "threshold"), surrogate)


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
def test_alpha_learn_alpha_fixed(reset):
    """snnTorch 1.0.0 raises TypeError for ``learn_alpha=True``; ours trains alpha. Its
    gradient must equal snnTorch's when snnTorch's alpha buffer is made differentiable."""
    with pytest.raises(TypeError):
        snntorch.Alpha(alpha=0.9, beta=0.8, learn_alpha=True)
    kwargs = {"alpha": 0.9, "beta": 0.8, "reset_mechanism": reset}
    ours = sf.Alpha(**kwargs, learn_alpha=True, learn_beta=True)
    theirs = snntorch.Alpha(**kwargs, learn_beta=True)
    theirs.alpha = torch.tensor(0.9, requires_grad=True)
    x = draw_inputs(lambda **o: sf.Alpha(**kwargs, **o), "init_alpha", 0.4, 0.1, False)
    spikes = compare(ours, theirs, x, "init_alpha", ("alpha", "beta"))
    assert spikes.any()
    assert isinstance(ours.alpha, torch.nn.Parameter)


# -- Lapicque ----------------------------------------------------------------------------

LAPICQUE_CASES = {
    "R-C-subtract": {},
    "R-C-zero": {"reset_mechanism": "zero"},
    "R-C-none": {"reset_mechanism": "none"},
    "beta-only": {"R": False, "C": False, "time_step": 1, "beta": 0.9},
    "beta-only-zero": {"R": False, "C": False, "beta": 0.9, "reset_mechanism": "zero"},
    "beta-R": {"C": False, "beta": 0.9, "R": 2.0, "time_step": 1e-2},
    "beta-C": {"R": False, "beta": 0.9, "C": 2e-2, "time_step": 1e-2},
    "per-neuron-threshold": {"threshold": torch.tensor(PER_NEURON["threshold"])},
    "surrogate-disabled": {"surrogate_disable": True},
    "inhibition": {"inhibition": True},
    "state-quant": {"state_quant": True, "threshold": 1.03},
}


@pytest.mark.filterwarnings("ignore:.*nhibition")
@pytest.mark.parametrize("case", LAPICQUE_CASES)
def test_lapicque_options(case):
    options = LAPICQUE_CASES[case]
    if "beta" in options:
        check_beta(options)
    else:
        check("Lapicque", options)


def check_beta(options: dict, params: tuple[str, ...] = ()):
    """Beta-derived circuits integrate with gain ln(1/β)·R, so they need larger inputs."""
    init, base, _, _ = NEURONS["Lapicque"]
    saved = NEURONS["Lapicque"]
    NEURONS["Lapicque"] = (init, base, 1.5, 1.0)
    try:
        check("Lapicque", options, params)
    finally:
        NEURONS["Lapicque"] = saved


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_lapicque_surrogates(surrogate):
    check("Lapicque", {"learn_threshold": True}, ("threshold",), surrogate)


def test_lapicque_learn_beta_first_backward_and_fixed_second_backward():
    """With ``learn_beta`` the first backward equals snnTorch's; snnTorch then fails on a
    second one (its C was derived from beta once, at construction); ours keeps working."""
    options = {"R": False, "C": False, "beta": 0.9, "learn_beta": True, "learn_threshold": True}
    check_beta(options, ("beta", "threshold"))
    theirs = snntorch.Lapicque(beta=0.9, learn_beta=True)
    ours = sf.Lapicque(beta=0.9, learn_beta=True)
    x = torch.full((1, 2), 2.0)  # one step from rest, two neurons
    run(theirs, x, "init_lapicque")[1][0].sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        run(theirs, x, "init_lapicque")[1][0].sum().backward()
    for _ in range(2):
        run(ours, x, "init_lapicque")[1][0].sum().backward()
    # R = 1, C = 1/ln(1/β): U_1 = x·ln(1/β), so dU_1/dβ = −x/β = −2/0.9 per neuron;
    # 2 neurons and 2 accumulated backward passes: 4 · (−2/0.9) = −8.8889
    assert ours.beta.grad.item() == pytest.approx(-8 / 0.9, rel=1e-5)


def test_lapicque_per_neuron_beta_matches_snntorch_column_by_column():
    """snnTorch 1.0.0 cannot take per-neuron beta (bool of a tensor); ours can, and each
    column equals a scalar snnTorch neuron run on that column."""
    betas = [0.9, 0.8, 0.95]
    with pytest.raises(RuntimeError):
        snntorch.Lapicque(beta=torch.tensor(betas))
    x = torch.randn(T_STEPS, 2, 3, generator=torch.Generator().manual_seed(3)) + 1.0
    spk, (mem,) = run(sf.Lapicque(beta=torch.tensor(betas)), x, "init_lapicque")
    for i, b in enumerate(betas):
        spk_i, (mem_i,) = run(snntorch.Lapicque(beta=b), x[..., i], "init_lapicque")
        assert torch.equal(spk[..., i], spk_i)
        torch.testing.assert_close(mem[..., i], mem_i, atol=1e-6, rtol=1e-6)
    assert spk.any()


T_STEPS = 50
