"""The pieces of ``spikeforge train``: neuron runs, the loss, atomic run files, options."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import spikeforge as snn
from spikeforge.cli.model import Record, build_model, make_neuron, run_neuron
from spikeforge.cli.options import TrainConfig
from spikeforge.cli.runfiles import atomic_write, read_json, write_json
from spikeforge.cli.train import make_loss


@pytest.mark.parametrize("step_mode", ["single", "multi"])
def test_run_neuron_static_input_matches_the_hand_computed_leaky_trajectory(step_mode):
    # β = .9, constant x = 1.2, subtract reset from the previous membrane:
    # U = 1.2, 0.9·1.2 + 1.2 − 1 = 1.28, 0.9·1.28 + 0.2 = 1.352, 1.4168; spikes every step.
    lif = snn.Leaky(beta=0.9)
    lif.step_mode = step_mode
    spk, mem = run_neuron(lif, torch.tensor([[1.2]]), num_steps=4, static=True)
    assert spk.shape == mem.shape == (4, 1, 1)
    assert mem.flatten().tolist() == pytest.approx([1.2, 1.28, 1.352, 1.4168], abs=1e-5)
    assert spk.flatten().tolist() == [1.0, 1.0, 1.0, 1.0]


def test_run_neuron_starts_each_call_from_zero_and_static_equals_repeated_sequence():
    lif = snn.Leaky(beta=0.8)
    lif.step_mode = "multi"
    current = torch.rand(3, 5) * 0.6
    first = run_neuron(lif, current, 6, static=True)
    second = run_neuron(lif, current.expand(6, 3, 5), 6, static=False)
    torch.testing.assert_close(first[0], second[0])
    torch.testing.assert_close(first[1], second[1])


def test_make_neuron_builds_the_named_class_in_multi_step_mode():
    config = TrainConfig(neuron="synaptic", alpha=0.7, beta=0.6, surrogate="fast_sigmoid")
    neuron = make_neuron(config, features=10)
    assert isinstance(neuron, snn.Synaptic)
    assert neuron.step_mode == "multi"
    assert float(neuron.alpha) == pytest.approx(0.7) and float(neuron.beta) == pytest.approx(0.6)
    assert type(neuron.spike_grad).__name__ == "FastSigmoid"


def test_membrane_loss_is_cross_entropy_summed_over_steps():
    torch.manual_seed(3)
    mem = torch.randn(4, 6, 10)
    labels = torch.randint(0, 10, (6,))
    loss = make_loss(TrainConfig(loss="membrane"))(Record([mem.gt(0).float()], [mem]), labels)
    expected = sum(F.cross_entropy(mem[t], labels) for t in range(4))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(
    ("model", "shapes"),
    [
        ("fc", [(3, 2, 16), (3, 2, 10)]),
        ("conv", [(3, 2, 12, 12, 12), (3, 2, 64, 4, 4), (3, 2, 10)]),
    ],
)
def test_models_record_every_layer_over_time(model, shapes):
    net = build_model(TrainConfig(model=model, hidden=16))
    record = net(torch.rand(2, 1, 28, 28), num_steps=3, static=True)
    assert [tuple(s.shape) for s in record.spikes] == shapes
    assert [tuple(m.shape) for m in record.mems] == shapes
    seq = torch.rand(3, 2, 1, 28, 28).lt(0.3).float()  # a spike-encoded input
    assert [tuple(s.shape) for s in net(seq, 3, static=False).spikes] == shapes


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"test_accuracy": 97.5})

    def broken(handle):
        handle.write("{")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken, mode="w")
    assert read_json(path) == {"test_accuracy": 97.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert json.loads(path.read_text())["test_accuracy"] == 97.5


def test_config_round_trips_and_ignores_unknown_keys():
    config = TrainConfig(model="conv", steps=7, limit=100)
    data = config.to_dict() | {"from_a_newer_version": 1}
    assert TrainConfig.from_dict(data) == config


@pytest.mark.parametrize(
    "neuron", ["leaky", "synaptic", "alpha", "lapicque", "iaf", "rleaky", "rsynaptic"]
)
def test_every_neuron_choice_trains_one_step(neuron):
    torch.manual_seed(0)
    config = TrainConfig(neuron=neuron, hidden=8, steps=3)
    net = build_model(config)
    record = net(torch.rand(4, 1, 28, 28), num_steps=3, static=True)
    assert [tuple(s.shape) for s in record.spikes] == [(3, 4, 8), (3, 4, 10)]
    loss = make_loss(config)(record, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    assert net.synapses[0][1].weight.grad.abs().sum() > 0  # gradient reaches the first layer


def test_encodings_direct_rate_and_latency():
    from spikeforge.cli.data import encode

    x = torch.zeros(2, 1, 28, 28)
    x[0] = 1.0  # a white image and a black one
    direct, static = encode(x, "direct", 5)
    assert static and direct is x
    rate, static = encode(x, "rate", 5)
    assert not static and rate.shape == (5, 2, 1, 28, 28)
    assert bool((rate[:, 0] == 1).all()) and bool((rate[:, 1] == 0).all())  # P(spike) = pixel
    latency, _ = encode(x, "latency", 5)
    assert latency.shape == (5, 2, 1, 28, 28)
    assert bool((latency[0, 0] == 1).all()) and float(latency[1:, 0].sum()) == 0  # bright: t=0
    assert float(latency[:, 1].sum()) == 0  # below threshold: clipped, never fires
    with pytest.raises(ValueError, match="encoding must be one of"):
        encode(x, "phase", 5)
