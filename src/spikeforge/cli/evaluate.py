"""``spikeforge evaluate runs/NAME``: reload a checkpoint and measure test accuracy.

Also the test pass the trainer runs after each epoch. The prediction is rate decoding: the
output neuron with the most spikes over the ``T`` steps; a tie goes to the tied neuron with
the largest summed membrane (the quantity the default loss trains). snnTorch tutorial 5
breaks ties by taking the lowest index; that accuracy is reported too
(``accuracy_count_first_index``), as is the membrane readout alone.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .checkpoint import REQUIRED_KEYS, check_fits_config, check_fits_model, read_checkpoint
from .data import batches, encode, load_split
from .devices import resolve_device
from .errors import CLIError
from .loss import make_loss
from .model import Record, SpikingClassifier, build_model
from .options import TrainConfig, positive_int
from .runfiles import CHECKPOINT, CONFIG, METRICS, read_json

__all__ = [
    "EvalResult",
    "add_evaluate_arguments",
    "evaluate",
    "evaluate_model",
    "load_run_model",
    "read_run_config",
    "run_evaluate",
]


@dataclass
class EvalResult:
    accuracy: float  # percent
    loss: float
    firing_rates: dict[str, float]  # spikes per neuron per step, by layer
    spikes_per_inference: float  # all layers, all steps, one image
    class_counts: list[list[float]] = field(default_factory=list)  # mean output spikes by label
    other_accuracies: dict[str, float] = field(default_factory=dict)  # other decodings

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "firing_rates": self.firing_rates,
            "spikes_per_inference": self.spikes_per_inference,
            **self.other_accuracies,
        }


def layer_names(model: SpikingClassifier) -> list[str]:
    n = len(model.neurons)
    return [f"hidden{i + 1}" for i in range(n - 1)] + ["output"]


def predictions(record: Record) -> Tensor:
    """The output neuron with the most spikes; ties go to the largest summed membrane."""
    counts = record.spikes[-1].sum(0)
    tied = counts == counts.max(-1, keepdim=True).values
    membrane = record.mems[-1].sum(0)
    return torch.where(tied, membrane, torch.full_like(membrane, -torch.inf)).argmax(-1)


def other_decodings(record: Record) -> dict[str, Tensor]:
    """Tutorial 5's decoding (most spikes, lowest index wins a tie) and the membrane readout."""
    return {
        "accuracy_count_first_index": record.spikes[-1].sum(0).argmax(-1),
        "accuracy_membrane": record.mems[-1].sum(0).argmax(-1),
    }


def evaluate_model(
    model: SpikingClassifier,
    images: Tensor,
    labels: Tensor,
    config: TrainConfig,
    loss_fn,
    device: torch.device,
    batch_size: int = 1000,
) -> EvalResult:
    """Accuracy, loss and spike statistics over a whole split (seeded, so repeatable)."""
    model.eval()
    names = layer_names(model)
    correct, loss_sum, seen = 0, 0.0, 0
    spike_sums = torch.zeros(len(names), dtype=torch.float64)
    neurons = torch.zeros(len(names), dtype=torch.float64)
    counts = torch.zeros(10, 10, dtype=torch.float64)
    per_label = torch.zeros(10, dtype=torch.float64)
    other: dict[str, int] = {}
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed + 1)
        for x, y in batches(images, labels, batch_size):
            x, y = x.to(device), y.to(device)
            inputs, static = encode(x, config.encoding, config.steps)
            record = model(inputs, config.steps, static)
            loss_sum += float(loss_fn(record, y)) * len(y)
            correct += int((predictions(record) == y).sum())
            for name, pred in other_decodings(record).items():
                other[name] = other.get(name, 0) + int((pred == y).sum())
            seen += len(y)
            for i, spk in enumerate(record.spikes):
                spike_sums[i] += float(spk.sum())
                neurons[i] = spk[0, 0].numel()
            out_counts = record.spikes[-1].sum(0).double().cpu()
            counts.index_add_(0, y.cpu(), out_counts)
            per_label += torch.bincount(y.cpu(), minlength=10).double()
    steps = config.steps
    rates = {n: float(spike_sums[i] / (seen * steps * neurons[i])) for i, n in enumerate(names)}
    class_counts = (counts / per_label.clamp(min=1).unsqueeze(1)).tolist()
    return EvalResult(
        accuracy=100.0 * correct / max(seen, 1),
        loss=loss_sum / max(seen, 1),
        firing_rates=rates,
        spikes_per_inference=float(spike_sums.sum() / max(seen, 1)),
        class_counts=class_counts,
        other_accuracies={k: 100.0 * v / max(seen, 1) for k, v in other.items()},
    )


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run folder written by `spikeforge train` (runs/NAME)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--batch-size", type=positive_int, default=1000, help="test images per batch (1000)"
    )


def read_run_config(folder: Path) -> TrainConfig:
    """The :class:`TrainConfig` of ``folder/config.json``; a damaged file is a CLIError."""
    path = folder / CONFIG
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder: give the run folder `spikeforge train` wrote")
    if not path.is_file():
        raise CLIError(f"{folder} has no {CONFIG}: is it a `spikeforge train` run folder?")
    try:
        return TrainConfig.from_dict(read_json(path))
    except ValueError as err:
        raise CLIError(f"{path}: {err}; the run folder is damaged") from None


def load_run_model(folder: Path, config: TrainConfig, device: torch.device) -> SpikingClassifier:
    """The network of ``config`` with the weights of ``folder/checkpoint.pt``, both checked."""
    path = folder / CHECKPOINT
    state = read_checkpoint(path, device, REQUIRED_KEYS)
    check_fits_config(state, config.to_dict(), path)
    model = build_model(config).to(device)
    check_fits_model(state, model, path)
    model.load_state_dict(state["model"])
    return model


def evaluate(run: str | Path, device: str = "auto", batch_size: int = 1000) -> EvalResult:
    """Rebuild the network of ``run`` from ``config.json``, load its checkpoint, test it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    folder = Path(run)
    config = read_run_config(folder)
    dev = resolve_device(device)
    model = load_run_model(folder, config, dev)
    images, labels = load_split(config, train=False)
    return evaluate_model(model, images, labels, config, make_loss(config), dev, batch_size)


def run_evaluate(args: argparse.Namespace) -> int:
    result = evaluate(args.run, args.device, args.batch_size)
    folder = Path(args.run)
    print(f"{folder}: test accuracy {result.accuracy:.2f}%  (loss {result.loss:.4f})")
    print(
        f"spikes per inference {result.spikes_per_inference:.1f}; firing rates "
        + ", ".join(f"{k} {v:.4f}" for k, v in result.firing_rates.items())
    )
    if result.other_accuracies:
        print(
            "other readouts: "
            + ", ".join(
                f"{k.removeprefix('accuracy_')} {v:.2f}%"
                for k, v in result.other_accuracies.items()
            )
        )
    metrics_path = folder / METRICS
    if metrics_path.is_file():
        try:
            recorded = read_json(metrics_path).get("test_accuracy")
        except CLIError:
            recorded = None  # a damaged metrics.json does not change the accuracy just measured
        if isinstance(recorded, (int, float)):
            print(f"recorded at training time: {recorded:.2f}%")
    return 0
