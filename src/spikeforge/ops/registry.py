"""The one place that decides which implementation of a recurrence runs, and why.

Backends:
    ``reference`` the pure-PyTorch oracle (always available, runs everything);
    ``cpu``       the fused numba kernel (CPU tensors, float32/float64);
    ``triton``    the fused Triton kernel (CUDA tensors; CPU under ``TRITON_INTERPRET=1``);
    ``torch``     the fused op's torch implementation (any device, same hand-written backward).

Each fused op registers its kernels here (``Kernel``: forward, backward, available,
why-not, and optionally a single-step fast path); each recurrence registers its two paths
with one signature (``Recurrence``: the reference and the fused ``step``/``scan``).
``select`` is the only function that picks: ``backend="auto"`` (the default) takes
``SPIKEFORGE_BACKEND`` from the environment if set, otherwise the reference while a model is
being exported (ONNX, ``torch.export``, ``torch.jit.trace``: plain torch ops), otherwise the
fastest kernel that supports the device, dtype and configuration. A backend named
explicitly (argument or environment) that cannot run raises; it is never swapped (under the
JIT tracer it raises: its kernel would enter the traced graph as constants).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from ..surrogate import Surrogate
from .codes import FUSED_SURROGATES, SURROGATE_IDS, surrogate_constants, surrogate_from

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "FunctionRecurrence",
    "Kernel",
    "Recurrence",
    "check_backend_name",
    "exporting",
    "fast_step",
    "kernel",
    "kernels",
    "register",
    "register_like",
    "register_standard_kernels",
    "select",
    "unfusable_reason",
]

ENV_VAR = "SPIKEFORGE_BACKEND"
BACKENDS = ("auto", "reference", "cpu", "triton", "torch")

# forward(ins, flags, outs) fills ``outs``; backward(ins, surrogate, sg_params, flags, outs)
# fills the gradient buffers ``outs``. ``ins``/``outs`` are tensors in the op's order.
KernelForward = Callable[[Sequence[Tensor], tuple, Sequence[Tensor]], None]
KernelBackward = Callable[[Sequence[Tensor], str, tuple, tuple, Sequence[Tensor]], None]


@dataclass(frozen=True)
class Kernel:
    """One backend of one fused op.

    ``available()``: its tools are installed; ``why_not(device, dtype)``: None if it runs
    tensors of that device and dtype, else the reason it cannot; ``forward``/``backward``:
    the kernels, called by the op's body; ``step``: an optional single-step fast path (an
    object with ``plan_key``, ``plan_step`` and ``run``, see ``leaky.step_cpu``).
    """

    backend: str
    priority: int
    available: Callable[[], bool]
    why_not: Callable[[torch.device, torch.dtype], str | None]
    forward: KernelForward | None = None
    backward: KernelBackward | None = None
    step: Any = None


_KERNELS: dict[str, dict[str, Kernel]] = {}
_FAST_STEPS: dict[str, Any] = {}  # op -> the fast path one of its kernels has


def register(op: str, spec: Kernel) -> None:
    """Make kernel ``spec`` available to recurrence ``op``."""
    _KERNELS.setdefault(op, {})[spec.backend] = spec
    if spec.step is not None:
        _FAST_STEPS[op] = spec.step


def kernels(op: str) -> dict[str, Kernel]:
    """Every kernel registered for ``op``, by backend name."""
    return dict(_KERNELS.get(op, {}))


def kernel(op: str, backend: str) -> Kernel:
    """The kernel registered for ``op`` under ``backend`` (a name ``select`` returned)."""
    return _KERNELS[op][backend]


def fast_step(op: str, backend: str | None = None) -> Any:
    """The single-step fast path of ``op``'s ``backend`` kernel (None for the reference or a
    kernel without one); with no ``backend``, the fast path any of ``op``'s kernels has."""
    if backend is None:
        return _FAST_STEPS.get(op)
    spec = _KERNELS.get(op, {}).get(backend)
    return None if spec is None else spec.step


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
    nothing more here and costs ~2 µs a call, too much for a single step's fast path.)"""
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def _requested(backend: str) -> str:
    check_backend_name(backend)
    if backend != "auto":
        return backend
    env = os.environ.get(ENV_VAR, "auto") or "auto"
    if env not in BACKENDS:
        raise ValueError(f"{ENV_VAR} must be one of {BACKENDS}, got {env!r}")
    return env


def select(
    op: str,
    backend: str,
    device: torch.device,
    dtype: torch.dtype,
    reason: str | None,
    small_step: bool = False,
) -> str:
    """The backend that runs ``op`` for these tensors; raises if a named one cannot.

    ``reason`` is ``unfusable_reason(...)`` (plus the neuron's own limits) for the
    configuration. ``small_step`` (one step of a small CPU layer with no fast path) makes
    ``auto`` take the reference: a handful of torch ops beat a custom op's fixed dispatch
    cost there.
    """
    requested = _requested(backend)
    specs = _KERNELS.get(op, {})
    if requested == "reference":
        return "reference"
    if requested == "auto":
        if reason is not None or (small_step and device.type == "cpu") or exporting():
            return "reference"
        for spec in sorted(specs.values(), key=lambda s: -s.priority):
            if spec.available() and spec.why_not(device, dtype) is None:
                return spec.backend
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


# -- the two paths of a recurrence ---------------------------------------------------------

StepFn = Callable[..., tuple[Tensor, tuple[Tensor, ...]]]
ScanFn = Callable[..., tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...]]]


class Recurrence:
    """A recurrence's two paths behind one signature each:

    ``step(x, state, params, cfg, backend) -> (spk, new_state)`` and
    ``scan(x_seq, state, params, cfg, backend, need_seqs) -> (spk_seq, state sequences or
    None, final state)``; ``state`` is a tuple of tensors, ``params`` the neuron's tensors
    in the recurrence's order, ``backend`` what ``select`` returned for ``op``: the
    reference for ``"reference"``, the fused op otherwise.
    """

    op: str

    def step(self, x: Tensor, state: tuple, params: tuple, cfg: Any, backend: str):
        raise NotImplementedError

    def scan(self, x: Tensor, state: tuple, params: tuple, cfg: Any, backend: str, need_seqs: bool):
        raise NotImplementedError


@dataclass(frozen=True)
class FunctionRecurrence(Recurrence):
    """A ``Recurrence`` from four functions with those signatures (plus ``need_seqs``)."""

    op: str
    reference_step: StepFn
    reference_scan: ScanFn
    fused_step: StepFn
    fused_scan: ScanFn

    def step(self, x: Tensor, state: tuple, params: tuple, cfg: Any, backend: str):
        run = self.reference_step if backend == "reference" else self.fused_step
        return run(x, state, params, cfg, backend)

    def scan(self, x: Tensor, state: tuple, params: tuple, cfg: Any, backend: str, need_seqs: bool):
        run = self.reference_scan if backend == "reference" else self.fused_scan
        return run(x, state, params, cfg, backend, need_seqs)


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


def triton_available() -> bool:
    return _installed("triton")


def cpu_why_not(device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type != "cpu":
        return f"the numba kernel runs CPU tensors, got {device.type}"
    if dtype not in (torch.float32, torch.float64):
        return f"the numba kernel runs float32/float64, got {dtype}"
    return None


def triton_why_not(device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET", "0") != "1":
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


# -- the standard kernels of a family: <package>.cpu, .triton, .fallback -------------------


def _module(name: str) -> ModuleType:
    """An already imported module without ``import_module``'s overhead."""
    module = sys.modules.get(name)
    return module if module is not None else importlib.import_module(name)


def _numba_kernels(package: str, fwd: str, bwd: str) -> tuple[KernelForward, KernelBackward]:
    """``<package>.cpu``'s ``fwd(*ins, consts, *flags, *outs)`` and
    ``bwd(*ins, consts, surrogate_id, *flags, *outs)`` on numpy views of the tensors."""
    name = f"{package}.cpu"

    def forward(ins, flags, outs):
        arrays = [t.detach().numpy() for t in ins]
        consts = surrogate_constants("disabled", (), arrays[0].dtype)
        outs_np = [o.detach().numpy() for o in outs]
        getattr(_module(name), fwd)(*arrays, consts, *flags, *outs_np)

    def backward(ins, surrogate, sg_params, flags, outs):
        arrays = [t.detach().numpy() for t in ins]
        outs_np = [o.detach().numpy() for o in outs]
        consts = surrogate_constants(surrogate, sg_params, outs_np[0].dtype)
        run = getattr(_module(name), bwd)
        run(*arrays, consts, SURROGATE_IDS[surrogate], *flags, *outs_np)

    return forward, backward


def _triton_kernels(package: str) -> tuple[KernelForward, KernelBackward]:
    """``<package>.triton``'s ``forward(*ins, *flags, *outs)`` and
    ``backward(*ins, surrogate, sg_params, *flags, *outs)``."""
    name = f"{package}.triton"

    def forward(ins, flags, outs):
        _module(name).forward(*ins, *flags, *outs)

    def backward(ins, surrogate, sg_params, flags, outs):
        _module(name).backward(*ins, surrogate, sg_params, *flags, *outs)

    return forward, backward


def _torch_kernels(package: str) -> tuple[KernelForward, KernelBackward]:
    """``<package>.fallback``'s ``forward(*ins, *flags, *outs)`` and
    ``backward(*ins, spike_fn, *flags, *outs)``, run without autograd."""
    name = f"{package}.fallback"

    def forward(ins, flags, outs):
        with torch.no_grad():
            _module(name).forward(*ins, *flags, *outs)

    def backward(ins, surrogate, sg_params, flags, outs):
        spike = surrogate_from(surrogate, sg_params)
        with torch.no_grad():
            _module(name).backward(*ins, spike, *flags, *outs)

    return forward, backward


def register_standard_kernels(
    op: str, package: str, numba_forward: str, numba_backward: str, cpu_step: Any = None
) -> None:
    """Register ``cpu`` (numba), ``triton`` and ``torch`` for ``op`` from the modules
    ``cpu``, ``triton`` and ``fallback`` of ``package`` (imported on first use)."""
    fwd, bwd = _numba_kernels(package, numba_forward, numba_backward)
    register(op, Kernel("cpu", 30, numba_available, cpu_why_not, fwd, bwd, cpu_step))
    # Interpreted Triton is slow: auto picks it only on a GPU.
    fwd, bwd = _triton_kernels(package)
    register(op, Kernel("triton", 20, triton_available, triton_why_not, fwd, bwd))
    fwd, bwd = _torch_kernels(package)
    register(op, Kernel("torch", 10, lambda: True, torch_why_not, fwd, bwd))


def register_like(op: str, source: str) -> None:
    """Give ``op`` the kernels of ``source`` (an op that runs on another's kernels), without
    their single-step fast path (which reads ``source``'s parameters)."""
    for spec in _KERNELS[source].values():
        register(op, replace(spec, step=None))
