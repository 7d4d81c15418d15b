"""Build a spikeforge network from a NIR graph (``nir`` is imported when called).

Every neuron is built with ``init_hidden=True``, so the result is called once per time step,
``net(x_t)`` (or once per sequence ``net(x_seq [T, B, ...])`` when the exported network used
``step_mode="multi"``, which is restored), and keeps its own state
(``spikeforge.convert.reset_neurons(net)`` or each neuron's ``reset_mem()`` starts again).
A graph whose nodes form one chain becomes an ``nn.Sequential``; any other graph (branches,
sums, recurrences) becomes a :class:`~spikeforge.nir.modules.NIRGraphModule`.

Neurons that spikeforge exported carry their exact parameters in ``metadata`` and are rebuilt
from it (same class, ``β``, ``α``, threshold, reset mechanism, ``reset_delay``, ``output``),
so a round trip is exact. Other neurons are read by the NIR equations, discretised with
forward Euler at step ``dt`` (given, else ``graph.metadata["spikeforge.dt"]``, else 1e-4):

* ``LIF(τ, r, v_leak=0, θ, v_reset=0)`` → ``Leaky(β = 1 − dt/τ)`` after an input gain
  ``r·dt/τ`` (a :class:`Scale`, left out when it is 1);
* ``IF(r, θ, v_reset=0)`` → ``IAF`` after a gain ``r`` (``v_t = v_{t-1} + r I_t``);
* ``CubaLIF(τ_syn, τ_mem, r, v_leak=0, θ, v_reset=0, w_in)`` → ``Synaptic(α = 1 − dt/τ_syn,
  β = 1 − dt/τ_mem)`` after a gain ``w_in·(dt/τ_syn)·r·(dt/τ_mem)``;
* a nested graph ``{Input, LIF|CubaLIF, Affine|Linear|Scale|Conv2d, Output}`` with the
  neuron→weight→neuron loop → ``RLeaky`` / ``RSynaptic`` with those recurrent weights.

Non-spiking nodes become the small modules of :mod:`spikeforge.nir.modules` (their output is
the membrane ``v_t``) and ``Delay`` the learnable ``SynapticDelay``:

* ``LI(τ, r, v_leak=0)`` → ``LeakyIntegrator(β = 1 − dt/τ, gain = r·dt/τ)``;
* ``I(r)`` → ``Integrator(r)`` (``v_t = v_{t-1} + r I_t``, as ``IF``);
* ``CubaLI(τ_syn, τ_mem, r, v_leak=0, w_in)`` → ``SynapticIntegrator(α = 1 − dt/τ_syn,
  β = 1 − dt/τ_mem, gain = w_in·(dt/τ_syn)·r·(dt/τ_mem))``;
* ``Delay(τ)`` → ``SynapticDelay(delay = τ/dt)`` (``max_delay = ⌈max τ/dt⌉``, linear kernel):
  whole steps shift exactly, a fractional ``τ/dt`` interpolates between the two steps
  around it (see ``_delay``); spikeforge's own ``SynapticDelay`` comes back from metadata.

NIR resets to ``v_reset`` in the step of the spike, so these neurons get
``reset_mechanism="zero", reset_delay=False``. ``v_leak ≠ 0``, ``v_reset ≠ 0`` and
``dt > τ`` (a negative decay) have no spikeforge form and raise ``ValueError``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from . import modules as _nodes
from .modules import NIRGraphModule, Scale, SumPool2d, Threshold

__all__ = ["import_from_nir"]

_DEFAULT_DT = 1e-4
_PARAMS = ("beta", "alpha", "threshold", "graded_spikes_factor", "V")
_FLAGS = ("reset_mechanism", "reset_delay", "output", "all_to_all", "step_mode")
_SIZES = ("linear_features", "conv2d_channels", "kernel_size")


def _tensor(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value), dtype=torch.float32)


def _meta_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (float, np.floating)) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "f"
    ):
        return torch.as_tensor(np.asarray(value, dtype=np.float32).copy())
    if isinstance(value, np.ndarray) and value.size > 1:
        return tuple(int(v) for v in value.reshape(-1))
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, np.ndarray)):
        return int(np.asarray(value).reshape(-1)[0])
    return value


def _from_metadata(meta: dict[str, Any]) -> nn.Module:
    """Rebuild a neuron that spikeforge exported, with its exact parameters."""
    from .. import neurons

    name = _meta_value(meta["spikeforge.class"])
    cls = getattr(neurons, name, None)
    if cls is None:
        raise ValueError(f"import_from_nir: unknown spikeforge neuron class {name!r}")
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: _meta_value(meta[k]) for k in (*_PARAMS, *_FLAGS, *_SIZES) if k in meta}
    late = {k: kwargs.pop(k) for k in ("step_mode",) if k in kwargs and k not in accepted}
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    module = cls(**kwargs, init_hidden=True)
    for key, value in late.items():  # a property on the base class, not a constructor argument
        setattr(module, key, value)
    return module


def _check_standard(node, name: str, dt: float, taus: tuple[str, ...]) -> None:
    for field in ("v_leak", "v_reset"):
        value = getattr(node, field, None)
        if value is not None and np.any(np.asarray(value) != 0):
            raise ValueError(
                f"import_from_nir: node {name!r} has {field} ≠ 0, which spikeforge neurons "
                f"cannot represent; got {np.asarray(value).tolist()}"
            )
    for field in taus:
        tau = np.asarray(getattr(node, field))
        if np.any(tau < dt):
            raise ValueError(
                f"import_from_nir: node {name!r} has {field} < dt = {dt} (decay 1 − dt/τ "
                f"would be negative); import with a smaller dt"
            )


def _with_gain(gain: np.ndarray, neuron: nn.Module) -> nn.Module:
    if np.all(gain == 1):
        return neuron
    return nn.Sequential(Scale(_tensor(gain)), neuron)


def _standard_neuron(node, name: str, dt: float) -> nn.Module:
    import nir

    from ..neurons import IAF, Leaky, Synaptic

    flags = {"reset_mechanism": "zero", "reset_delay": False, "init_hidden": True}
    if isinstance(node, nir.IF):
        _check_standard(node, name, dt, ())
        return _with_gain(np.asarray(node.r), IAF(threshold=_tensor(node.v_threshold), **flags))
    if isinstance(node, nir.LIF):
        _check_standard(node, name, dt, ("tau",))
        beta = _tensor(1 - dt / np.asarray(node.tau))
        neuron = Leaky(beta=beta, threshold=_tensor(node.v_threshold), **flags)
        return _with_gain(np.asarray(node.r) * dt / np.asarray(node.tau), neuron)
    _check_standard(node, name, dt, ("tau_syn", "tau_mem"))
    tau_syn, tau_mem = np.asarray(node.tau_syn), np.asarray(node.tau_mem)
    neuron = Synaptic(
        alpha=_tensor(1 - dt / tau_syn),
        beta=_tensor(1 - dt / tau_mem),
        threshold=_tensor(node.v_threshold),
        **flags,
    )
    gain = np.asarray(node.w_in) * dt / tau_syn * np.asarray(node.r) * dt / tau_mem
    return _with_gain(gain, neuron)


def _neuron(node, name: str, dt: float) -> nn.Module:
    meta = getattr(node, "metadata", None) or {}
    if "spikeforge.class" in meta:
        return _from_metadata(meta)
    return _standard_neuron(node, name, dt)


def _readout(node, name: str, dt: float, lead: int = 1) -> nn.Module:
    """``LI``, ``I``, ``CubaLI`` as the matching module of ``nir.modules``, ``Delay`` as a
    ``SynapticDelay`` (rebuilt exactly from spikeforge's metadata when present)."""
    import nir

    meta = getattr(node, "metadata", None) or {}
    step_mode = _meta_value(meta.get("step_mode", "single"))
    cls_name = _meta_value(meta.get("spikeforge.class", ""))
    if cls_name in ("LeakyIntegrator", "SynapticIntegrator"):
        cls = getattr(_nodes, cls_name)
        names = ("alpha", "beta", "gain") if cls_name == "SynapticIntegrator" else ("beta", "gain")
        return cls(*(_meta_value(meta[k]) for k in names), step_mode=step_mode)
    if isinstance(node, nir.Delay):
        return _delay(node, name, dt, lead, step_mode)
    if isinstance(node, nir.I):
        return _nodes.Integrator(_tensor(node.r), step_mode=step_mode)
    if isinstance(node, nir.LI):
        _check_standard(node, name, dt, ("tau",))
        tau = np.asarray(node.tau)
        gain = np.asarray(node.r) * dt / tau
        return _nodes.LeakyIntegrator(_tensor(1 - dt / tau), _tensor(gain), step_mode=step_mode)
    _check_standard(node, name, dt, ("tau_syn", "tau_mem"))
    tau_syn, tau_mem = np.asarray(node.tau_syn), np.asarray(node.tau_mem)
    gain = np.asarray(node.w_in) * dt / tau_syn * np.asarray(node.r) * dt / tau_mem
    return _nodes.SynapticIntegrator(
        _tensor(1 - dt / tau_syn), _tensor(1 - dt / tau_mem), _tensor(gain), step_mode=step_mode
    )


def _delay_from_metadata(meta: dict[str, Any]) -> nn.Module:
    """The exported ``SynapticDelay`` with its exact parameters (delay values and dtype)."""
    from ..neurons import SynapticDelay

    delay = torch.as_tensor(np.array(meta["delay"]))  # written as a 1-d array, dtype kept
    if not _meta_value(meta["delay_per_channel"]):
        delay = delay.reshape(())
    channels = _meta_value(meta["channels"]) if "channels" in meta else None
    return SynapticDelay(
        _meta_value(meta["max_delay"]), delay, channels=channels,
        learn_delay=_meta_value(meta["learn_delay"]), kernel=_meta_value(meta["kernel"]),
        sigma=float(np.asarray(meta["sigma"])), step_mode=_meta_value(meta["step_mode"]),
    )  # fmt: skip


def _delay(node, name: str, dt: float, lead: int, step_mode: str) -> nn.Module:
    """NIR ``Delay(τ)`` (``y(t) = x(t − τ)``) as a ``SynapticDelay`` of ``d = τ/dt`` steps.

    A whole ``d`` (up to float noise, 1e-6 relative) is an exact shift; a fractional one is
    kept (linear kernel: ``y_t = (1 − f) x_{t−⌊d⌋} + f x_{t−⌊d⌋−1}``, ``f = d − ⌊d⌋``), which
    samples ``x(t − τ)`` linearly between steps and keeps a spike's count and mean time.
    Delays that are equal, or vary along the last axis only, map to one delay or one per
    channel; any other per-neuron pattern runs on the neurons flattened.
    """
    from ..neurons import SynapticDelay

    meta = getattr(node, "metadata", None) or {}
    if _meta_value(meta.get("spikeforge.class", "")) == "SynapticDelay":
        return _delay_from_metadata(meta)
    tau = np.asarray(node.delay, dtype=np.float64)
    steps = tau / dt
    if not np.all(np.isfinite(steps)) or np.any(steps < 0):
        raise ValueError(
            f"import_from_nir: node {name!r} needs finite delays >= 0, got {tau.tolist()}"
        )
    whole = np.rint(steps)
    steps = np.where(np.abs(steps - whole) <= 1e-6 * np.maximum(1.0, whole), whole, steps)
    max_delay = max(1, int(np.ceil(steps.max()))) if steps.size else 1
    shape = steps.shape
    if steps.size == 0 or np.all(steps == steps.reshape(-1)[0]):
        value = float(steps.reshape(-1)[0]) if steps.size else 0.0
        return SynapticDelay(max_delay, value, step_mode=step_mode)
    if steps.ndim == 1 or np.all(steps == steps[(0,) * (steps.ndim - 1)]):
        per_channel = _tensor(steps[(0,) * (steps.ndim - 1)])
        return SynapticDelay(max_delay, per_channel, channels=shape[-1], step_mode=step_mode)
    flat = SynapticDelay(max_delay, _tensor(steps.reshape(-1)), channels=steps.size,
                         step_mode=step_mode)  # fmt: skip
    return nn.Sequential(nn.Flatten(lead), flat, nn.Unflatten(lead, shape))


def _pool_args(node) -> tuple:
    return tuple(tuple(int(v) for v in np.broadcast_to(np.asarray(a), (2,))) for a in (
        node.kernel_size, node.stride, node.padding))  # fmt: skip


def _conv(node, two_d: bool) -> nn.Module:
    weight = _tensor(node.weight)
    cls = nn.Conv2d if two_d else nn.Conv1d
    padding = node.padding if isinstance(node.padding, str) else _ints(node.padding, two_d)
    conv = cls(
        weight.shape[1] * int(node.groups), weight.shape[0], tuple(weight.shape[2:]),
        stride=_ints(node.stride, two_d), padding=padding, dilation=_ints(node.dilation, two_d),
        groups=int(node.groups), bias=True,
    )  # fmt: skip
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(_tensor(node.bias))
    return conv


def _ints(value: Any, two_d: bool):
    array = np.asarray(value).reshape(-1)
    if two_d:
        return tuple(int(v) for v in np.broadcast_to(array, (2,)))
    return int(array[0])


def _linear(weight: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    w = _tensor(weight)
    layer = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(w)
        if bias is not None:
            layer.bias.copy_(_tensor(bias))
    return layer


def _recurrent(graph, name: str, dt: float) -> nn.Module | None:
    """A nested graph ``input → cell ⇄ w_rec, cell → output`` as RLeaky/RSynaptic, else None."""
    import nir

    from ..neurons import RLeaky, RSynaptic

    kinds = {k: v for k, v in graph.nodes.items() if not isinstance(v, (nir.Input, nir.Output))}
    cells = [k for k, v in kinds.items() if isinstance(v, (nir.LIF, nir.CubaLIF))]
    if len(kinds) != 2 or len(cells) != 1:
        return None
    cell_name = cells[0]
    rec_name = next(k for k in kinds if k != cell_name)
    edges = {tuple(e) for e in graph.edges}
    if not {(cell_name, rec_name), (rec_name, cell_name)} <= edges:
        return None
    cell, rec = graph.nodes[cell_name], graph.nodes[rec_name]
    meta = dict(getattr(cell, "metadata", None) or {})
    if "spikeforge.class" in meta:
        module = _from_metadata(meta)
    else:
        plain = _standard_neuron(cell, f"{name}.{cell_name}", dt)
        neuron = plain[-1] if isinstance(plain, nn.Sequential) else plain
        if isinstance(plain, nn.Sequential):
            raise ValueError(
                f"import_from_nir: recurrent node {name!r} needs unit input gain "
                "(r·dt/τ = 1) to become an RLeaky/RSynaptic"
            )
        cls = RSynaptic if isinstance(cell, nir.CubaLIF) else RLeaky
        kwargs = {"beta": neuron.beta, "threshold": neuron.threshold}
        if cls is RSynaptic:
            kwargs["alpha"] = neuron.alpha
        kwargs.update(_recurrence_kwargs(rec, name))
        module = cls(**kwargs, reset_mechanism="zero", reset_delay=False, init_hidden=True)
    _load_recurrent_weights(module, rec, name)
    return module


def _recurrence_kwargs(rec, name: str) -> dict[str, Any]:
    import nir

    if isinstance(rec, nir.Scale):
        return {"all_to_all": False, "V": _tensor(rec.scale)}
    if isinstance(rec, (nir.Affine, nir.Linear)):
        return {"all_to_all": True, "linear_features": int(np.asarray(rec.weight).shape[0])}
    if isinstance(rec, nir.Conv2d):
        weight = np.asarray(rec.weight)
        return {"conv2d_channels": int(weight.shape[0]), "kernel_size": tuple(weight.shape[2:])}
    raise ValueError(f"import_from_nir: recurrent weights of {name!r} are a {type(rec).__name__}")


def _load_recurrent_weights(module: nn.Module, rec, name: str) -> None:
    import nir

    if isinstance(rec, nir.Scale):
        return  # V came through the constructor
    with torch.no_grad():
        module.recurrent.weight.copy_(_tensor(rec.weight))
        if getattr(module.recurrent, "bias", None) is not None:
            bias = getattr(rec, "bias", None)
            module.recurrent.bias.copy_(_tensor(bias) if bias is not None else 0.0)


def _module_for(node, name: str, dt: float, lead: int = 1) -> nn.Module:
    import nir

    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
        return _neuron(node, name, dt)
    if isinstance(node, (nir.LI, nir.I, nir.CubaLI, nir.Delay)):
        return _readout(node, name, dt, lead)
    if isinstance(node, nir.Affine):
        return _linear(node.weight, node.bias)
    if isinstance(node, nir.Linear):
        return _linear(node.weight, None)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return _conv(node, isinstance(node, nir.Conv2d))
    if isinstance(node, nir.Flatten):
        end = int(node.end_dim)
        return nn.Flatten(int(node.start_dim) + lead, end + lead if end >= 0 else end)
    if isinstance(node, nir.AvgPool2d):
        return nn.AvgPool2d(*_pool_args(node))
    if isinstance(node, nir.SumPool2d):
        return SumPool2d(*_pool_args(node))
    if isinstance(node, nir.Scale):
        return Scale(_tensor(node.scale))
    if isinstance(node, nir.Threshold):
        return Threshold(_tensor(node.threshold))
    if isinstance(node, nir.NIRGraph):
        recurrent = _recurrent(node, name, dt)
        return recurrent if recurrent is not None else _graph_module(node, dt, lead)
    raise TypeError(
        f"import_from_nir: node {name!r} is a {type(node).__name__}, which spikeforge cannot "
        "import (supported: Affine, Linear, Conv1d, Conv2d, Flatten, AvgPool2d, SumPool2d, "
        "Scale, Threshold, IF, LIF, CubaLIF, LI, I, CubaLI, Delay and nested graphs)"
    )


def _endpoint(graph, kind: type, role: str) -> str:
    names = [k for k, v in graph.nodes.items() if isinstance(v, kind)]
    if len(names) != 1:
        raise ValueError(f"import_from_nir: a graph needs exactly one {role} node, got {names}")
    return names[0]


def _chain(graph, start: str, end: str) -> list[str] | None:
    """The node names from ``start`` to ``end`` if the graph is one unbranched chain."""
    outgoing: dict[str, list[str]] = {}
    incoming: dict[str, int] = {}
    for src, dst in graph.edges:
        outgoing.setdefault(src, []).append(dst)
        incoming[dst] = incoming.get(dst, 0) + 1
    order, node = [], start
    while node != end:
        nxt = outgoing.get(node, [])
        if len(nxt) != 1 or incoming.get(nxt[0], 0) != 1 or nxt[0] in order:
            return None
        node = nxt[0]
        order.append(node)
    return order[:-1] if len(order) + 1 == len(graph.nodes) else None


def _graph_module(graph, dt: float, lead: int = 1) -> nn.Module:
    import nir

    start = _endpoint(graph, nir.Input, "Input")
    end = _endpoint(graph, nir.Output, "Output")
    chain = _chain(graph, start, end)
    if chain is not None:
        return nn.Sequential(*(_module_for(graph.nodes[n], n, dt, lead) for n in chain))
    modules = {
        name: _module_for(node, name, dt, lead)
        for name, node in graph.nodes.items()
        if name not in (start, end)
    }
    return NIRGraphModule(modules, list(graph.edges), start, end)


def import_from_nir(graph, dt: float | None = None) -> nn.Module:
    """A spikeforge module that runs ``graph`` one time step per call (see module docstring).

    ``graph`` is a ``nir.NIRGraph`` or a path to a ``.nir`` file. Example::

        >>> import torch, spikeforge as snn
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), snn.Leaky(0.9, init_hidden=True))
        >>> again = snn.import_from_nir(snn.export_to_nir(net, torch.zeros(1, 3)))
        >>> [type(m).__name__ for m in again]
        ['Linear', 'Leaky']
    """
    import nir

    if isinstance(graph, (str, bytes)) or hasattr(graph, "__fspath__"):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path, got {type(graph).__name__}")
    if dt is None:
        dt = float((graph.metadata or {}).get("spikeforge.dt", _DEFAULT_DT))
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    multi = (graph.metadata or {}).get("spikeforge.step_mode") == "multi"
    return _graph_module(graph, dt, lead=2 if multi else 1)
