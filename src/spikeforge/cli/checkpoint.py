"""Reading a run's ``checkpoint.pt`` back, and checking it before anything trusts it.

A checkpoint is a dict of tensors, numbers, strings and lists saved by ``torch.save``; it is
loaded with ``weights_only=True``, so a file holding other objects (which could run code
while unpickling) is refused, never executed. Each way a file can be wrong (empty,
truncated, not a checkpoint, another program's, another run's) gets its own message.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CLIError
from .runfiles import CONFIG

__all__ = [
    "FORMAT",
    "REQUIRED_KEYS",
    "RESUME_KEYS",
    "check_fits_config",
    "check_fits_model",
    "read_checkpoint",
    "saved_epochs",
]

FORMAT = "spikeforge-train-checkpoint/1"
REQUIRED_KEYS = ("model", "config")  # what `evaluate` needs
RESUME_KEYS = ("model", "optimizer", "generator", "torch_rng", "history", "batch_loss", "config")
# The options that make a network with another shape (a checkpoint of another run).
SHAPE_FIELDS = ("model", "neuron", "hidden")


def _load(path: Path, device: torch.device | str) -> Any:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CLIError(
            f"no checkpoint at {path}: train first with `spikeforge train --out {path.parent}`"
        ) from None
    if size == 0:
        raise CLIError(
            f"{path} is empty (0 bytes): it was truncated; train the run again with --overwrite"
        )
    with open(path, "rb"):
        pass  # an unreadable file (permissions) is an OSError the top level names
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" in str(err).lower():
            raise CLIError(
                f"{path} holds objects other than tensors, numbers and strings, so it was "
                "not loaded (unpickling them could run code); use a checkpoint written by "
                "`spikeforge train`"
            ) from None
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CLIError(f"{path} is not a readable checkpoint ({reason})") from None
    except Exception as err:  # damage shows as RuntimeError, EOFError, OSError, KeyError, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CLIError(
            f"{path} is damaged or truncated ({type(err).__name__}: {reason}); "
            "train the run again with --overwrite"
        ) from None


def read_checkpoint(
    path: Path, device: torch.device | str = "cpu", keys: tuple[str, ...] = RESUME_KEYS
) -> dict:
    """The checkpoint at ``path`` with at least ``keys``, or a :class:`CLIError` saying why not."""
    state = _load(Path(path), device)
    if not isinstance(state, dict):
        raise CLIError(
            f"{path} is not a `spikeforge train` checkpoint: it holds a "
            f"{type(state).__name__}, not the dict `spikeforge train` saves"
        )
    fmt = state.get("format")
    if fmt is not None and fmt != FORMAT:
        raise CLIError(f"{path} has format {fmt!r}; this spikeforge reads {FORMAT!r}")
    missing = [k for k in keys if k not in state]
    if missing:
        shown = ", ".join(sorted(map(str, state))[:6]) or "nothing"
        raise CLIError(
            f"{path} is not a `spikeforge train` checkpoint: it lacks {', '.join(missing)} "
            f"(it holds {shown})"
        )
    expected = {
        "model": dict,
        "optimizer": dict,
        "config": dict,
        "history": list,
        "batch_loss": list,
        "generator": torch.Tensor,
        "torch_rng": torch.Tensor,
    }
    for key in keys:
        if not isinstance(state[key], expected[key]):
            raise CLIError(
                f"{path} is damaged: its {key!r} is a {type(state[key]).__name__}, "
                f"not a {expected[key].__name__}"
            )
    return state


def saved_epochs(state: dict) -> int:
    """How many epochs the checkpoint holds."""
    return len(state.get("history", []))


def check_fits_config(state: dict, config: dict, path: Path) -> None:
    """The checkpoint must come from the run ``config.json`` describes (same plan)."""
    saved = state["config"]
    differ = [
        f"{k} {saved.get(k)!r} in {path.name} but {config.get(k)!r} in {CONFIG}"
        for k in config
        if k not in ("out", "device", "data_root", "epochs") and saved.get(k) != config.get(k)
    ]
    if differ:
        raise CLIError(
            f"{path.parent} mixes files of two runs: " + "; ".join(differ[:3]) + ". Train it "
            "again with --overwrite, or restore the matching files"
        )


def check_fits_model(state: dict, model: nn.Module, path: Path) -> None:
    """Every tensor of the checkpoint's ``model`` must match ``model``'s name and shape."""
    want = model.state_dict()
    have = state["model"]
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    if missing or extra:
        raise CLIError(
            f"{path} does not fit the network of {CONFIG}: "
            + (f"missing {', '.join(missing[:3])}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {', '.join(map(str, extra[:3]))}" if extra else "")
        )
    for name, tensor in want.items():
        value = have[name]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CLIError(
                f"{path} does not fit the network of {CONFIG}: {name} is {got} in the "
                f"checkpoint but {tuple(tensor.shape)} in the network"
            )
