"""Small modules for NIR nodes that torch lacks, and the executor of general NIR graphs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "Integrator",
    "LeakyIntegrator",
    "NIRGraphModule",
    "Scale",
    "SumPool2d",
    "SynapticIntegrator",
    "Threshold",
]


class Scale(nn.Module):
    """``y = s ⊙ x`` (NIR ``Scale``; also the input gain ``r·dt/τ`` of an imported neuron)."""

    def __init__(self, scale: Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class SumPool2d(nn.Module):
    """Sum over each pooling window (NIR ``SumPool2d``): average pool times the window area."""

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = nn.modules.utils._pair(kernel_size)
        self.stride = nn.modules.utils._pair(stride if stride is not None else kernel_size)
        self.padding = nn.modules.utils._pair(padding)

    def forward(self, x: Tensor) -> Tensor:
        area = self.kernel_size[0] * self.kernel_size[1]
        pooled = nn.functional.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, count_include_pad=True
        )
        return pooled * area


class Threshold(nn.Module):
    """``y = H(x − θ)`` with strict ``>`` (NIR ``Threshold``), no state, no gradient."""

    def __init__(self, threshold: Tensor) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(threshold, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return (x > self.threshold).to(x.dtype)


def _first(value):
    """A neuron with ``output=True`` returns ``(spk, *states)``: only spikes travel on edges."""
    return value[0] if isinstance(value, tuple) else value


class NIRGraphModule(nn.Module):
    """Runs a NIR graph one time step per call: ``forward(x) -> y``.

    Nodes run in a topological order of the graph without its back edges. A node's input
    is the sum of what its predecessors sent: this step's output for a forward edge, the
    previous step's output for a back edge (a recurrent connection, delayed by one step;
    nothing at the first step). Neurons keep their own state (``init_hidden=True``);
    ``reset_mem()`` forgets it and the delayed values.
    """

    def __init__(
        self,
        nodes: dict[str, nn.Module],
        edges: Sequence[tuple[str, str]],
        input_name: str,
        output_name: str,
    ) -> None:
        super().__init__()
        self.node_names = list(nodes)
        self.nodes = nn.ModuleDict({_key(n): m for n, m in nodes.items()})
        self.edges = [tuple(e) for e in edges]
        self.input_name, self.output_name = input_name, output_name
        self.order, self.back_edges = _schedule(input_name, self.node_names, self.edges)
        self._previous: dict[str, Tensor] = {}

    def forward(self, x: Tensor) -> Tensor:
        values: dict[str, Tensor] = {self.input_name: x}
        raw: dict[str, object] = {}
        for name in self.order:
            total = None
            for src, dst in self.edges:
                if dst != name:
                    continue
                if (src, dst) in self.back_edges:
                    value = self._previous.get(src)
                    if value is not None and value.shape[0] != x.shape[0]:
                        value = None  # a new batch size starts from rest
                else:
                    value = values[src]
                if value is not None:
                    total = value if total is None else total + value
            if total is None:
                total = torch.zeros_like(values[self.input_name])
            if name == self.output_name:
                values[name] = total
            else:
                raw[name] = self.nodes[_key(name)](total)
                values[name] = _first(raw[name])
        self._previous = {src: values[src] for src, _ in self.back_edges}
        feeding = [src for src, dst in self.edges if dst == self.output_name]
        if len(feeding) == 1 and feeding[0] in raw:
            return raw[feeding[0]]  # e.g. (spk, mem) of a neuron built with output=True
        return values[self.output_name]

    def reset_mem(self) -> None:
        """Forget every node's state (neurons, readouts, delays) and the delayed values of
        the back edges."""
        from ..convert import reset_neurons

        reset_neurons(self)

    def reset_state(self) -> None:
        """Forget the values held on the back edges (the nodes reset themselves)."""
        self._previous = {}


def _key(name: str) -> str:
    return name.replace(".", "_")


def _schedule(start: str, names: list[str], edges: list[tuple[str, str]]):
    """Depth-first order from ``start``; an edge into a node on the current path is a back edge."""
    children: dict[str, list[str]] = {}
    for src, dst in edges:
        children.setdefault(src, []).append(dst)
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    post: list[str] = []
    back: set[tuple[str, str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        for child in children.get(node, []):
            if state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                visit(child)
        state[node] = 2
        post.append(node)

    visit(start)
    unreachable = [n for n in names if n not in state]
    if unreachable:
        raise ValueError(f"NIR graph: nodes {unreachable} cannot be reached from {start!r}")
    order = [n for n in reversed(post) if n != start]
    return order, back


# -- stateful readouts (NIR LI, I, CubaLI; a NIR Delay imports as SynapticDelay) ---------


def _decay(name: str, value) -> Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32)
    if torch.isnan(tensor).any() or ((tensor < 0) | (tensor > 1)).any():
        raise ValueError(f"{name} must lie in [0, 1], got {tensor.tolist()}")
    return tensor


class _StatefulNode(nn.Module):
    """A node that keeps state between calls, one time step per call (``step_mode="single"``)
    or a whole ``[T, B, ...]`` sequence per call (``"multi"``). ``reset_mem()`` forgets it;
    a new batch size or shape starts from rest."""

    state_names: tuple[str, ...] = ()

    def __init__(self, step_mode: str = "single") -> None:
        super().__init__()
        if step_mode not in ("single", "multi"):
            raise ValueError(f"step_mode must be 'single' or 'multi', got {step_mode!r}")
        self.step_mode = step_mode
        for name in self.state_names:
            self.register_buffer(name, torch.zeros(0), persistent=False)

    def reset_mem(self) -> None:
        for name in self.state_names:
            setattr(self, name, torch.zeros(0))

    def reset_state(self) -> None:
        """Zero (and detach) the state, keeping its shape (``utils.reset``'s protocol)."""
        for name in self.state_names:
            setattr(self, name, torch.zeros_like(getattr(self, name)))

    def _state(self, name: str, x: Tensor, shape: torch.Size | None = None) -> Tensor:
        value = getattr(self, name)
        shape = x.shape if shape is None else shape
        if value.shape != shape or value.dtype != x.dtype or value.device != x.device:
            return x.new_zeros(shape)
        return value

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}: input must be a floating-point tensor, got "
                f"{getattr(x, 'dtype', type(x).__name__)}"
            )
        if self.step_mode == "multi":
            return torch.stack([self.step(x_t) for x_t in x])
        return self.step(x)

    def step(self, x: Tensor) -> Tensor:
        raise NotImplementedError


class LeakyIntegrator(_StatefulNode):
    """Non-spiking leaky readout (NIR ``LI``): ``v_t = β v_{t−1} + g x_t``, returns ``v_t``.

    From ``τ v̇ = (v_leak − v) + r I`` with forward Euler at step ``dt``: ``β = 1 − dt/τ``,
    ``g = r·dt/τ`` (``v_leak = 0``).
    """

    state_names = ("mem",)

    def __init__(self, beta, gain=1.0, step_mode: str = "single") -> None:
        super().__init__(step_mode)
        self.register_buffer("beta", _decay("beta", beta))
        self.register_buffer("gain", torch.as_tensor(gain, dtype=torch.float32))

    def step(self, x: Tensor) -> Tensor:
        self.mem = self.beta * self._state("mem", x) + self.gain * x
        return self.mem


class Integrator(_StatefulNode):
    """Non-spiking integrator (NIR ``I``): ``v_t = v_{t−1} + r x_t``, returns ``v_t``
    (``v̇ = r I`` read per step, as ``IF`` is)."""

    state_names = ("mem",)

    def __init__(self, r=1.0, step_mode: str = "single") -> None:
        super().__init__(step_mode)
        self.register_buffer("r", torch.as_tensor(r, dtype=torch.float32))

    def step(self, x: Tensor) -> Tensor:
        self.mem = self._state("mem", x) + self.r * x
        return self.mem


class SynapticIntegrator(_StatefulNode):
    """Non-spiking current-based readout (NIR ``CubaLI``), ``Synaptic`` without the spike:
    ``I_t = α I_{t−1} + g x_t``, ``v_t = β v_{t−1} + I_t``, returns ``v_t``.

    From NIR's ``τ_syn İ = −I + w_in S``, ``τ_mem v̇ = (v_leak − v) + r I`` with forward
    Euler: ``α = 1 − dt/τ_syn``, ``β = 1 − dt/τ_mem``, ``g = w_in·(dt/τ_syn)·r·(dt/τ_mem)``.
    """

    state_names = ("syn", "mem")

    def __init__(self, alpha, beta, gain=1.0, step_mode: str = "single") -> None:
        super().__init__(step_mode)
        self.register_buffer("alpha", _decay("alpha", alpha))
        self.register_buffer("beta", _decay("beta", beta))
        self.register_buffer("gain", torch.as_tensor(gain, dtype=torch.float32))

    def step(self, x: Tensor) -> Tensor:
        self.syn = self.alpha * self._state("syn", x) + self.gain * x
        self.mem = self.beta * self._state("mem", x) + self.syn
        return self.mem
