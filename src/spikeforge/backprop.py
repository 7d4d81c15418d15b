"""One-epoch training loops with ``snntorch.backprop``'s names: ``BPTT``, ``TBPTT``, ``RTRL``.

For each batch the network's neurons are reset (``utils.reset(net)``) and the network is
called once per time step, ``out = net(data[t])`` (``net(data)`` when ``time_var=False``).
``out`` is a tuple whose first item is the output spikes and whose last item is the output
membrane (``(spk, mem)``, or ``(spk, syn, mem)`` and so on). The steps are cut into windows
of ``K`` steps (the last window may be shorter); at the end of each window

.. math::
    L_w = \\text{criterion}(\\text{rec}_w, \\text{targets}) + \\text{regularization}(\\text{rec}_w)

is back-propagated, the optimizer steps, and the hidden states are detached
(``utils.detach(net)``), so no gradient flows from one window into an earlier one.
``BPTT`` is one window per sequence (``K = T``); ``RTRL`` is ``K = 1`` (as in snnTorch it
is truncated BPTT with one-step windows, not forward-mode real-time recurrent learning).

Which recording the criterion gets (``criterion_input``):

* ``"spk"``: ``criterion(spk_rec, targets)`` with ``spk_rec`` of shape ``[K, B, ...]``;
* ``"mem"``: ``criterion(mem_rec, targets)``;
* ``"both"``: ``criterion(spk_rec, mem_rec, targets)``;
* ``"auto"`` (default): ``"mem"`` if the criterion's name (its ``__name__``, else its class
  name) contains ``"membrane"``, else ``"spk"``. That gives snnTorch's choice for all of its
  losses (``mse_membrane_loss`` and ``ce_max_membrane_loss`` read membranes) without a fixed
  list, and spikes for any other callable.

``regularization`` follows the same name rule (spikes unless its name says membrane). If
the criterion has a true ``time_var_targets`` attribute, the targets are time-major and each
window gets ``targets[t0:t1]``.

Each call returns the epoch's average loss, a detached 0-dim tensor: the mean over batches
of the mean over that batch's windows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from . import utils

__all__ = ["BPTT", "RTRL", "TBPTT"]

CRITERION_INPUTS = ("auto", "spk", "mem", "both")


def _reads_membrane(fn: Any) -> bool:
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        name = type(fn).__name__
    return "membrane" in name.lower()


def _resolve_input(criterion: Callable, criterion_input: str) -> str:
    if criterion_input not in CRITERION_INPUTS:
        raise ValueError(
            f"criterion_input must be one of {CRITERION_INPUTS}, got {criterion_input!r}"
        )
    if criterion_input != "auto":
        return criterion_input
    return "mem" if _reads_membrane(criterion) else "spk"


def _check_args(
    net: Any,
    optimizer: Any,
    criterion: Any,
    num_steps: Any,
    time_var: bool,
    time_first: bool,
    regularization: Any,
    K: Any,
) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if not callable(criterion):
        raise TypeError(f"criterion must be callable, got {type(criterion).__name__}")
    if regularization is not False and regularization is not None and not callable(regularization):
        raise TypeError(f"regularization must be False or callable, got {regularization!r}")
    if time_var and num_steps not in (False, None):
        raise ValueError(
            f"num_steps must not be given when time_var=True (got {num_steps!r}): "
            "the length of each batch's time dimension is used"
        )
    if not time_var:
        if (
            num_steps in (False, None)
            or isinstance(num_steps, bool)
            or not isinstance(num_steps, int)
        ):
            raise ValueError(
                f"num_steps must be a positive int when time_var=False, got {num_steps!r}"
            )
        if num_steps < 1:
            raise ValueError(f"num_steps must be a positive int, got {num_steps}")
        if not time_first:
            raise ValueError("time_first=False only applies to time-varying data (time_var=True)")
    if K is not None:
        if isinstance(K, bool) or not isinstance(K, int) or K < 1:
            raise ValueError(f"K must be a positive int (steps per weight update), got {K!r}")
        if not time_var and num_steps < K:
            raise ValueError(f"K must be <= num_steps, got K={K}, num_steps={num_steps}")


def _split_output(out: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(out, tuple | list) or len(out) < 2:
        raise TypeError(
            "net(x) must return a tuple (spk, ..., mem), e.g. make its last neuron "
            f"init_hidden=True, output=True; got {type(out).__name__}"
        )
    return out[0], out[-1]


def _window_loss(
    criterion: Callable,
    mode: str,
    regularization: Any,
    spk: list[Tensor],
    mem: list[Tensor],
    targets: Any,
    start: int,
) -> Tensor:
    spk_rec, mem_rec = torch.stack(spk), torch.stack(mem)
    if getattr(criterion, "time_var_targets", False):
        targets = targets[start : start + len(spk)]
    if mode == "both":
        loss = criterion(spk_rec, mem_rec, targets)
    else:
        loss = criterion(spk_rec if mode == "spk" else mem_rec, targets)
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise ValueError(f"criterion must return a 0-dim tensor, got {loss!r}")
    if regularization:
        loss = loss + regularization(mem_rec if _reads_membrane(regularization) else spk_rec)
    return loss


def TBPTT(
    net: nn.Module,
    dataloader: Iterable,
    optimizer: torch.optim.Optimizer,
    criterion: Callable,
    num_steps: int | bool = False,
    time_var: bool = True,
    time_first: bool = True,
    regularization: Callable | bool = False,
    device: str | torch.device = "cpu",
    K: int | bool | None = 1,
    *,
    criterion_input: str = "auto",
) -> Tensor:
    """Truncated BPTT for one epoch: a weight update every ``K`` steps (module docstring).

    Args:
        net: called once per step; returns ``(spk, ..., mem)`` and keeps its state.
        dataloader: iterable of ``(data, targets)``; ``data`` is ``[T, B, ...]``
            (``[B, T, ...]`` with ``time_first=False``), or ``[B, ...]`` with
            ``time_var=False``, in which case it is presented for ``num_steps`` steps.
        K: steps per window; ``None`` (or ``False``) means the whole sequence (``BPTT``).
        criterion_input: ``"auto"``, ``"spk"``, ``"mem"`` or ``"both"`` (module docstring).

    Returns:
        The average loss over the epoch, a detached 0-dim tensor.
    """
    if K is False:  # snnTorch spells "the whole sequence" K=False
        K = None
    _check_args(net, optimizer, criterion, num_steps, time_var, time_first, regularization, K)
    mode = _resolve_input(criterion, criterion_input)
    net.to(device)
    net.train()
    batch_losses = []
    for data, targets in dataloader:
        data, targets = data.to(device), targets.to(device)
        if time_var and not time_first:
            data = data.transpose(0, 1)
        steps = data.size(0) if time_var else num_steps
        window = steps if K is None else min(K, steps)
        utils.reset(net)
        window_losses, spk, mem, start = [], [], [], 0
        for t in range(steps):
            out_spk, out_mem = _split_output(net(data[t] if time_var else data))
            spk.append(out_spk)
            mem.append(out_mem)
            if len(spk) == window or t == steps - 1:
                loss = _window_loss(criterion, mode, regularization, spk, mem, targets, start)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                utils.detach(net)
                window_losses.append(loss.detach())
                spk, mem, start = [], [], t + 1
        batch_losses.append(torch.stack(window_losses).mean())
    if not batch_losses:
        raise ValueError("dataloader yielded no batches")
    return torch.stack(batch_losses).mean()


def BPTT(
    net: nn.Module,
    dataloader: Iterable,
    optimizer: torch.optim.Optimizer,
    criterion: Callable,
    num_steps: int | bool = False,
    time_var: bool = True,
    time_first: bool = True,
    regularization: Callable | bool = False,
    device: str | torch.device = "cpu",
    *,
    criterion_input: str = "auto",
) -> Tensor:
    """Backpropagation through time: one weight update per sequence (``TBPTT`` with K=T)."""
    return TBPTT(
        net, dataloader, optimizer, criterion, num_steps, time_var, time_first,
        regularization, device, K=None, criterion_input=criterion_input,
    )  # fmt: skip


def RTRL(
    net: nn.Module,
    dataloader: Iterable,
    optimizer: torch.optim.Optimizer,
    criterion: Callable,
    num_steps: int | bool = False,
    time_var: bool = True,
    time_first: bool = True,
    regularization: Callable | bool = False,
    device: str | torch.device = "cpu",
    *,
    criterion_input: str = "auto",
) -> Tensor:
    """A weight update after every step (``TBPTT`` with K=1), as snnTorch's ``RTRL``."""
    return TBPTT(
        net, dataloader, optimizer, criterion, num_steps, time_var, time_first,
        regularization, device, K=1, criterion_input=criterion_input,
    )  # fmt: skip
