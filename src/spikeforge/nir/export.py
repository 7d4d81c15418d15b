"""Export a spikeforge network to a NIR graph (``nir`` is imported when called).

Discretisation. NIR neurons are continuous-time; spikeforge steps with ``dt`` (default
``1e-4`` s, snnTorch's choice, stored as ``graph.metadata["spikeforge.dt"]``). With forward
Euler, NIR's ``τ v̇ = (v_leak − v) + R I`` becomes ``v_t = (1 − dt/τ) v_{t-1} + (R dt/τ) I_t``,
so a ``Leaky`` with decay ``β`` and unit input gain is written as

* ``Leaky``  → ``LIF(tau = dt/(1−β), r = tau/dt, v_leak = 0, v_threshold = θ, v_reset = 0)``
  (``β = 1`` is written as ``IF``, since ``τ`` would be infinite);
* ``IAF``    → ``IF(r = 1, v_threshold = θ, v_reset = 0)``; NIR's ``v̇ = R I`` is read per
  step as ``v_t = v_{t-1} + r I_t`` (as Sinabs and Norse read it);
* ``Synaptic`` → ``CubaLIF(tau_syn = dt/(1−α), tau_mem = dt/(1−β), r = tau_mem/dt,
  w_in = tau_syn/dt, v_leak = 0, v_threshold = θ, v_reset = 0)``;
* ``RLeaky`` / ``RSynaptic`` → a nested ``NIRGraph`` ``{input, lif, w_rec, output}`` with edges
  input→lif, lif→w_rec, w_rec→lif, lif→output; ``w_rec`` is ``Affine`` (dense),
  ``Conv2d`` (convolutional) or ``Scale(V)`` (``all_to_all=False``). The edge w_rec→lif is
  a recurrence, so it carries the previous step's spikes, as in ``U_t = … + rec(S_{t-1})``.
* the readouts of :mod:`spikeforge.nir.modules`: ``LeakyIntegrator`` → ``LI(tau =
  dt/(1−β), r = gain·tau/dt, v_leak = 0)`` (``I(r = gain)`` when ``β = 1``), ``Integrator`` →
  ``I``, ``SynapticIntegrator`` → ``CubaLI`` (as ``Synaptic`` → ``CubaLIF``, ``w_in`` carrying
  the gain); ``SynapticDelay`` → ``Delay(delay = d·dt)`` (``d`` per channel, fractional
  allowed), its exact parameters in ``metadata``.

Resets. NIR 1.0.x neurons only know a hard reset to ``v_reset`` in the step of the spike.
spikeforge's default subtract reset (``U −= θ`` one step after the spike) has no NIR field,
so ``v_reset = 0`` is written and each neuron node also carries ``metadata`` with the exact
spikeforge parameters (``spikeforge.class``, ``beta``, ``alpha``, ``threshold``,
``reset_mechanism``, ``reset_delay``, ``graded_spikes_factor``, ``output``, recurrence
options). :func:`spikeforge.import_from_nir` rebuilds the neuron from that metadata, which
makes the round trip exact; other tools read the standard fields.

Structure. ``nn.Sequential`` (nested ones too) is walked directly; any other module is
traced with ``torch.fx`` (neurons and NIR-mappable layers are leaves; ``+`` of two branches
becomes two edges into one node, as NIR sums a node's inputs; ``torch.flatten`` becomes
``Flatten``, ``F.avg_pool2d`` becomes ``AvgPool2d``). Shapes come from one run on
``sample_data`` (one time step, batch first);
the neurons' states are restored afterwards.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..neurons import SpikingNeuron, SynapticDelay
from .modules import Scale, SumPool2d, Threshold
from .modules import _StatefulNode as StatefulNode

__all__ = ["DEFAULT_DT", "export_to_nir"]

DEFAULT_DT = 1e-4
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Flatten, nn.AvgPool2d, SumPool2d, Scale, Threshold)


def _np(value: Tensor | float, shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = torch.as_tensor(value).detach().cpu().double().numpy()
    return np.broadcast_to(array, shape).copy() if shape is not None else array.copy()


def _neuron_metadata(module: SpikingNeuron) -> dict[str, Any]:
    meta: dict[str, Any] = {"spikeforge.class": type(module).__name__}
    for name in ("beta", "alpha", "threshold", "graded_spikes_factor", "V"):
        value = getattr(module, name, None)
        if isinstance(value, Tensor):
            if name in ("beta", "alpha"):  # learnable decays act clamped; store what acts
                value = value.clamp(0, 1)
            # nir.write compresses arrays, which h5py refuses for 0-d ones: store a float.
            array = value.detach().cpu().numpy().copy()
            meta[name] = float(array) if array.ndim == 0 else array
    meta["reset_mechanism"] = module.reset_mechanism
    if hasattr(module, "step_mode"):
        meta["step_mode"] = module.step_mode
    for name in ("reset_delay", "output", "all_to_all"):
        if hasattr(module, name):
            meta[name] = bool(getattr(module, name))
    for name in ("linear_features", "conv2d_channels"):
        if getattr(module, name, None) is not None:
            meta[name] = int(getattr(module, name))
    if getattr(module, "kernel_size", None) is not None:
        meta["kernel_size"] = np.array(module.kernel_size).reshape(-1)
    return meta


def _neuron_node(module: SpikingNeuron, shape: tuple[int, ...], dt: float):
    import nir

    from ..neurons import Leaky, RLeaky, RSynaptic, Synaptic

    meta = _neuron_metadata(module)
    thr = _np(module.threshold, shape)
    zeros = np.zeros(shape)
    if isinstance(module, (Synaptic, RSynaptic)):
        alpha = _np(module.alpha.clamp(0, 1), shape)
        beta = _np(module.beta.clamp(0, 1), shape)
        with np.errstate(divide="ignore"):
            tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)
        return nir.CubaLIF(
            tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=zeros, v_threshold=thr,
            v_reset=zeros.copy(), w_in=tau_syn / dt, metadata=meta,
        )  # fmt: skip
    if isinstance(module, (Leaky, RLeaky)):
        beta = _np(module.beta.clamp(0, 1), shape)
        if np.all(beta == 1):
            return nir.IF(r=np.ones(shape), v_threshold=thr, v_reset=zeros, metadata=meta)
        with np.errstate(divide="ignore"):
            tau = dt / (1 - beta)
        return nir.LIF(tau=tau, r=tau / dt, v_leak=zeros, v_threshold=thr, v_reset=zeros.copy(),
                       metadata=meta)  # fmt: skip
    raise TypeError(f"export_to_nir: no NIR mapping for neuron {type(module).__name__}")


def _recurrent_node(module: SpikingNeuron, shape: tuple[int, ...], dt: float):
    import nir

    cell = _neuron_node(module, shape, dt)
    if not module.all_to_all:
        rec = nir.Scale(scale=_np(module.V, shape))
    else:
        rec = _layer_node(module.recurrent, shape)
    nodes = {
        "input": nir.Input(input_type={"input": np.array(shape)}),
        "lif": cell,
        "w_rec": rec,
        "output": nir.Output(output_type={"output": np.array(shape)}),
    }
    edges = [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(cell.metadata))


def _readout_node(module: nn.Module, shape: tuple[int, ...], dt: float):
    """``LeakyIntegrator`` → ``LI`` (``I`` when ``β = 1``), ``Integrator`` → ``I``,
    ``SynapticIntegrator`` → ``CubaLI``; the decays and gains also go into ``metadata`` so
    that the import is exact (inverse of ``import_``)."""
    import nir

    from . import modules as nodes

    meta: dict[str, Any] = {"spikeforge.class": type(module).__name__}
    meta["step_mode"] = module.step_mode
    for name in ("alpha", "beta", "gain"):
        value = getattr(module, name, None)
        if isinstance(value, Tensor):
            array = value.detach().cpu().numpy().copy()
            meta[name] = float(array) if array.ndim == 0 else array
    zeros = np.zeros(shape)
    if isinstance(module, nodes.Integrator):
        return nir.I(r=_np(module.r, shape), metadata=meta)
    gain = _np(module.gain, shape)
    beta = _np(module.beta, shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_mem = dt / (1 - beta)
        if isinstance(module, nodes.SynapticIntegrator):
            tau_syn = dt / (1 - _np(module.alpha, shape))
            return nir.CubaLI(
                tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=zeros,
                w_in=gain * tau_syn / dt, metadata=meta,
            )  # fmt: skip
        if np.all(beta == 1):
            return nir.I(r=gain, metadata=meta)
        return nir.LI(tau=tau_mem, r=gain * tau_mem / dt, v_leak=zeros, metadata=meta)


def _delay_node(module: SynapticDelay, shape: tuple[int, ...], dt: float):
    """``SynapticDelay`` → ``Delay(τ = d·dt)`` per neuron, with ``d`` the delay that acts
    (clamped to ``[0, max_delay]``); ``metadata`` keeps every constructor argument, so the
    import is exact (a Gaussian kernel's smoothing has no NIR field: ``τ`` is its centre)."""
    import nir

    acting = module.delay.detach().clamp(0, module.max_delay)
    meta: dict[str, Any] = {
        "spikeforge.class": "SynapticDelay",
        "max_delay": module.max_delay,
        # 1-d, in the delay's own dtype (nir.write cannot compress 0-d arrays)
        "delay": acting.cpu().numpy().reshape(-1).copy(),
        "delay_per_channel": acting.dim() == 1,
        "learn_delay": bool(module.learn_delay),
        "kernel": module.kernel,
        "sigma": float(module.sigma),
        "step_mode": module.step_mode,
    }
    if module.channels is not None:
        meta["channels"] = module.channels
    return nir.Delay(delay=_np(acting, shape) * dt, metadata=meta)


def _pool_args(module: nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pair = nn.modules.utils._pair
    stride = module.stride if module.stride is not None else module.kernel_size
    return (
        np.array(pair(module.kernel_size)),
        np.array(pair(stride)),
        np.array(pair(module.padding)),
    )


def _layer_node(module: nn.Module, shape: tuple[int, ...], lead: int = 1):
    import nir

    if isinstance(module, nn.Linear):
        weight = _np(module.weight)
        if module.bias is None:
            return nir.Linear(weight=weight)
        return nir.Affine(weight=weight, bias=_np(module.bias))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"export_to_nir: NIR convolutions pad with zeros, got padding_mode="
                f"{module.padding_mode!r}"
            )
        bias = _np(module.bias) if module.bias is not None else np.zeros(module.out_channels)
        one = isinstance(module, nn.Conv1d)
        cls = nir.Conv1d if one else nir.Conv2d
        unpack = (lambda v: v[0]) if one else tuple
        padding = module.padding if isinstance(module.padding, str) else unpack(module.padding)
        return cls(
            input_shape=shape[-1] if one else tuple(shape[-2:]),
            weight=_np(module.weight), stride=unpack(module.stride), padding=padding,
            dilation=unpack(module.dilation), groups=module.groups, bias=bias,
        )  # fmt: skip
    if isinstance(module, nn.Flatten):
        return _flatten_node(shape, module.start_dim, module.end_dim, lead)
    if isinstance(module, nn.AvgPool2d):
        if module.ceil_mode or (module.padding and not module.count_include_pad):
            raise ValueError("export_to_nir: AvgPool2d needs ceil_mode=False, count_include_pad")
        return nir.AvgPool2d(*_pool_args(module))
    if isinstance(module, SumPool2d):
        return nir.SumPool2d(*_pool_args(module))
    if isinstance(module, Scale):
        return nir.Scale(scale=_np(module.scale, shape))
    if isinstance(module, Threshold):
        return nir.Threshold(threshold=_np(module.threshold, shape))
    raise TypeError(f"export_to_nir: no NIR mapping for {type(module).__name__}")


def _flatten_node(shape: tuple[int, ...], start_dim: int, end_dim: int, lead: int):
    """NIR shapes have no batch (or time) axis: torch's dim ``d ≥ lead`` is NIR's ``d − lead``."""
    import nir

    def shift(dim: int) -> int:
        if 0 <= dim < lead:
            raise ValueError("export_to_nir: flattening the batch or time axis has no NIR form")
        return dim - lead if dim > 0 else dim

    return nir.Flatten(
        input_type={"input": np.array(shape)}, start_dim=shift(start_dim), end_dim=shift(end_dim)
    )


def _node_for(module: nn.Module, shape: tuple[int, ...], dt: float, lead: int):
    if isinstance(module, StatefulNode):
        return _readout_node(module, shape, dt)
    if isinstance(module, SynapticDelay):
        return _delay_node(module, shape, dt)
    if isinstance(module, SpikingNeuron):
        if hasattr(module, "all_to_all"):
            return _recurrent_node(module, shape, dt)
        return _neuron_node(module, shape, dt)
    return _layer_node(module, shape, lead)


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, module: nn.Module, qualname: str) -> bool:
        if isinstance(module, (SpikingNeuron, StatefulNode, SynapticDelay, *_LAYERS)):
            return True
        return super().is_leaf_module(module, qualname)


def _functional_avg_pool(node: torch.fx.Node) -> nn.AvgPool2d:
    """The ``nn.AvgPool2d`` that a traced ``F.avg_pool2d(x, ...)`` call equals."""
    names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
             "divisor_override")  # fmt: skip
    kwargs = dict(zip(names, node.args[1:])) | dict(node.kwargs)
    if kwargs.get("divisor_override") is not None:
        raise ValueError("export_to_nir: avg_pool2d with divisor_override has no NIR form")
    kwargs.pop("divisor_override", None)
    if "kernel_size" not in kwargs:
        raise TypeError("export_to_nir: avg_pool2d needs a kernel_size")
    return nn.AvgPool2d(**kwargs)


def _snapshot(module: nn.Module) -> dict[str, Any]:
    """The attributes a run may change in a neuron, readout or delay, to put back after it
    (a copy of ``SynapticDelay``'s ring, which a step fills in place)."""
    if isinstance(module, SynapticDelay):
        return {"_ring": list(module._ring), "_head": module._head,
                "_ring_shape": module._ring_shape}  # fmt: skip
    return {name: getattr(module, name) for name in module.state_names}


def _trace(net: nn.Module, sample: Tensor, lead: int, fwd_args: tuple = ()):
    """Trace ``net`` with ``torch.fx`` and run it once on ``sample`` for the shapes.

    Returns ``([(node_name, module or ("flatten", start, end), [NIR inputs], shape)], out_shape)``
    in execution order; shapes drop the ``lead`` axes (batch, and time in multi-step mode).
    The neurons' states are restored. ``fwd_args`` are further positional arguments of
    ``net.forward`` (snnTorch's ``model_fwd_args``); they feed no NIR node.
    """
    from torch.fx.passes.shape_prop import ShapeProp

    params = list(inspect.signature(net.forward).parameters.values())[1 + len(fwd_args) :]
    concrete = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    graph = _Tracer().trace(net, concrete_args=concrete or None)
    gm = torch.fx.GraphModule(net, graph)
    stateful = [m for m in net.modules() if isinstance(m, (SpikingNeuron, StatefulNode,
                                                            SynapticDelay))]  # fmt: skip
    saved = [_snapshot(m) for m in stateful]
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(sample, *fwd_args)
    finally:
        for module, state in zip(stateful, saved):
            for name, value in state.items():
                setattr(module, name, value)
    modules = dict(net.named_modules())
    sources: dict[str, list[str]] = {}  # fx node -> the NIR nodes whose sum it is
    steps: list[tuple[str, Any, list[str], tuple[int, ...]]] = []
    out_shape: tuple[int, ...] = ()
    for node in graph.nodes:
        if node.op == "placeholder":
            sources[node.name] = [] if sources else ["input"]
        elif node.op == "call_module":
            name = node.target.replace(".", "_")
            steps.append((name, modules[node.target], *_inputs(node, sources, lead)))
            sources[node.name] = [name]
        elif node.op == "call_function" and node.target is operator.getitem:
            sources[node.name] = _getitem_sources(node, sources, modules)
        elif node.target in (operator.add, torch.add, "add") and len(node.args) == 2:
            sources[node.name] = [s for a in node.args for s in _used(a, sources)]
        elif node.target is nn.functional.avg_pool2d:
            name = f"avg_pool2d_{len(steps)}"
            pool = _functional_avg_pool(node)
            steps.append((name, pool, *_inputs(node, sources, lead)))
            sources[node.name] = [name]
        elif node.target in (torch.flatten, "flatten"):
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            name = f"flatten_{len(steps)}"
            steps.append((name, ("flatten", start, end), *_inputs(node, sources, lead)))
            sources[node.name] = [name]
        elif node.op == "call_method" and node.target in ("view", "reshape"):
            start = _flattening_view(node, lead)
            name = f"flatten_{len(steps)}"
            steps.append((name, ("flatten", start, -1), *_inputs(node, sources, lead)))
            sources[node.name] = [name]
        elif node.op == "output":
            result = node.args[0]
            result = result[0] if isinstance(result, (tuple, list)) else result
            steps.append(("output", None, _used(result, sources), _shape(result, lead)))
            out_shape = _shape(result, lead)
        else:
            raise TypeError(
                f"export_to_nir: cannot map {node.op} {node.target!r} to NIR; supported: "
                "Linear, Conv1d/2d, Flatten, AvgPool2d, SumPool2d, neurons, +, flatten, "
                "a flattening view/reshape and avg_pool2d"
            )
    return steps, out_shape


def _flattening_view(node: torch.fx.Node, lead: int) -> int:
    """The first flattened dim of a ``x.view(...)``/``x.reshape(...)`` that keeps the lead
    axes and flattens the rest into one (``x.view(-1, C·H·W)`` in snnTorch's NIR tutorial)."""
    before = tuple(node.args[0].meta["tensor_meta"].shape)
    after = tuple(node.meta["tensor_meta"].shape)
    if len(after) == lead + 1 and after[:lead] == before[:lead]:
        return lead
    raise TypeError(
        f"export_to_nir: {node.target}{tuple(before)} -> {tuple(after)} has no NIR form; only a "
        "view that flattens every axis after the batch axis is exported (as Flatten)"
    )


def _shape(node: torch.fx.Node, lead: int) -> tuple[int, ...]:
    meta = node.meta["tensor_meta"]
    if not hasattr(meta, "shape"):  # a neuron with output=True gives (spk, *states)
        meta = meta[0]
    return tuple(meta.shape[lead:])


def _inputs(node: torch.fx.Node, sources: dict[str, list[str]], lead: int):
    arg = node.args[0]
    if not isinstance(arg, torch.fx.Node):
        raise TypeError(f"export_to_nir: {node.target} must take a tensor as first argument")
    return _used(arg, sources), _shape(arg, lead)


def _used(node: torch.fx.Node, sources: dict[str, Any]) -> list[str]:
    found = sources[node.name]
    if isinstance(found, str):
        raise TypeError(f"export_to_nir: only spikes may flow between NIR nodes, but {found}")
    return found


def _getitem_sources(node: torch.fx.Node, sources, modules: dict[str, nn.Module]):
    """``out[0]`` of a neuron is its spikes; ``out[k > 0]`` is a state, unusable downstream."""
    parent = node.args[0]
    is_neuron = parent.op == "call_module" and isinstance(modules[parent.target], SpikingNeuron)
    if is_neuron and node.args[1] != 0:
        return f"state #{node.args[1]} of {parent.target} is used"
    return sources[parent.name]


def export_to_nir(
    net: nn.Module,
    sample_data: Tensor,
    dt: float = DEFAULT_DT,
    model_name: str = "spikeforge",
    model_fwd_args: Sequence[Any] = (),
):
    """A ``nir.NIRGraph`` of ``net``; ``sample_data`` is one time step's input ``[B, ...]``
    (or a sequence ``[T, B, ...]`` when the neurons use ``step_mode="multi"``);
    ``model_fwd_args`` are further positional arguments ``net.forward`` takes after it.

    See the module docstring for the mapping and the discretisation. Example::

        >>> import torch, nir, spikeforge as snn
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), snn.Leaky(0.9, init_hidden=True))
        >>> graph = snn.export_to_nir(net, torch.zeros(1, 3))
        >>> sorted(graph.nodes)
        ['0', '1', 'input', 'output']
    """
    import nir

    if not isinstance(sample_data, Tensor) or sample_data.dim() < 1:
        raise TypeError(
            "sample_data must be a tensor [B, ...] for one time step, got "
            f"{type(sample_data).__name__}"
        )
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    multi = any(getattr(m, "step_mode", "single") == "multi" for m in net.modules())
    lead = 2 if multi else 1  # [T, B, ...] in multi-step mode, [B, ...] otherwise
    if sample_data.dim() <= lead:
        raise ValueError(
            f"sample_data needs {'[T, B, ...]' if multi else '[B, ...]'}, got shape "
            f"{tuple(sample_data.shape)}"
        )
    steps, out_shape = _trace(net, sample_data, lead, tuple(model_fwd_args))
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array(sample_data.shape[lead:])}),
        "output": nir.Output(output_type={"output": np.array(out_shape)}),
    }
    edges = []
    for name, module, inputs, shape in steps:
        if isinstance(module, tuple):  # ("flatten", start, end) from a traced call
            nodes[name] = _flatten_node(shape, module[1], module[2], lead)
        elif module is not None:
            nodes[name] = _node_for(module, shape, dt, lead)
        edges.extend((src, name) for src in inputs)
    metadata = {
        "spikeforge.dt": float(dt),
        "spikeforge.container": "Sequential" if isinstance(net, nn.Sequential) else "graph",
        "spikeforge.step_mode": "multi" if multi else "single",
        "spikeforge.model_name": model_name,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)  # type-checked by nir
