"""Monitors that record what chosen layers of a network see and produce.

Each monitor walks ``net.named_modules()`` once, picks the layers whose type matches
``instance`` and registers one hook per layer:

* ``OutputMonitor``: a forward hook, records ``function_on_output(output)``;
* ``InputMonitor``: a forward hook, records ``function_on_input(input)``;
* ``AttributeMonitor``: a forward (or forward-pre) hook, records
  ``function_on_attribute(getattr(layer, attribute_name))`` after (or before) each call;
* ``GradInputMonitor`` / ``GradOutputMonitor``: a full backward hook, records the gradient
  of the loss with respect to the layer's inputs / outputs.

Records go, in call order, into the flat list ``monitor.records``; ``monitor["lif1"]``
gives the records of one layer (by its name in ``named_modules``) and ``monitor[i]`` the
i-th record. A one-element tuple is unpacked before it is recorded (``unpack_len1_tuple``).

Same names and signatures as ``snntorch.functional.probe`` (itself after SpikingJelly's
``monitor``), with these fixes: ``instance`` may be a type, a tuple of types or a module
(meaning its type), and ``None`` means ``type(net)`` for every monitor; the attribute
monitor works with ``pre_forward=True``. Records keep the autograd graph unless the
``function_on_*`` argument detaches them (e.g. ``lambda y: y.detach()``).

Example::

    >>> import torch, spikeforge as snn
    >>> from spikeforge.functional import probe
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), snn.Leaky(beta=0.5, init_hidden=True))
    >>> mon = probe.AttributeMonitor("mem", False, net, instance=snn.Leaky)
    >>> _ = net(torch.ones(1, 2)); _ = net(torch.ones(1, 2))
    >>> mon.monitored_layers, len(mon["1"])
    (['1'], 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = [
    "AttributeMonitor",
    "BaseMonitor",
    "GradInputMonitor",
    "GradOutputMonitor",
    "InputMonitor",
    "OutputMonitor",
    "unpack_len1_tuple",
]


def unpack_len1_tuple(x: Any) -> Any:
    """``x[0]`` if ``x`` is a tuple of length one, else ``x`` unchanged."""
    if isinstance(x, tuple) and len(x) == 1:
        return x[0]
    return x


def _identity(x: Any) -> Any:
    return x


def _layer_types(net: nn.Module, instance: Any) -> type | tuple[type, ...]:
    """Normalise ``instance`` to what ``isinstance`` accepts."""
    if instance is None:
        return type(net)
    if isinstance(instance, type):
        return instance
    if isinstance(instance, nn.Module):
        return type(instance)
    if isinstance(instance, tuple) and instance and all(isinstance(t, type) for t in instance):
        return instance
    raise TypeError(
        "instance must be None, a module type, a tuple of module types or a module, "
        f"got {instance!r}"
    )


def _check_callable(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


class BaseMonitor:
    """Bookkeeping shared by all monitors: records, per-layer index, hooks, on/off switch."""

    def __init__(self) -> None:
        self.hooks: list[torch.utils.hooks.RemovableHandle] = []
        self.monitored_layers: list[str] = []
        self.records: list[Any] = []
        self.name_records_index: dict[str, list[int]] = {}
        self._enable = True

    def __getitem__(self, i: int | str) -> Any:
        if isinstance(i, bool) or not isinstance(i, int | str):
            raise TypeError(f"index must be an int or a layer name, got {type(i).__name__}")
        if isinstance(i, int):
            return self.records[i]
        if i not in self.name_records_index:
            raise KeyError(f"layer {i!r} is not monitored; monitored: {self.monitored_layers}")
        return [self.records[k] for k in self.name_records_index[i]]

    def _watch(self, net: nn.Module, instance: Any, register: Callable) -> None:
        """Register ``register(name, module)``'s hook on every layer of the chosen types."""
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
        types = _layer_types(net, instance)
        for name, module in net.named_modules():
            if isinstance(module, types):
                self.monitored_layers.append(name)
                self.name_records_index[name] = []
                self.hooks.append(register(name, module))

    def _record(self, name: str, value: Any) -> None:
        self.name_records_index[name].append(len(self.records))
        self.records.append(value)

    def clear_recorded_data(self) -> None:
        """Drop all records; the hooks stay."""
        self.records.clear()
        for indices in self.name_records_index.values():
            indices.clear()

    def enable(self) -> None:
        self._enable = True

    def disable(self) -> None:
        """Stop recording (the hooks stay registered and do nothing)."""
        self._enable = False

    def is_enable(self) -> bool:
        return self._enable

    def remove_hooks(self) -> None:
        """Unregister every hook; the records stay."""
        for hook in self.hooks:
            hook.remove()
        self.hooks.clear()

    def __del__(self) -> None:
        self.remove_hooks()


class OutputMonitor(BaseMonitor):
    """Record ``function_on_output(output)`` after each forward of the chosen layers."""

    def __init__(
        self,
        net: nn.Module,
        instance: Any = None,
        function_on_output: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        _check_callable("function_on_output", function_on_output)
        self.function_on_output = function_on_output
        self._watch(net, instance, lambda name, m: m.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if self._enable:
                self._record(name, self.function_on_output(unpack_len1_tuple(output)))

        return hook


class InputMonitor(BaseMonitor):
    """Record ``function_on_input(input)`` (positional inputs) at each forward."""

    def __init__(
        self,
        net: nn.Module,
        instance: Any = None,
        function_on_input: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        _check_callable("function_on_input", function_on_input)
        self.function_on_input = function_on_input
        self._watch(net, instance, lambda name, m: m.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if self._enable:
                self._record(name, self.function_on_input(unpack_len1_tuple(args)))

        return hook


class AttributeMonitor(BaseMonitor):
    """Record ``function_on_attribute(layer.<attribute_name>)`` at each forward.

    With ``pre_forward=True`` the value is read just before the layer runs (e.g. the
    previous step's ``mem``), otherwise just after it.
    """

    def __init__(
        self,
        attribute_name: str,
        pre_forward: bool,
        net: nn.Module,
        instance: Any = None,
        function_on_attribute: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        if not isinstance(attribute_name, str):
            raise TypeError(f"attribute_name must be a str, got {type(attribute_name).__name__}")
        _check_callable("function_on_attribute", function_on_attribute)
        self.attribute_name = attribute_name
        self.pre_forward = bool(pre_forward)
        self.function_on_attribute = function_on_attribute
        self._watch(net, instance, self._register)

    def _register(self, name: str, module: nn.Module) -> torch.utils.hooks.RemovableHandle:
        if not hasattr(module, self.attribute_name):
            raise AttributeError(
                f"layer {name!r} ({type(module).__name__}) has no attribute "
                f"{self.attribute_name!r} to monitor"
            )
        if self.pre_forward:
            return module.register_forward_pre_hook(lambda m, args: self._read(name, m))
        return module.register_forward_hook(lambda m, args, output: self._read(name, m))

    def _read(self, name: str, module: nn.Module) -> None:
        if self._enable:
            value = getattr(module, self.attribute_name)
            self._record(name, self.function_on_attribute(value))


class GradInputMonitor(BaseMonitor):
    """Record ``function_on_grad_input(dL/d input)`` when backward reaches the layer.

    An input that does not require grad gives ``None``.
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Any = None,
        function_on_grad_input: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        _check_callable("function_on_grad_input", function_on_grad_input)
        self.function_on_grad_input = function_on_grad_input
        self._watch(net, instance, lambda name, m: m.register_full_backward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
            if self._enable:
                self._record(name, self.function_on_grad_input(unpack_len1_tuple(grad_input)))

        return hook


class GradOutputMonitor(BaseMonitor):
    """Record ``function_on_grad_output(dL/d output)`` when backward reaches the layer.

    For a neuron returning ``(spk, mem)`` this is the pair of gradients; an output the loss
    does not depend on gives ``None``.
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Any = None,
        function_on_grad_output: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        _check_callable("function_on_grad_output", function_on_grad_output)
        self.function_on_grad_output = function_on_grad_output
        self._watch(net, instance, lambda name, m: m.register_full_backward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
            if self._enable:
                record = self.function_on_grad_output(unpack_len1_tuple(grad_output))
                self._record(name, record)

        return hook
