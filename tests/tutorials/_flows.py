"""Helpers for the tutorial-flow tests: run one flow under both libraries, compare results.

A *flow* is a function of the library module (``snntorch`` or ``spikeforge``) that rebuilds a
tutorial's call sequence and returns a dict of numbers. Both runs start from the same seed, so
``nn.Linear``/``nn.Conv2d`` draw the same initial weights; :func:`copy_weights` makes that
explicit where a flow builds the network itself.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

import pytest
import torch

import spikeforge

snntorch = pytest.importorskip("snntorch")

LIBS = {"snntorch": snntorch, "spikeforge": spikeforge}


def submodules(lib, *names: str) -> SimpleNamespace:
    """``lib.<name>`` for each name, imported as a tutorial imports them."""
    return SimpleNamespace(**{n: import_module(f"{lib.__name__}.{n}") for n in names})


def run_both(flow, seed: int = 0) -> dict:
    results = {}
    for name, lib in LIBS.items():
        torch.manual_seed(seed)
        results[name] = flow(lib)
    return results


def copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> int:
    """Copy every parameter whose name and shape exist in both modules; returns the count."""
    theirs = dict(src.named_parameters())
    copied = 0
    with torch.no_grad():
        for name, p in dst.named_parameters():
            if name in theirs and theirs[name].shape == p.shape:
                p.copy_(theirs[name])
                copied += 1
    return copied


def assert_same(results: dict, atol: float = 1e-6, rtol: float = 0.0, exact=()) -> None:
    """spikeforge's numbers equal snnTorch's: keys in ``exact`` (and non-tensors) exactly."""
    ours, theirs = results["spikeforge"], results["snntorch"]
    assert ours.keys() == theirs.keys()
    for key in ours:
        a, b = ours[key], theirs[key]
        if isinstance(a, torch.Tensor):
            assert isinstance(b, torch.Tensor), key
            assert a.shape == b.shape, (key, a.shape, b.shape)
            tol = (0.0, 0.0) if key in exact else (rtol, atol)
            torch.testing.assert_close(
                a.detach(), b.detach().to(a.dtype), rtol=tol[0], atol=tol[1], msg=key
            )
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=rtol, abs=atol), key
        else:
            assert a == b, key
