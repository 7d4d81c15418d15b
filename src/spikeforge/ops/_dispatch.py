"""Backend registry: which implementation of a recurrence runs, and why.

Backends:
    ``reference`` the pure-PyTorch oracle (always available, runs everything);
    ``cpu``       the fused numba kernel (CPU tensors, float32/float64);
    ``triton``    the fused Triton kernel (CUDA tensors; CPU under ``TRITON_INTERPRET=1``);
    ``torch``     the fused op's torch implementation (any device, same hand-written backward).

``backend="auto"`` (the default) takes ``SPIKEFORGE_BACKEND`` from the environment if set,
otherwise the fastest backend that supports the device, dtype and configuration. A backend
named explicitly (argument or environment) that cannot run raises; it is never swapped.
While a model is being exported (``torch.onnx.export``, ``torch.export``, ``torch.jit.trace``)
``auto`` takes the reference: its plain torch ops are what an exported graph can hold; a
named fused backend raises under the JIT tracer (it would be traced as constants).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..surrogate import Surrogate

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "FUSED_SURROGATES",
    "BackendSpec",
    "exporting",
    "register",
    "select_backend",
    "unfusable_reason",
]

ENV_VAR = "SPIKEFORGE_BACKEND"
BACKENDS = ("auto", "reference", "cpu", "triton", "torch")

# Surrogate kinds the fused kernels implement (the random SSO and user callables are not).
FUSED_SURROGATES = (
    "atan",
    "fast_sigmoid",
    "sigmoid",
    "straight_through",
    "triangular",
    "heaviside",
    "spike_rate_escape",
    "lso",
    "sfs",
    "disabled",
)


@dataclass(frozen=True)
class BackendSpec:
    """``available()``: the backend's tools are installed; ``why_not(device, dtype)``: None
    if it runs tensors of that device and dtype, else the reason it cannot."""

    name: str
    priority: int
    available: Callable[[], bool]
    why_not: Callable[[torch.device, torch.dtype], str | None]


_REGISTRY: dict[str, dict[str, BackendSpec]] = {}


def register(op: str, spec: BackendSpec) -> None:
    """Make backend ``spec`` available to recurrence ``op``."""
    _REGISTRY.setdefault(op, {})[spec.name] = spec


def check_backend_name(backend: str) -> str:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def unfusable_reason(spike_fn: object, state_quant: object, inhibition: bool) -> str | None:
    """Why a neuron configuration needs the reference, or None if kernels can run it."""
    if state_quant is not None:
        return "state_quant is set"
    if inhibition:
        return "inhibition=True"
    if not isinstance(spike_fn, Surrogate):
        return f"the surrogate {spike_fn!r} is a user callable"
    if spike_fn.kind not in FUSED_SURROGATES:
        return f"the surrogate {type(spike_fn).__name__} has no kernel"
    return None


def exporting() -> bool:
    """True while a model is traced for export: ``torch.export`` (and the dynamo ONNX
    exporter, which runs it), the TorchScript ONNX exporter and ``torch.jit.trace`` (both
    trace with the JIT tracer). Fused kernels (numba, Triton, custom ops) cannot enter such
    a graph; the reference's torch ops can. (``torch.onnx.is_in_onnx_export()`` says
    nothing more here and costs ~2 µs a call, too much for the step lane's every step.)"""
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def _requested(backend: str) -> str:
    check_backend_name(backend)
    if backend != "auto":
        return backend
    env = os.environ.get(ENV_VAR, "auto") or "auto"
    if env not in BACKENDS:
        raise ValueError(f"{ENV_VAR} must be one of {BACKENDS}, got {env!r}")
    return env


def select_backend(
    op: str,
    backend: str,
    device: torch.device,
    dtype: torch.dtype,
    reason: str | None,
    small_step: bool = False,
) -> str:
    """The backend that runs ``op`` for these tensors; raises if a named one cannot.

    ``reason`` is ``unfusable_reason(...)`` for the neuron's configuration. ``small_step``
    (one step of a small CPU layer) makes ``auto`` take the reference: a handful of torch
    ops beat a custom op's fixed dispatch cost there.
    """
    requested = _requested(backend)
    specs = _REGISTRY.get(op, {})
    if requested == "reference":
        return "reference"
    if requested == "auto":
        if reason is not None or (small_step and device.type == "cpu") or exporting():
            return "reference"
        for spec in sorted(specs.values(), key=lambda s: -s.priority):
            if spec.available() and spec.why_not(device, dtype) is None:
                return spec.name
        return "reference"
    if torch.jit.is_tracing():
        raise ValueError(
            f"{op}: backend={requested!r} cannot be traced by torch.jit.trace or the "
            "TorchScript ONNX exporter (its kernel would enter the graph as constants); "
            "use backend='auto' (or 'reference') to export"
        )
    spec = specs.get(requested)
    if spec is None:
        raise ValueError(f"{op}: no {requested!r} backend is registered (have {sorted(specs)})")
    if reason is not None:
        raise ValueError(
            f"{op}: backend={requested!r} cannot run this neuron because {reason}; "
            "use backend='reference' (or 'auto')"
        )
    if not spec.available():
        raise RuntimeError(f"{op}: backend={requested!r} is not available (is it installed?)")
    why = spec.why_not(device, dtype)
    if why is not None:
        raise ValueError(f"{op}: backend={requested!r} cannot run here: {why}")
    return requested


# -- availability of the shared tools ---------------------------------------------------


_INSTALLED: dict[str, bool] = {}


def _installed(module: str) -> bool:
    """``module`` can be imported; looked up once (``find_spec`` costs ~4 µs a call). A plain
    dict rather than ``functools.cache``, which ``torch.compile`` warns about when tracing."""
    if module not in _INSTALLED:
        _INSTALLED[module] = importlib.util.find_spec(module) is not None
    return _INSTALLED[module]


def numba_available() -> bool:
    return _installed("numba")


def triton_interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_available() -> bool:
    return _installed("triton")


def cpu_why_not(device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type != "cpu":
        return f"the numba kernel runs CPU tensors, got {device.type}"
    if dtype not in (torch.float32, torch.float64):
        return f"the numba kernel runs float32/float64, got {dtype}"
    return None


def triton_why_not(device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type == "cpu" and not triton_interpreting():
        return "Triton runs CUDA tensors (set TRITON_INTERPRET=1 to interpret it on CPU)"
    if device.type not in ("cpu", "cuda"):
        return f"Triton runs CUDA tensors, got {device.type}"
    if dtype not in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        return f"the Triton kernel runs floating dtypes, got {dtype}"
    return None


def torch_why_not(device: torch.device, dtype: torch.dtype) -> str | None:
    if not dtype.is_floating_point:
        return f"needs a floating dtype, got {dtype}"
    return None


def register_standard_backends(op: str) -> None:
    """Register ``cpu`` (numba), ``triton`` and ``torch`` for ``op``."""
    register(op, BackendSpec("cpu", 30, numba_available, cpu_why_not))
    register(
        op,
        BackendSpec(
            "triton",
            # Interpreted Triton is slow: auto picks it only on a GPU.
            20,
            triton_available,
            triton_why_not,
        ),
    )
    register(op, BackendSpec("torch", 10, lambda: True, torch_why_not))
