"""snnTorch's helper methods on every neuron (issue 14, item 4) and ``LossFunctions``."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf

snntorch = pytest.importorskip("snntorch")
snntorch_loss = pytest.importorskip("snntorch.functional.loss")

NEURONS = [
    ("Leaky", {"beta": 0.9}),
    ("Leaky", {"beta": 0.9, "graded_spikes_factor": 2.5}),
    ("Synaptic", {"alpha": 0.8, "beta": 0.9}),
    ("Alpha", {"alpha": 0.9, "beta": 0.8}),
    ("Lapicque", {"beta": 0.9}),
    ("RLeaky", {"beta": 0.9, "all_to_all": False}),
]
OPTIONS = [
    {},
    {"threshold": 0.5},
    {"spike_grad_name": "fast_sigmoid"},
    {"surrogate_disable": True},
    {"state_quant": True},
]


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x * 4) / 4 - x).detach()


def _make(lib, name, kwargs, options):
    options = dict(options)
    if options.pop("spike_grad_name", None):
        options["spike_grad"] = lib.surrogate.fast_sigmoid(slope=10)
    if options.pop("state_quant", False):
        options["state_quant"] = _quantise
    return getattr(lib, name)(**kwargs, **options)


@pytest.mark.parametrize(("name", "kwargs"), NEURONS, ids=[f"{n}{k}" for n, k in NEURONS])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_fire_and_mem_reset_match_snntorch(name, kwargs, options):
    torch.manual_seed(1)
    mem = (torch.rand(4, 5) * 2).requires_grad_()
    ours, theirs = _make(sf, name, kwargs, options), _make(snntorch, name, kwargs, options)
    for method in ("fire", "mem_reset"):
        got, want = getattr(ours, method)(mem), getattr(theirs, method)(mem)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        if method == "fire" and not options.get("surrogate_disable"):
            (g_ours,) = torch.autograd.grad(got.sum(), mem)
            (g_theirs,) = torch.autograd.grad(want.sum(), mem)
            torch.testing.assert_close(g_ours, g_theirs, rtol=0, atol=1e-5)
    assert not ours.mem_reset(mem).requires_grad
    got = ours.fire_inhibition(4, mem)
    torch.testing.assert_close(got, theirs.fire_inhibition(4, mem), rtol=0, atol=1e-6)


def test_fire_by_hand():
    lif = sf.Leaky(beta=0.9, threshold=1.0, graded_spikes_factor=3.0)
    spk = lif.fire(torch.tensor([0.5, 1.0, 1.5]))
    assert spk.tolist() == [0.0, 0.0, 3.0]  # strictly above θ, times g


def test_fire_inhibition_keeps_one_winner_per_row():
    lif = sf.Leaky(beta=0.9)
    mem = torch.tensor([[1.5, 2.0, 0.1], [0.2, 0.3, 0.9]])
    # row 0: the largest (2.0) is above θ; row 1: the largest (0.9) is below θ, so none
    assert sf.Leaky(beta=0.9).fire_inhibition(2, mem).tolist() == [[0, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="batch_size=3"):
        lif.fire_inhibition(3, mem)
    with pytest.raises(ValueError, match=r"\[batch, features"):
        lif.fire_inhibition(1, torch.ones(3))


def test_reset_dict_is_snntorchs():
    assert sf.Leaky.reset_dict == snntorch.Leaky.reset_dict == sf.SpikingNeuron.reset_dict
    lif = sf.Leaky(beta=0.9, reset_mechanism="zero")
    assert sf.Leaky.reset_dict[lif.reset_mechanism] == int(lif.reset_mechanism_val)


def test_detach_cuts_the_graph_in_place():
    w = torch.ones(3, requires_grad=True)
    mem, syn = w * 2, w * 3
    sf.Synaptic.detach(mem, syn)
    assert not mem.requires_grad and not syn.requires_grad
    assert mem.tolist() == [2.0, 2.0, 2.0]


def test_zeros_zeroes_in_place_unlike_snntorchs_no_op():
    mem, syn = torch.ones(2), torch.full((3,), 4.0)
    sf.Leaky.zeros(mem, syn)
    assert mem.tolist() == [0.0, 0.0] and syn.tolist() == [0.0] * 3
    kept = torch.ones(2)
    snntorch.Leaky.zeros(kept)
    assert kept.tolist() == [1.0, 1.0]  # the documented difference


def test_init_is_a_no_op_and_touches_no_state():
    lif = sf.Leaky(beta=0.5)
    lif(torch.full((2,), 0.4))
    assert sf.Leaky.init() is None and sf.SpikingNeuron.init() is None
    _, mem = lif(torch.full((2,), 0.4))
    torch.testing.assert_close(mem, torch.full((2,), 0.6))  # state kept: 0.5·0.4 + 0.4


def test_loss_classes_derive_from_loss_functions():
    base = sf.functional.LossFunctions
    for name in ("ce_rate_loss", "ce_count_loss", "mse_count_loss", "mse_membrane_loss",
                 "ce_max_membrane_loss", "mse_rate_loss", "ce_temporal_loss",
                 "mse_temporal_loss"):  # fmt: skip
        assert isinstance(getattr(sf.functional, name)(), base), name
    assert sf.functional.loss.LossFunctions is base


@pytest.mark.parametrize("weight", [None, torch.tensor([1.0, 3.0])])
def test_a_subclass_written_for_snntorch_runs(weight):
    """A user loss built on snnTorch's base (``_compute_loss`` + its helpers)."""

    def make(base):
        class SpikeCountLoss(base):
            def __init__(self, reduction="mean", weight=None):
                super().__init__(reduction=reduction, weight=weight)

            def _compute_loss(self, spk_out, targets):
                _, num_steps, _ = self._prediction_check(spk_out)
                counts = spk_out.sum(0) / num_steps
                return torch.nn.functional.cross_entropy(
                    counts, targets, weight=self.weight, reduction=self._intermediate_reduction()
                )

        return SpikeCountLoss(weight=weight)

    torch.manual_seed(0)
    spk = (torch.rand(6, 4, 2) > 0.5).float()
    targets = torch.tensor([0, 1, 1, 0])
    got = make(sf.functional.LossFunctions)(spk, targets)
    want = make(snntorch_loss.LossFunctions)(spk, targets)
    torch.testing.assert_close(got, want)
    assert got.dim() == 0
