"""Parity of Leaky with snnTorch 1.0.0 over 50 random steps, every option.

Spikes must be equal, membranes within 1e-6, and the gradients of random cotangents with
respect to the input and every learnable parameter within 1e-5 (relative to their size).
"""

from __future__ import annotations

import pytest
import torch
from _snntorch_parity import SURROGATES, compare, draw_inputs, quantiser

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")
pytestmark = pytest.mark.parity

BETA = [0.9, 0.8, 0.7, 0.95, 0.6, 0.85]
THRESHOLD = [1.0, 0.8, 1.2, 0.9, 1.1, 1.05]
LEARN_ALL = {"learn_beta": True, "learn_threshold": True, "learn_graded_spikes_factor": True}
ALL_PARAMS = ("beta", "threshold", "graded_spikes_factor")

CASES = {
    "subtract": ({}, ()),
    "zero": ({"reset_mechanism": "zero"}, ()),
    "none": ({"reset_mechanism": "none"}, ()),
    "subtract-immediate": ({"reset_delay": False}, ()),
    "zero-immediate": ({"reset_mechanism": "zero", "reset_delay": False}, ()),
    "graded": ({"graded_spikes_factor": 2.5}, ()),
    "graded-immediate": ({"graded_spikes_factor": 2.5, "reset_delay": False}, ()),
    "learnable": (LEARN_ALL, ALL_PARAMS),
    "learnable-zero-immediate": (
        {**LEARN_ALL, "reset_mechanism": "zero", "reset_delay": False},
        ALL_PARAMS,
    ),
    "learnable-per-neuron": (
        {**LEARN_ALL, "beta": torch.tensor(BETA), "threshold": torch.tensor(THRESHOLD)},
        ALL_PARAMS,
    ),
    "per-neuron": ({"beta": torch.tensor(BETA), "threshold": torch.tensor(THRESHOLD)}, ()),
    "surrogate-disabled": ({"surrogate_disable": True}, ()),
    "state-quant": ({"state_quant": True, "threshold": 1.03}, ()),
    "state-quant-learnable": (
        {"state_quant": True, "threshold": 1.03, "learn_beta": True, "learn_threshold": True},
        ("beta", "threshold"),
    ),
    # snnTorch's fire_inhibition ignores graded_spikes_factor, so inhibition uses g = 1
    "inhibition": ({"inhibition": True, "learn_threshold": True}, ("threshold",)),
    "inhibition-immediate": ({"inhibition": True, "reset_delay": False}, ()),
}


def build(lib, kwargs: dict, surrogate: str | None = None, **extra):
    args = {"beta": 0.9}
    args.update({k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()})
    if surrogate is not None:
        args["spike_grad"] = SURROGATES[surrogate][0](lib.surrogate)
    args.update(extra)
    return lib.Leaky(**args)


def check(options: dict, params: tuple[str, ...], surrogate: str | None = None) -> None:
    kwargs = dict(options)
    quantised = kwargs.pop("state_quant", False)
    extra = {"state_quant": quantiser} if quantised else {}
    x = draw_inputs(
        lambda **o: build(sf, kwargs, **{**extra, **o}), "init_leaky", 0.3, 0.08, quantised
    )
    stochastic = surrogate is not None and SURROGATES[surrogate][1]
    spikes = compare(
        build(sf, kwargs, surrogate, **extra),
        build(snntorch, kwargs, surrogate, **extra),
        x,
        "init_leaky",
        params,
        stochastic,
    )
    assert 0 < (spikes != 0).sum() < spikes.numel(), "the run must spike, but not always"


@pytest.mark.filterwarnings("ignore:.*nhibition")
@pytest.mark.parametrize("case", CASES)
def test_leaky_options(case):
    check(*CASES[case])


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_leaky_surrogates(surrogate):
    check({"learn_beta": True, "learn_threshold": True}, ("beta", "threshold"), surrogate)
