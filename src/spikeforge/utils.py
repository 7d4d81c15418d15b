"""Network and dataset helpers with ``snntorch.utils``' names.

``reset(net)`` acts on the stateful modules (spiking neurons, NIR readouts, delays) and
``detach(net)`` on the spiking neurons found by walking ``net.modules()`` (nested containers
included), and on nothing else: two networks in one process never touch each other's state
(snnTorch's ``reset`` resets every live neuron of the same class, issue #438, and looks only
at direct children).

``data_subset`` and ``valid_split`` keep snnTorch's in-place behaviour for datasets with
``.data`` and ``.targets`` (torchvision style; tensors, arrays or lists). Any other
``torch.utils.data.Dataset`` cannot be edited in place, so it is wrapped in a
``torch.utils.data.Subset`` over the same indices, which is returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Subset

from .neurons import SpikingNeuron
from .nn.multistep import set_step_mode
from .nn.stateful import stateful_modules

__all__ = ["data_subset", "detach", "reset", "set_step_mode", "valid_split"]


def _neurons(net: Any) -> list[SpikingNeuron]:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    return [m for m in net.modules() if isinstance(m, SpikingNeuron)]


def reset(net: nn.Module) -> int:
    """Zero and detach the state of every stateful module inside ``net``.

    That is every module with ``reset_state()`` (``spikeforge.nn.stateful``): the spiking
    neurons, the NIR readouts (``LeakyIntegrator``, ``Integrator``, ``SynapticIntegrator``),
    ``SynapticDelay``'s ring buffer and a ``NIRGraphModule``'s back edges. Recurses through
    nested modules; modules outside ``net`` keep their state. Returns the number of modules
    reset (snnTorch returns ``None``).
    """
    modules = stateful_modules(net)
    for module in modules:
        module.reset_state()
    return len(modules)


def detach(net: nn.Module) -> int:
    """Cut the hidden state of every spiking neuron inside ``net`` from the autograd graph.

    The values are kept (truncated BPTT). Returns the number of neurons detached.
    """
    neurons = _neurons(net)
    for neuron in neurons:
        neuron.detach_hidden()
    return len(neurons)


# -- datasets ---------------------------------------------------------------------------


def _has_data_targets(dataset: Any) -> bool:
    return hasattr(dataset, "data") and hasattr(dataset, "targets")


def _take(values: Any, indices: np.ndarray) -> Any:
    """``values[indices]`` for tensors, arrays, lists and tuples (keeping the type)."""
    if isinstance(values, torch.Tensor):
        return values[torch.as_tensor(indices, dtype=torch.long, device=values.device)]
    if isinstance(values, np.ndarray):
        return values[indices]
    if isinstance(values, list | tuple):
        return type(values)(values[int(i)] for i in indices)
    raise TypeError(
        "dataset .data/.targets must be a tensor, a numpy array or a list, "
        f"got {type(values).__name__}"
    )


def _length(name: str, dataset: Any) -> int:
    try:
        return len(dataset)
    except TypeError as err:
        raise TypeError(
            f"{name} must be a dataset with a length, got {type(dataset).__name__}"
        ) from err


def data_subset(dataset: Any, subset: int, idx: int = 0) -> Any:
    """Keep the ``idx``-th of ``subset`` equal contiguous slices of ``dataset``.

    With ``N`` samples and ``step = N // subset`` the kept rows are
    ``[step·idx, step·(idx+1))``; ``subset=1`` keeps everything. A dataset with
    ``.data``/``.targets`` is cut in place and returned (as in snnTorch); any other
    dataset is returned as a ``Subset`` of those rows.
    """
    if isinstance(subset, bool) or not isinstance(subset, int) or subset < 1:
        raise ValueError(f"subset must be an int >= 1 (the reduction factor), got {subset!r}")
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < subset:
        raise ValueError(f"idx must be an int in [0, subset={subset}), got {idx!r}")
    if subset == 1:
        return dataset
    in_place = _has_data_targets(dataset)
    n = len(dataset.data) if in_place else _length("dataset", dataset)
    step = n // subset
    rows = np.arange(step * idx, step * (idx + 1))
    if not in_place:
        return Subset(dataset, rows.tolist())
    dataset.data = _take(dataset.data, rows)
    dataset.targets = _take(dataset.targets, rows)
    return dataset


def _split_indices(n: int, split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """snnTorch's split: ``n − int(n·split)`` random training rows, the rest (sorted) for val."""
    n_train = n - int(n * split)
    train_idx = np.random.default_rng(seed=seed).choice(n, size=n_train, replace=False)
    is_val = np.ones(n, dtype=bool)
    is_val[train_idx] = False
    return train_idx, np.flatnonzero(is_val)


def valid_split(ds_train: Any, ds_val: Any, split: float, seed: int = 0) -> tuple[Any, Any]:
    """Split ``ds_train`` into disjoint training and validation parts.

    ``int(N·split)`` samples go to validation. The training rows are drawn with
    ``numpy.random.default_rng(seed).choice`` (the same rows as snnTorch for the same seed),
    in that random order; the validation rows are the others, in order.

    ``ds_val`` is typically a second copy of the training set (e.g. with other transforms).
    With ``.data``/``.targets`` on both, both are overwritten in place from ``ds_train``'s
    rows, as in snnTorch. Otherwise the result is ``(Subset(ds_train, train_rows),
    Subset(ds_val, val_rows))``, which needs ``len(ds_val) == len(ds_train)``.
    """
    if isinstance(split, bool) or not isinstance(split, int | float) or not 0 <= split <= 1:
        raise ValueError(f"split must be a number in [0, 1] (validation share), got {split!r}")
    n = _length("ds_train", ds_train)
    train_idx, val_idx = _split_indices(n, float(split), seed)
    if _has_data_targets(ds_train) and _has_data_targets(ds_val):
        val_data, val_targets = _take(ds_train.data, val_idx), _take(ds_train.targets, val_idx)
        ds_train.data = _take(ds_train.data, train_idx)
        ds_train.targets = _take(ds_train.targets, train_idx)
        ds_val.data, ds_val.targets = val_data, val_targets
        return ds_train, ds_val
    n_val_set = _length("ds_val", ds_val)
    if n_val_set != n:
        raise ValueError(
            "ds_val must be a copy of the training set (same length) when the datasets have no "
            f".data/.targets; got len(ds_train)={n}, len(ds_val)={n_val_set}"
        )
    return Subset(ds_train, train_idx.tolist()), Subset(ds_val, val_idx.tolist())
