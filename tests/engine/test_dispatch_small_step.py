"""``auto`` runs one small CPU step on the reference; named backends are never swapped."""

import pytest
import torch

import spikeforge as snn
from spikeforge.neurons._base import SMALL_STEP_ELEMENTS

pytest.importorskip("numba")


def test_small_single_step_takes_the_reference_under_auto():
    lif = snn.Leaky(beta=0.9, learn_beta=True)  # a learnable β: no CPU fast step
    small = torch.rand(4, 8)
    assert lif.select_backend(small, lif.config(), single_step=True) == "reference"
    assert lif.select_backend(small, lif.config()) == "cpu"  # a sequence stays fused
    with torch.no_grad():  # no gradient wanted: the fast step runs it
        assert lif.select_backend(small, lif.config(), single_step=True) == "cpu"


def test_small_single_step_with_constant_parameters_stays_on_the_fast_step():
    lif = snn.Alpha(alpha=0.9, beta=0.8)  # no fast step: small steps take the reference
    assert lif.select_backend(torch.rand(4, 8), lif.config(), single_step=True) == "reference"
    syn = snn.Synaptic(alpha=0.8, beta=0.9)  # the family's fast step serves Synaptic too
    assert syn.select_backend(torch.rand(4, 8), syn.config(), single_step=True) == "cpu"
    lif = snn.Leaky(beta=0.9)  # shared constant β, θ, g: the CPU fast step beats torch ops
    assert lif.select_backend(torch.rand(4, 8), lif.config(), single_step=True) == "cpu"
    assert lif.select_backend(torch.rand(4, 8).double(), lif.config(), single_step=True) == "cpu"


def test_large_single_step_stays_fused():
    lif = snn.Leaky(beta=0.9)
    large = torch.rand(2, SMALL_STEP_ELEMENTS)
    assert lif.select_backend(large, lif.config(), single_step=True) == "cpu"


def test_named_backend_is_kept_for_small_steps():
    lif = snn.Leaky(beta=0.9, backend="cpu")
    assert lif.select_backend(torch.rand(4, 8), lif.config(), single_step=True) == "cpu"
