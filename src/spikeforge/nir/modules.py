"""Small modules for NIR nodes that torch lacks, and the executor of general NIR graphs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["NIRGraphModule", "Scale", "SumPool2d", "Threshold"]


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
        """Forget every neuron's state and the delayed values of the back edges."""
        self._previous = {}
        for module in self.modules():
            if module is not self and hasattr(module, "reset_mem"):
                module.reset_mem()


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
