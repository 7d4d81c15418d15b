"""A clear error for a stored state whose autograd graph ``backward()`` already freed.

A neuron keeps its state between calls, as snnTorch's do. Called on a new sequence after
``loss.backward()`` without ``utils.reset(net)`` / ``reset_mem()``, the new sequence starts
from the old final state, which still points into the previous sequence's graph; PyTorch's
saved tensors there were freed by that ``backward()``. snnTorch 1.0.0 lets the forward run and
the next ``backward()`` fails deep in autograd with "Trying to backward through the graph a
second time". Here the same case fails at that same ``backward()`` (a forward alone still
runs, e.g. an evaluation without ``torch.no_grad()``), but with a message that names the fix.

Detection: the stored state's graph is walked a few nodes deep to the first node holding a
saved tensor; if reading it raises, ``backward()`` freed it (with ``retain_graph=True`` it
reads fine and nothing changes). Only a state that requires grad is looked at, so a reset or
detached state costs one attribute test.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["graph_was_freed", "guard_stale_state"]

_MAX_NODES = 32  # the first node with a saved tensor is always within a few steps


def _saved_attributes(node) -> list[str]:
    names = [n for n in dir(node) if n.startswith("_saved_")]
    if "saved_tensors" in dir(node):  # a custom autograd.Function's node
        names.append("saved_tensors")
    return names


def graph_was_freed(state: Tensor) -> bool:
    """Whether ``state``'s autograd graph had its saved tensors freed by a ``backward()``."""
    todo, seen = [state.grad_fn], set()
    while todo and len(seen) < _MAX_NODES:
        node = todo.pop(0)
        if node is None or node in seen:
            continue
        seen.add(node)
        for name in _saved_attributes(node):
            try:
                value = getattr(node, name)
            except RuntimeError:
                return True  # "Trying to ... access saved tensors after they have been freed"
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, Tensor) for v in values):
                return False  # a saved tensor is still there: the graph is intact
        todo.extend(fn for fn, _ in node.next_functions)
    return False


class _FreedGraphGuard(torch.autograd.Function):
    """Identity on the stale state; its backward raises the explanation."""

    @staticmethod
    def forward(ctx, state: Tensor, message: str) -> Tensor:
        ctx.message = message
        return state.detach().clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        raise RuntimeError(ctx.message)


def guard_stale_state(owner: str, name: str, state: Tensor) -> Tensor:
    """``state`` itself, unless it hangs on a freed graph: then a stand-in whose gradient
    raises a ``RuntimeError`` naming ``utils.reset(net)`` / ``reset_mem()``."""
    if torch.compiler.is_compiling():
        return state  # no autograd graph to inspect while tracing
    if not (state.requires_grad and state.grad_fn is not None and torch.is_grad_enabled()):
        return state
    if not graph_was_freed(state):
        return state
    message = (
        f"{owner}: this backward() reaches the stored `{name}` that the previous sequence "
        "left, whose graph an earlier backward() already freed. Reset the state before each "
        "new sequence with `spikeforge.utils.reset(net)` or `neuron.reset_mem()`; to carry it "
        "over without its gradient, call `neuron.detach_hidden()` after backward()"
    )
    return _FreedGraphGuard.apply(state, message)
