"""Each example runs end to end with its small settings (slow: ``make test-slow``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.slow


def load(name: str):
    spec = importlib.util.spec_from_file_location(name.replace(".py", ""), EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_000_hand_written_lif_and_leaky_print_the_same_trajectory(capsys):
    load("000_lif_walkthrough.py").main(["--small"])
    out = capsys.readouterr().out
    hand = [line.split("U = ")[1] for line in out.splitlines() if line.startswith("hand  Iter")]
    lib = [
        line.split("U = tensor([")[1].rstrip("])")
        for line in out.splitlines()
        if line.startswith("Leaky Iter")
    ]
    assert len(hand) == len(lib) == 10
    assert [float(h) for h in hand] == pytest.approx([float(v) for v in lib], abs=1e-3)
    assert "torch.Size([20, 10])" in out and "torch.Size([13, 10])" in out
    assert "ce_rate_loss" in out and "triangular" in out


def test_001_writes_its_plots(tmp_path, capsys):
    load("001_lapicque_synaptic.py").main(["--small", "--out", str(tmp_path)])
    names = {p.name for p in tmp_path.glob("*.png")}
    assert names == {
        "lapicque_passive.png",
        "lapicque_spiking.png",
        "lapicque_threshold_input.png",
        "leaky_step.png",
        "synaptic.png",
    }
    out = capsys.readouterr().out
    assert "Synaptic(alpha=0) == Leaky on the same input: True" in out
    # 0.9 · 0.8^5 = 0.2949: the passive membrane decays by 1 − Δt/RC = 0.8 per step
    assert "U after 5 steps 0.2949" in out


def test_002_tutorial5_both_styles_learn():
    results = load("002_tutorial5.py").main(["--small"])
    assert set(results) == {"step", "multi"}
    assert all(r["accuracy"] > 50 for r in results.values())  # 20 batches, chance is 10%


def test_003_handmade_nets_run():
    results = load("003_handmade_spikingnet.py").main(["--small"])
    assert set(results) == {"SpikingNet", "NonSpikingNet"}
    assert results["NonSpikingNet"]["accuracy"] > 20


def test_004_hand_iaf_equals_library_iaf(tmp_path):
    stats = load("004_workshop.py").main(["--small", "--out", str(tmp_path)])
    assert stats["same"] is True
    assert stats["IAF nonzero"] < stats["ANN nonzero"]  # spikes are sparse
    assert len(list(tmp_path.glob("*.png"))) == 4


def test_005_conv_snn_learns():
    assert load("005_conv_snn.py").main(["--small"])["accuracy"] > 50


def test_005_conv_snn_validation_split_and_schedule_choices(capsys):
    example = load("005_conv_snn.py")
    with pytest.raises(SystemExit) as exc:
        example.main(["--valid", "60000"])
    assert exc.value.code == 2
    assert "--valid must be in [0, 60000), got 60000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        example.main(["--schedule", "step"])
    assert "'constant', 'cosine', 'onecycle'" in capsys.readouterr().err
    result = example.main(["--small", "--valid", "500", "--schedule", "constant", "--lr", "2e-3"])
    assert "validation accuracy after one epoch (20 batches)" in capsys.readouterr().out
    assert result["accuracy"] > 50  # 500 held-out training images, chance is 10 %


def test_006_pooling_residual_learns():
    assert load("006_pooling_residual.py").main(["--small"])["accuracy"] > 30


def test_cli_demo_default_run_beats_tutorial5(tmp_path):
    """The full default run: one epoch of tutorial 5's net on all of MNIST."""
    import json

    from spikeforge.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 93.87
