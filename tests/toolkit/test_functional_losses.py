"""functional (SF): losses, accuracy, regularisers, quantisation against hand-worked numbers,
the first seed's calls, argument checks, pickling, and snnTorch parity."""

import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikeforge as snn
from spikeforge import functional as SF
from spikeforge.functional.quant import state_quant


def log1p_exp(x):
    return math.log(1 + math.exp(x))


def record(*steps):
    """Build a [T, B=1, C] recording from per-step rows."""
    return torch.tensor(steps, dtype=torch.float).unsqueeze(1)


# ---------------------------------------------------------------------------- the first seed
SEED_LOSSES = [
    "ce_rate_loss",
    "mse_rate_loss",
    "ce_max_membrane_loss",
    "mse_membrane_loss",
    "ce_temporal_loss",
    "mse_temporal_loss",
]


@pytest.mark.parametrize("name", SEED_LOSSES)
def test_seed_losses_construct_and_compute(name):
    spk = (torch.rand(6, 3, 4) > 0.5).float().requires_grad_()
    loss_fn = getattr(SF, name)()
    loss = loss_fn(spk, torch.tensor([0, 3, 1]))
    assert loss.shape == ()
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(spk.grad).all()
    assert loss_fn.__name__ == name
    assert snn.functional is SF


# ---------------------------------------------------------------------------- hand-worked numbers
def test_ce_count_and_rate_loss_by_hand():
    spk = record([1, 0], [1, 0])  # counts [2, 0], label 0
    y = torch.tensor([0])
    # CE([2, 0], 0) = -log(e^2 / (e^2 + 1)) = log(1 + e^-2)
    assert SF.ce_count_loss()(spk, y).item() == pytest.approx(log1p_exp(-2), rel=1e-6)
    # each step: CE([1, 0], 0) = log(1 + e^-1); mean over 2 steps is the same
    assert SF.ce_rate_loss()(spk, y).item() == pytest.approx(log1p_exp(-1), rel=1e-6)


def test_ce_max_membrane_loss_by_hand():
    mem = record([0.5, 1.0], [2.0, -1.0])  # max over time [2, 1], label 1
    # -log(e^1 / (e^2 + e^1)) = log(1 + e)
    loss = SF.ce_max_membrane_loss()(mem, torch.tensor([1]))
    assert loss.item() == pytest.approx(log1p_exp(1), rel=1e-6)


def test_mse_count_and_rate_loss_by_hand():
    spk = record([1, 0], [1, 1], [1, 0], [0, 0])  # T = 4, counts [3, 1], label 0
    y = torch.tensor([0])
    # count targets [4, 0]: ((3-4)^2 + (1-0)^2) / 2 = 1, divided by T = 0.25
    assert SF.mse_count_loss()(spk, y).item() == pytest.approx(0.25)
    # rates [0.75, 0.25] against [1, 0]: (0.0625 + 0.0625) / 2 = 0.0625 (= count loss / T)
    assert SF.mse_rate_loss()(spk, y).item() == pytest.approx(0.0625)
    # rate targets 0.8 / 0.2: (0.05^2 + 0.05^2) / 2 = 0.0025
    assert SF.mse_rate_loss(0.8, 0.2)(spk, y).item() == pytest.approx(0.0025)


def test_mse_membrane_loss_by_hand():
    mem = record([0.5, 0.2], [1.5, -0.2])  # goal [1, 0] for label 0
    # step 0: (0.25 + 0.04)/2 = 0.145; step 1: (0.25 + 0.04)/2 = 0.145; mean 0.145
    assert SF.mse_membrane_loss()(mem, torch.tensor([0])).item() == pytest.approx(0.145)
    goal = torch.zeros(2, 1, 2)  # time-varying goal 0: mean of all squares = 2.58 / 4
    loss = SF.mse_membrane_loss(time_var_targets=True)(mem, goal)
    assert loss.item() == pytest.approx((0.25 + 0.04 + 2.25 + 0.04) / 4)


def test_temporal_losses_by_hand():
    spk = record([0, 0], [1, 0], [0, 0], [1, 0])  # neuron 0 first fires at 1, neuron 1 never (-> 3)
    y = torch.tensor([0])
    # targets: label at 0, others at -1 -> T - 1 = 3: ((1/4 - 0)^2 + (3/4 - 3/4)^2) / 2
    assert SF.mse_temporal_loss()(spk, y).item() == pytest.approx(0.03125)
    # logits -t = [-1, -3]: CE = log(1 + e^-2)
    assert SF.ce_temporal_loss()(spk, y).item() == pytest.approx(log1p_exp(-2), rel=1e-6)
    # reciprocal: logits [1/2, 1/4]: CE = log(1 + e^(1/4 - 1/2))
    loss = SF.ce_temporal_loss(inverse="reciprocal")(spk, y)
    assert loss.item() == pytest.approx(log1p_exp(-0.25), rel=1e-6)


def test_first_spike_gradient_is_minus_one_at_first_spike():
    spk = record([0, 0], [1, 0], [1, 0]).requires_grad_()
    times, _ = SF.SpikeTime()(spk, torch.tensor([0]))
    assert times.tolist() == [[1.0, 2.0]]
    times.sum().backward()
    # neuron 0: -1 at its first spike (step 1); silent neuron 1: -1 at T - 1 = 2
    assert spk.grad[:, 0].tolist() == [[0, 0], [-1, 0], [0, -1]]


def test_multi_spike_finds_each_neurons_own_spikes():
    # neuron 0 fires at 1 and 3; neuron 1 only at 3 (snnTorch zeroes whole time slices and
    # would report [1, 4] for neuron 0)
    spk = record([0, 0], [1, 0], [0, 0], [1, 1], [0, 0])
    loss_fn = SF.SpikeTime(target_is_time=True, multi_spike=True)
    times, _ = loss_fn(spk, torch.zeros(2, 1, 2))
    assert times[:, 0].tolist() == [[1.0, 3.0], [3.0, 4.0]]


def test_tolerance_snaps_to_target():
    spk = record([0], [0], [1], [0])  # first spike at 2
    loss = SF.mse_temporal_loss(target_is_time=True, tolerance=2)
    assert loss(spk, torch.tensor([[1.0]])).item() == 0.0  # |2 - 1| < 2
    loss = SF.mse_temporal_loss(target_is_time=True, tolerance=1)
    assert loss(spk, torch.tensor([[1.0]])).item() == pytest.approx((1 / 4) ** 2)


def test_weights_scale_each_sample_by_its_class():
    spk = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # T=1, B=2
    y = torch.tensor([0, 1])
    w = torch.tensor([1.0, 3.0])
    # per-element squared errors (counts vs one-hot targets of T=1):
    # sample 0: counts [1, 0] vs [1, 0] -> [0, 0]; sample 1: [0, 0] vs [0, 1] -> [0, 1] x w[1] = 3
    assert SF.mse_count_loss(weight=w)(spk, y).item() == pytest.approx(3 / 4)
    assert SF.mse_count_loss(weight=w, reduction="sum")(spk, y).item() == pytest.approx(3.0)
    # CE: sample 0 log(1 + e^-1) x 1, sample 1 log(2) x 3, plain mean over the batch
    expected = (log1p_exp(-1) + 3 * math.log(2)) / 2
    assert SF.ce_count_loss(weight=w)(spk, y).item() == pytest.approx(expected, rel=1e-6)


def test_population_code_sums_groups():
    # 4 outputs, 2 classes: groups {0,1} and {2,3}; counts [1+1, 0+1] = [2, 1]
    spk = record([1, 0, 0, 1], [0, 1, 0, 0])
    y = torch.tensor([0])
    loss = SF.ce_count_loss(population_code=True, num_classes=2)(spk, y)
    assert loss.item() == pytest.approx(log1p_exp(-1), rel=1e-6)
    # mean group rates: [2 / (T=2 * 2), 1 / 4] = [0.5, 0.25] vs [1, 0]: (0.25 + 0.0625) / 2
    rate_loss = SF.mse_rate_loss(population_code=True, num_classes=2)(spk, y)
    assert rate_loss.item() == pytest.approx(0.15625)
    # per step: step 0 groups [1, 1] -> log 2; step 1 groups [1, 0] -> log(1 + e^-1)
    ce_rate = SF.ce_rate_loss(population_code=True, num_classes=2)(spk, y)
    assert ce_rate.item() == pytest.approx((math.log(2) + log1p_exp(-1)) / 2, rel=1e-6)
    assert SF.accuracy_rate(spk, y, population_code=True, num_classes=2) == 1.0


def test_accuracy_rate_and_temporal():
    spk = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])  # [T=2, B=2, C=2]
    # counts: sample 0 [0, 2] -> 1; sample 1 [1, 1] -> tie -> 0; first spikes: [1, 0] and [0, 1]
    assert SF.accuracy_rate(spk, torch.tensor([1, 0])) == 1.0
    assert SF.accuracy_temporal(spk, torch.tensor([1, 0])) == 1.0
    assert SF.accuracy_temporal(spk, torch.tensor([0, 0])) == 0.5


# ---------------------------------------------------------------------------- regularisers
def test_regularisers_by_hand():
    spk = torch.tensor(
        [[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]]
    )  # [T=2, B=2, N=3]; totals per sample 5 and 2; per-neuron counts [2,2,1] and [0,1,1]
    assert SF.l1_rate_sparsity(Lambda=0.1)(spk).item() == pytest.approx(0.7)
    # budget 3: excess [2, 0], mean 1, times 0.5
    assert SF.population_spike_budget(max_spikes=3, Lambda=0.5)(spk).item() == pytest.approx(0.5)
    budget_sum = SF.population_spike_budget(3, Lambda=0.5, reduction="sum")
    assert budget_sum(spk).item() == pytest.approx(1.0)
    # minimum 2 spikes: shortfalls [0,0,1] -> 1 and [2,1,1] -> 4; mean 2.5, times 0.1
    assert SF.min_firing_penalty(min_spikes=2, Lambda=0.1)(spk).item() == pytest.approx(0.25)


def test_min_firing_penalty_pushes_silent_neurons_up():
    spk = torch.zeros(3, 1, 2, requires_grad=True)
    SF.min_firing_penalty(min_spikes=1, Lambda=1.0)(spk).backward()
    assert (spk.grad == -1).all()  # every spike would lower the penalty


# ---------------------------------------------------------------------------- quantisation
def test_state_quant_uniform_levels_and_ste():
    q = state_quant(num_bits=2, threshold=1, lower_limit=0, upper_limit=0.5)
    # linspace(-1, 1.5, 4) = [-1, -1/6, 2/3, 1.5]
    assert q.levels.tolist() == pytest.approx([-1, -1 / 6, 2 / 3, 1.5])
    x = torch.tensor([0.2, 0.3, 2.0, -3.0], requires_grad=True)
    out = q(x)
    assert out.tolist() == pytest.approx([-1 / 6, 2 / 3, 1.5, -1])
    out.sum().backward()
    assert x.grad.tolist() == [1, 1, 1, 1]  # straight-through


def test_state_quant_non_uniform_levels_by_hand():
    # 2 levels split at threshold 1 in [-1, 1.2]: floor(2 * 2/2.2) = 1 below -> [-1, 1.2]
    assert state_quant(num_bits=1, uniform=False).levels.tolist() == pytest.approx([-1, 1.2])
    # 4 levels split at 0 (not thr_centered): floor(4 * 1/2.2) = 1 below -> [-1];
    # 3 above with gaps 0.25 : 0.5 : 1 of 1.2 -> 0.1714, 0.5143, 1.2
    q = state_quant(num_bits=2, uniform=False, thr_centered=False, multiplier=0.5)
    assert q.levels.tolist() == pytest.approx([-1, 0.3 / 1.75, 0.9 / 1.75, 1.2])


# ---------------------------------------------------------------------------- errors and pickling
@pytest.mark.parametrize(
    ("targets", "match"),
    [
        (torch.tensor([0, 1]), "batch size"),
        (torch.tensor([0, 1, 4]), r"\[0, 3\]"),
        (torch.tensor([0, -1, 1]), r"\[0, 3\]"),
        (torch.tensor([0.0, 1.0, 1.0]), "integer"),
    ],
)
def test_bad_targets(targets, match):
    spk = torch.zeros(3, 3, 4)
    with pytest.raises((ValueError, TypeError), match=match):
        SF.ce_rate_loss()(spk, targets)


def test_bad_arguments():
    with pytest.raises(ValueError, match="correct_rate"):
        SF.mse_count_loss(correct_rate=1.5)
    with pytest.raises(ValueError, match="incorrect_rate"):
        SF.mse_rate_loss(incorrect_rate=-0.1)
    with pytest.raises(ValueError, match="reduction"):
        SF.ce_count_loss(reduction="avg")
    with pytest.raises(ValueError, match="num_classes"):
        SF.ce_count_loss(population_code=True)
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        SF.ce_count_loss()(torch.zeros(3, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="torch"):
        SF.ce_count_loss()([[0.0]], torch.tensor([0]))
    with pytest.raises(ValueError, match="weight"):
        SF.ce_count_loss(weight=torch.ones(3))(torch.zeros(2, 1, 4), torch.tensor([0]))
    with pytest.raises(ValueError, match="inverse"):
        SF.ce_temporal_loss(inverse="log")
    with pytest.raises(ValueError, match="Lambda"):
        SF.l1_rate_sparsity(Lambda=-1)
    with pytest.raises(ValueError, match="num_bits"):
        state_quant(num_bits=0)


def test_losses_regularisers_and_quantiser_pickle():
    objects = [getattr(SF, name)() for name in SEED_LOSSES] + [
        SF.ce_count_loss(weight=torch.tensor([1.0, 2.0])),
        SF.mse_count_loss(0.8, 0.2),
        SF.population_spike_budget(10),
        SF.min_firing_penalty(1),
        SF.l1_rate_sparsity(),
        SF.SpikeTime(),
        state_quant(num_bits=4, uniform=False),
    ]
    spk = (torch.rand(5, 2, 2) > 0.5).float()
    y = torch.tensor([1, 0])
    for obj in objects:
        clone = pickle.loads(pickle.dumps(obj))
        assert type(clone) is type(obj)
        if isinstance(obj, state_quant) or hasattr(obj, "Lambda"):
            assert torch.equal(clone(spk), obj(spk))
        elif not isinstance(obj, SF.SpikeTime):
            assert torch.equal(clone(spk, y), obj(spk, y))


def test_spike_time_does_not_modify_target_times():
    times = torch.tensor([[-1.0, 2.0]])
    SF.mse_temporal_loss(target_is_time=True)(torch.zeros(4, 1, 2), times)
    assert times.tolist() == [[-1.0, 2.0]]


# ---------------------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(2, 5)),
    name=st.sampled_from([*SEED_LOSSES, "ce_count_loss", "mse_count_loss"]),
)
def test_losses_finite_for_finite_inputs(data, shape, name):
    steps, batch, classes = shape
    values = data.draw(st.lists(st.floats(-50, 50), min_size=steps * batch * classes,
                                max_size=steps * batch * classes))  # fmt: skip
    rec = torch.tensor(values).reshape(shape)
    labels = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch,
                                             max_size=batch)))  # fmt: skip
    loss = getattr(SF, name)()(rec, labels)
    assert torch.isfinite(loss).all()


# ---------------------------------------------------------------------------- snnTorch parity
PARITY_CASES = [
    ("ce_rate_loss", "spk", {}),
    ("ce_count_loss", "spk", {}),
    ("ce_max_membrane_loss", "mem", {}),
    ("mse_count_loss", "spk", {"correct_rate": 0.8, "incorrect_rate": 0.2}),
    ("mse_membrane_loss", "mem", {}),
    ("ce_temporal_loss", "spk", {}),
    ("ce_temporal_loss", "spk", {"inverse": "reciprocal"}),
    ("mse_temporal_loss", "spk", {"on_target": 2, "off_target": 5, "tolerance": 2}),
]


@pytest.mark.parity
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("name", "kind", "kwargs"), PARITY_CASES)
def test_loss_parity(name, kind, kwargs, reduction):
    ref = pytest.importorskip("snntorch.functional")
    spk = (torch.rand(7, 5, 4) > 0.6).float()
    rec = spk if kind == "spk" else torch.randn(7, 5, 4)
    y = torch.randint(0, 4, (5,))
    ours = getattr(SF, name)(reduction=reduction, **kwargs)(rec, y)
    theirs = getattr(ref, name)(reduction=reduction, **kwargs)(rec, y)
    torch.testing.assert_close(ours, theirs.reshape(ours.shape))  # snnTorch sometimes gives [1]


@pytest.mark.parity
def test_weighted_population_accuracy_and_gradient_parity():
    ref = pytest.importorskip("snntorch.functional")
    spk = (torch.rand(7, 5, 8) > 0.5).float()
    y = torch.randint(0, 4, (5,))
    w = torch.rand(8)
    for name in ("ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "ce_temporal_loss"):
        torch.testing.assert_close(
            getattr(SF, name)(weight=w)(spk, y), getattr(ref, name)(weight=w)(spk, y).reshape(())
        )
    for name, kwargs in (("ce_count_loss", {}), ("mse_count_loss", {"correct_rate": 0.75})):
        ours = getattr(SF, name)(population_code=True, num_classes=4, **kwargs)(spk, y)
        theirs = getattr(ref, name)(population_code=True, num_classes=4, **kwargs)(spk, y)
        torch.testing.assert_close(ours, theirs)
    assert SF.accuracy_rate(spk, y) == ref.accuracy_rate(spk, y)
    assert SF.accuracy_rate(spk, y, True, 4) == ref.accuracy_rate(spk, y, True, 4)
    assert SF.accuracy_temporal(spk, y) == ref.accuracy_temporal(spk, y)
    for name in ("ce_temporal_loss", "ce_rate_loss"):
        a, b = spk.clone().requires_grad_(), spk.clone().requires_grad_()
        getattr(SF, name)()(a, y).backward()
        getattr(ref, name)()(b, y).backward()
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parity
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_bits": 3},
        {"num_bits": 4, "uniform": False},
        {"num_bits": 2, "uniform": False, "thr_centered": False},
        {"num_bits": 5, "uniform": False, "lower_limit": 0.3, "upper_limit": 0.5, "threshold": 0.7},
        {"num_bits": 8, "uniform": False, "thr_centered": False, "multiplier": 0.8},
    ],
)
def test_state_quant_parity(kwargs):
    ref = pytest.importorskip("snntorch.functional.quant")
    x = torch.randn(1000) * 1.5
    assert torch.equal(state_quant(**kwargs)(x), ref.state_quant(**kwargs)(x))
