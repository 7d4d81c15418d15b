"""utils: reset/detach touch only the given network; data_subset and valid_split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

import spikeforge as snn
from spikeforge import utils
from spikeforge.nir.modules import Integrator, LeakyIntegrator, SynapticIntegrator


def two_layer() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=0.9, init_hidden=True))


def test_utils_reset_touches_only_the_given_network():
    net_a, net_b = two_layer(), two_layer()
    x = torch.rand(4, 3)
    net_a(x)
    net_b(x)
    kept = net_b[1].mem.clone()
    assert kept.abs().sum() > 0
    assert utils.reset(net_a) == 1
    assert torch.equal(net_a[1].mem, torch.zeros(4, 2))
    assert torch.equal(net_b[1].mem, kept)  # snnTorch (issue #438) would zero this too


class Wrapper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Sequential(nn.Linear(3, 3), snn.Leaky(beta=0.5)))
        self.head = nn.ModuleDict({"lif": snn.Leaky(beta=0.5, init_hidden=True)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spk, _ = self.body(x)
        return self.head["lif"](spk + x)


def test_utils_reset_recurses_into_nested_containers():
    net = Wrapper()
    x = torch.rand(2, 3, requires_grad=True)
    net(x)
    deep, head = net.body[0][1], net.head["lif"]
    assert deep.mem.grad_fn is not None and head.mem.abs().sum() > 0
    assert utils.reset(net) == 2
    for lif in (deep, head):
        assert torch.equal(lif.mem, torch.zeros(2, 3))
        assert lif.mem.grad_fn is None


def test_utils_detach_keeps_values_and_cuts_graph():
    net = Wrapper()
    net(torch.rand(2, 3, requires_grad=True))
    before = net.head["lif"].mem.clone()
    assert net.head["lif"].mem.grad_fn is not None
    assert utils.detach(net) == 2
    assert net.head["lif"].mem.grad_fn is None
    assert torch.equal(net.head["lif"].mem, before)


def test_utils_reset_rejects_non_modules():
    with pytest.raises(TypeError, match="net must be a torch"):
        utils.reset([snn.Leaky(beta=0.5)])
    with pytest.raises(TypeError, match="net must be a torch"):
        utils.detach(None)


# -- reset(net) reaches every stateful module (the reset_state() protocol) -----------------------


def _steps(module: nn.Module, values) -> list[list[float]]:
    return [module(torch.tensor([[v, v]])).tolist() for v in values]


@pytest.mark.parametrize(
    ("make", "states", "history", "after_reset"),
    [
        # v_t = 0.5 v_{t−1} + 2 x_t: inputs 1, 1 give v = 2, 3; from rest, 1 gives 2
        (lambda: LeakyIntegrator(beta=0.5, gain=2.0), ("mem",), [2.0, 3.0], 2.0),
        # v_t = v_{t−1} + 3 x_t: 3, 6; from rest 3
        (lambda: Integrator(r=3.0), ("mem",), [3.0, 6.0], 3.0),
        # I = 1, 1.5 and v = 1, 0.5 + 1.5 = 2; from rest I = v = 1
        (lambda: SynapticIntegrator(alpha=0.5, beta=0.5), ("syn", "mem"), [1.0, 2.0], 1.0),
    ],
)
def test_utils_reset_zeroes_the_nir_readouts(make, states, history, after_reset):
    net = nn.Sequential(nn.Identity(), make())
    readout = net[1]
    assert [row[0][0] for row in _steps(net, [1.0, 1.0])] == history
    assert utils.reset(net) == 1
    for name in states:
        assert torch.equal(getattr(readout, name), torch.zeros(1, 2))
    fresh = make()
    assert _steps(net, [1.0]) == _steps(fresh, [1.0]) == [[[after_reset, after_reset]]]


def test_utils_reset_cuts_the_readout_state_from_the_graph():
    readout = LeakyIntegrator(beta=0.5)
    readout(torch.ones(1, 2, requires_grad=True))
    assert readout.mem.grad_fn is not None
    utils.reset(readout)
    assert readout.mem.grad_fn is None and torch.equal(readout.mem, torch.zeros(1, 2))


def test_utils_reset_empties_the_synaptic_delay_ring():
    # delay 1: y_t = x_{t−1}; after 5, 6 the ring holds 6, so without a reset 7 gives 6
    lag = snn.SynapticDelay(max_delay=2, delay=1.0)
    net = nn.Sequential(nn.Linear(2, 2), lag)
    nn.init.eye_(net[0].weight)
    nn.init.zeros_(net[0].bias)
    with torch.no_grad():
        assert _steps(net, [5.0, 6.0]) == [[[0.0, 0.0]], [[5.0, 5.0]]]
        assert utils.reset(net) == 1
        assert lag._ring == []  # empty: the steps before count as zero
        fresh = snn.SynapticDelay(max_delay=2, delay=1.0)
        assert _steps(net, [7.0, 8.0]) == _steps(fresh, [7.0, 8.0]) == [[[0.0, 0.0]], [[7.0, 7.0]]]


def test_utils_reset_counts_neurons_readouts_and_delays_together():
    net = nn.Sequential(
        nn.Linear(2, 2), snn.Leaky(beta=0.5, init_hidden=True), snn.SynapticDelay(1, 1.0),
        Integrator(), LeakyIntegrator(beta=0.9),
    )  # fmt: skip
    net(torch.ones(1, 2))
    assert utils.reset(net) == 4


def test_utils_reset_resets_delta_leaky_state():
    delta_leaky = getattr(snn, "DeltaLeaky", None)
    if delta_leaky is None:
        pytest.skip("DeltaLeaky is not on this branch")
    # β = 0.5, δ = 0.6, input 1, 1: U = 1, 1.5 (spikes 1, 0). From rest, 1 gives U = 1, a spike;
    # without the reset it would give U = 1.75, |ΔU| = 0.25, no spike.
    lif = delta_leaky(0.6, 0.5, init_hidden=True)
    for _ in range(2):
        lif(torch.ones(1, 2))
    assert lif.mem.tolist() == [[1.5, 1.5]]
    assert utils.reset(nn.Sequential(lif)) == 1
    assert torch.equal(lif.mem, torch.zeros(1, 2)) and torch.equal(lif.mem_prev, torch.zeros(1, 2))
    spk, (mem, prev) = lif(torch.ones(1, 2))
    fresh_spk, (fresh_mem, _) = delta_leaky(0.6, 0.5, init_hidden=True)(torch.ones(1, 2))
    assert spk.tolist() == fresh_spk.tolist() == [[1.0, 1.0]]
    assert mem.tolist() == fresh_mem.tolist() == [[1.0, 1.0]] and prev.tolist() == [[0.0, 0.0]]


class Counter(nn.Module):
    """A user's stateful module: it joins utils.reset by defining reset_state()."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.count += 1
        return x * self.count

    def reset_state(self) -> None:
        self.count = 0


def test_any_module_with_reset_state_joins_utils_reset():
    net = nn.Sequential(nn.Identity(), Counter())
    assert [net(torch.ones(1)).item() for _ in range(3)] == [1.0, 2.0, 3.0]
    assert utils.reset(net) == 1
    assert net(torch.ones(1)).item() == 1.0


class FakeVision:
    """torchvision-style dataset: ``.data`` array/tensor and ``.targets`` (list, as CIFAR)."""

    def __init__(self, n: int, targets_as_list: bool = False) -> None:
        self.data = torch.arange(n * 2).reshape(n, 2)
        self.targets = list(range(100, 100 + n)) if targets_as_list else torch.arange(n)

    def __len__(self) -> int:
        return len(self.data)


def test_utils_data_subset_in_place_slices():
    ds = FakeVision(10, targets_as_list=True)
    out = utils.data_subset(ds, 3, idx=1)  # step = 10 // 3 = 3 -> rows 3, 4, 5
    assert out is ds
    assert torch.equal(ds.data, torch.tensor([[6, 7], [8, 9], [10, 11]]))
    assert ds.targets == [103, 104, 105]
    same = FakeVision(5)
    assert utils.data_subset(same, 1) is same and len(same.data) == 5


def test_utils_data_subset_generic_dataset_gives_subset():
    ds = TensorDataset(torch.arange(10.0))
    out = utils.data_subset(ds, 4, idx=3)  # step = 2 -> rows 6, 7
    assert isinstance(out, Subset) and out.indices == [6, 7]
    assert [out[i][0].item() for i in range(2)] == [6.0, 7.0]


@pytest.mark.parametrize(
    ("subset", "idx", "match"),
    [
        pytest.param(0, 0, "subset", id="zero-subset"),
        pytest.param(2.0, 0, "subset", id="float-subset"),
        pytest.param(3, 3, "idx", id="idx-too-large"),
        pytest.param(3, -1, "idx", id="negative-idx"),
    ],
)
def test_utils_data_subset_bad_arguments(subset, idx, match):
    with pytest.raises(ValueError, match=match):
        utils.data_subset(FakeVision(6), subset, idx)


def test_utils_valid_split_in_place_partition():
    train, val = FakeVision(10), FakeVision(10)
    out_train, out_val = utils.valid_split(train, val, 0.3, seed=5)
    assert out_train is train and out_val is val
    assert len(train.targets) == 7 and len(val.targets) == 3
    assert sorted(train.targets.tolist() + val.targets.tolist()) == list(range(10))
    assert val.targets.tolist() == sorted(val.targets.tolist())
    assert torch.equal(train.data[:, 0], 2 * train.targets)  # rows stay paired
    assert torch.equal(val.data[:, 0], 2 * val.targets)
    expected_train = np.random.default_rng(5).choice(10, size=7, replace=False)
    assert train.targets.tolist() == expected_train.tolist()


def test_utils_valid_split_generic_datasets_give_subsets():
    base = TensorDataset(torch.arange(10.0))
    train, val = utils.valid_split(base, base, 0.3, seed=5)
    ref_train, ref_val = utils.valid_split(FakeVision(10), FakeVision(10), 0.3, seed=5)
    assert train.indices == ref_train.targets.tolist()
    assert val.indices == ref_val.targets.tolist()
    with pytest.raises(ValueError, match="same length"):
        utils.valid_split(base, TensorDataset(torch.arange(4.0)), 0.3)
    with pytest.raises(ValueError, match="split"):
        utils.valid_split(base, base, 1.5)


@pytest.mark.parity
def test_utils_valid_split_and_data_subset_match_snntorch():
    sutils = pytest.importorskip("snntorch.utils")
    ours = utils.valid_split(FakeVision(20), FakeVision(20), 0.25, seed=3)
    theirs = sutils.valid_split(FakeVision(20), FakeVision(20), 0.25, seed=3)
    for a, b in zip(ours, theirs):
        assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)
    a = utils.data_subset(FakeVision(23), 4, idx=2)
    b = sutils.data_subset(FakeVision(23), 4, idx=2)
    assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)
