"""snnTorch's ``snntorch.import_nir`` module: ``from spikeforge.import_nir import import_from_nir``.

snnTorch 1.0.0 returns a ``torch.fx.GraphModule`` (built by nirtorch) that is called
``out, state = net(x)`` or ``net(x, state)``; its neurons keep their own state
(``init_hidden=True``), so ``state`` is a dict of the graph's node names, each ``None``.
This module returns the same convention around :func:`spikeforge.import_from_nir`'s network
(whose neurons likewise keep their state; ``net.reset_mem()`` forgets it).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .nir import _require_nir

__all__ = ["NIRNetwork", "import_from_nir"]


class NIRNetwork(nn.Module):
    """An imported NIR graph, called as snnTorch's import is: ``(x, state=None) -> (out, state)``.

    ``out`` is what reaches the graph's output node: spikes, also when the last neuron was
    exported with ``output=True`` (snnTorch's import drops that flag; the top-level
    :func:`spikeforge.import_from_nir` keeps it and returns ``(spk, mem)``). ``state`` maps
    every node name to ``None`` (the neurons hold their states themselves); a passed
    ``state`` is accepted and returned unchanged. ``network`` is the spikeforge module
    that runs the graph (an ``nn.Sequential`` or a ``NIRGraphModule``).
    """

    def __init__(self, network: nn.Module, node_names: list[str]) -> None:
        super().__init__()
        self.network = network
        self.node_names = list(node_names)

    def forward(self, input: Tensor, state: dict[str, Any] | None = None):
        if state is None:
            state = dict.fromkeys(self.node_names)
        elif not isinstance(state, dict):
            raise TypeError(f"state must be a dict or None, got {type(state).__name__}")
        out = self.network(input)
        if isinstance(out, tuple):  # a last neuron exported with output=True: (spk, mem)
            out = out[0]
        return out, state

    def reset_mem(self) -> None:
        """Forget the state of every neuron, readout and delay of the network."""
        from .convert import reset_neurons

        reset_neurons(self.network)


def import_from_nir(graph: Any) -> NIRNetwork:
    """A module running ``graph`` (a ``nir.NIRGraph`` or a ``.nir`` path) one step per call,
    with snnTorch's call convention (see :class:`NIRNetwork`)."""
    _require_nir()
    import nir

    from .nir.import_ import import_from_nir as _import

    if isinstance(graph, (str, bytes)) or hasattr(graph, "__fspath__"):
        graph = nir.read(graph)
    network = _import(graph)
    return NIRNetwork(network, list(graph.nodes))
