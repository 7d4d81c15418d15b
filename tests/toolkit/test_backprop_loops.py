"""BPTT / TBPTT / RTRL: average loss, learning, truncation, criterion input rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import spikeforge as snn
from spikeforge import backprop

T, B, N_IN = 10, 8, 4


def make_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(N_IN, 8),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Linear(8, 2),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )


def make_batches(n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Class c raises the firing probability of inputs c and c+2 from 0.1 to 0.7."""
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(n):
        y = torch.randint(0, 2, (B,), generator=g)
        prob = 0.1 + 0.6 * F.one_hot(y, 2).float().repeat(1, 2)
        batches.append(((torch.rand(T, B, N_IN, generator=g) < prob).float(), y))
    return batches


def count_mse(spk_rec: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Spike count of the right neuron towards 0.8·steps, the other towards 0."""
    target = F.one_hot(targets, 2).float() * 0.8 * spk_rec.size(0)
    return ((spk_rec.sum(0) - target) ** 2).mean() / spk_rec.size(0)


@pytest.mark.parametrize(
    ("loop", "kwargs"),
    [
        pytest.param(backprop.BPTT, {}, id="BPTT"),
        pytest.param(backprop.TBPTT, {"K": 3}, id="TBPTT-K3"),
        pytest.param(backprop.RTRL, {}, id="RTRL"),
    ],
)
def test_backprop_loops_reduce_the_loss(loop, kwargs):
    # measured (seed 0/1, Adam 2e-2, 5 epochs): BPTT 3.15 -> 1.06, TBPTT 0.63 -> 0.07,
    # RTRL 0.27 -> 0.10; require at least a halving.
    net = make_net()
    batches = make_batches()
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    losses = [loop(net, batches, opt, count_mse, **kwargs) for _ in range(5)]
    assert all(loss.dim() == 0 and loss.grad_fn is None for loss in losses)
    assert losses[-1] < 0.5 * losses[0]


def test_backprop_average_is_mean_over_batches_of_window_means():
    net = make_net()
    batches = make_batches(2)
    seen: list[float] = []

    def recording(spk_rec, targets):
        loss = count_mse(spk_rec, targets)
        seen.append((spk_rec.size(0), loss.item()))
        return loss

    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    avg = backprop.TBPTT(net, batches, frozen, recording, K=4)
    assert [size for size, _ in seen] == [4, 4, 2, 4, 4, 2]  # T=10 in windows of 4
    per_batch = [sum(v for _, v in seen[i : i + 3]) / 3 for i in (0, 3)]
    assert avg.item() == pytest.approx(sum(per_batch) / 2, rel=1e-6)


def test_backprop_bptt_loss_equals_a_direct_forward_pass():
    batches = make_batches(2)
    net = make_net()
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    avg = backprop.BPTT(net, batches, frozen, count_mse)
    direct = []
    with torch.no_grad():
        for data, targets in batches:
            snn.utils.reset(net)
            spk_rec = torch.stack([net(x)[0] for x in data])
            direct.append(count_mse(spk_rec, targets).item())
    assert avg.item() == pytest.approx(sum(direct) / 2, rel=1e-6)


def last_membrane_of_final_window(steps: int):
    """Loss ``Σ U_T`` on the window that ends at step T, zero (but connected) before it."""
    seen = {"steps": 0}

    def last_membrane(mem_rec, targets):  # the name says "membrane": it gets mem_rec
        seen["steps"] += mem_rec.size(0)
        scale = 1.0 if seen["steps"] == steps else 0.0
        return scale * mem_rec[-1].sum()

    return last_membrane


@pytest.mark.parametrize(
    ("K", "live_steps"),
    [pytest.param(None, 4, id="BPTT"), pytest.param(2, 2, id="K2"), pytest.param(1, 1, id="K1")],
)
def test_backprop_tbptt_truncates_the_graph(K, live_steps):
    # One Leaky layer, no spikes: U_T = Σ_t β^(T−1−t) (W x_t + b), so with the state detached
    # every K steps dL/dx_t = β^(T−1−t) Σ_j W_j for the last K steps and 0 before them.
    torch.manual_seed(0)
    beta, steps = 0.5, 4
    net = nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=beta, init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.mul_(0.1)
    data = torch.rand(steps, 1, 3, requires_grad=True)
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    backprop.TBPTT(net, [(data, torch.zeros(1))], frozen, last_membrane_of_final_window(steps), K=K)
    w_sum = net[0].weight.sum(0)
    for t in range(steps):
        live = t >= steps - live_steps
        expected = beta ** (steps - 1 - t) * w_sum if live else torch.zeros(3)
        torch.testing.assert_close(data.grad[t, 0], expected)


def test_backprop_criterion_input_rule():
    net = make_net()
    batch = make_batches(1)
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    got = {}

    class mse_membrane_loss:  # snnTorch's class name: reads membranes
        time_var_targets = False

        def __call__(self, rec, targets):
            got["membrane"] = rec
            return rec.sum() * 0

    def both(spk_rec, mem_rec, targets):
        got["both"] = (spk_rec, mem_rec)
        return spk_rec.sum() * 0

    backprop.BPTT(net, batch, frozen, mse_membrane_loss())
    backprop.BPTT(net, batch, frozen, both, criterion_input="both")
    spk_rec, mem_rec = got["both"]
    assert torch.equal(got["membrane"], mem_rec)
    assert set(spk_rec.unique().tolist()) <= {0.0, 1.0} and not torch.equal(spk_rec, mem_rec)
    with pytest.raises(ValueError, match="criterion_input"):
        backprop.BPTT(net, batch, frozen, both, criterion_input="spikes")


def test_backprop_time_var_targets_are_sliced_per_window():
    net = make_net()
    data, _ = make_batches(1)[0]
    targets = torch.arange(T, dtype=torch.float32)[:, None].expand(T, B)
    windows = []

    def mse_membrane_loss(mem_rec, tgt):
        windows.append(tgt[:, 0].tolist())
        return mem_rec.sum() * 0

    mse_membrane_loss.time_var_targets = True
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    backprop.TBPTT(net, [(data, targets)], frozen, mse_membrane_loss, K=4)
    assert windows == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_backprop_static_and_batch_first_data():
    net = make_net()
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    data, y = make_batches(1)[0]
    time_first = backprop.BPTT(net, [(data, y)], frozen, count_mse)
    batch_first = backprop.BPTT(
        net, [(data.transpose(0, 1), y)], frozen, count_mse, time_first=False
    )
    assert batch_first.item() == pytest.approx(time_first.item(), rel=1e-6)
    calls = []

    def counting(spk_rec, targets):
        calls.append(spk_rec.size(0))
        return count_mse(spk_rec, targets)

    backprop.RTRL(net, [(data[0], y)], frozen, counting, num_steps=5, time_var=False)
    assert calls == [1] * 5


def test_backprop_regularization_is_added_on_spikes():
    net = make_net()
    with torch.no_grad():  # make the output layer fire
        net[0].weight.abs_().mul_(3)
        net[2].weight.abs_().mul_(3)
    frozen = torch.optim.SGD(net.parameters(), lr=0.0)
    batch = make_batches(1)
    plain = backprop.BPTT(net, batch, frozen, count_mse)
    spikes = backprop.BPTT(net, batch, frozen, lambda s, t: s.sum() * 0)
    with_reg = backprop.BPTT(net, batch, frozen, count_mse, regularization=lambda s: 0.01 * s.sum())
    assert spikes.item() == 0.0
    snn.utils.reset(net)
    with torch.no_grad():
        n_spikes = sum(net(x)[0].sum().item() for x in batch[0][0])
    assert n_spikes > 0
    assert with_reg.item() == pytest.approx(plain.item() + 0.01 * n_spikes, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"num_steps": 5}, ValueError, "num_steps", id="steps-with-time-var"),
        pytest.param({"time_var": False}, ValueError, "num_steps", id="static-no-steps"),
        pytest.param({"K": 0}, ValueError, "K must", id="K-zero"),
        pytest.param({"time_var": False, "num_steps": 3, "K": 4}, ValueError, "K must", id="K>T"),
        pytest.param(
            {"time_var": False, "num_steps": 3, "time_first": False},
            ValueError,
            "time_first",
            id="static-batch-first",
        ),
    ],
)
def test_backprop_bad_arguments(kwargs, error, match):
    net = make_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    with pytest.raises(error, match=match):
        backprop.TBPTT(net, make_batches(1), opt, count_mse, **kwargs)


def test_backprop_net_must_return_spk_and_mem():
    net = nn.Sequential(nn.Linear(N_IN, 2), snn.Leaky(beta=0.8, init_hidden=True))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    with pytest.raises(TypeError, match="output=True"):
        backprop.BPTT(net, make_batches(1), opt, count_mse)
    with pytest.raises(ValueError, match="no batches"):
        backprop.BPTT(make_net(), [], opt, count_mse)


def test_backprop_name_rule_gives_snntorch_choice_for_the_library_losses():
    import spikeforge.functional as SF

    reads_mem = {"ce_max_membrane_loss", "mse_membrane_loss"}
    for name in (
        "ce_rate_loss",
        "ce_count_loss",
        "ce_max_membrane_loss",
        "mse_count_loss",
        "mse_membrane_loss",
        "mse_temporal_loss",
        "ce_temporal_loss",
    ):
        expected = "mem" if name in reads_mem else "spk"
        assert backprop._resolve_input(getattr(SF, name)(), "auto") == expected, name
    net = make_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    batch = make_batches(1)
    loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    avg = backprop.BPTT(net, batch, opt, loss_fn, regularization=SF.l1_rate_sparsity())
    snn.utils.reset(net)
    with torch.no_grad():
        spk_rec = torch.stack([net(x)[0] for x in batch[0][0]])
    expected = loss_fn(spk_rec, batch[0][1]) + SF.l1_rate_sparsity()(spk_rec)
    assert avg.item() == pytest.approx(expected.item(), rel=1e-6)
