"""snnTorch 1.0.0's public helper methods of ``SpikingNeuron``, for code that calls them.

The neurons' own dynamics live in ``ops`` and never call these; they exist so snnTorch code
that uses them directly (custom neurons built on ``fire``/``mem_reset``, global-state loops
calling ``detach``/``zeros``/``init``) runs unchanged. The base class inherits this mixin,
which reads ``threshold``, ``spike_grad``, ``graded_spikes_factor`` and ``state_quant``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

__all__ = ["SnnTorchMethods"]


class SnnTorchMethods:
    """``fire``, ``fire_inhibition``, ``mem_reset``, ``detach``, ``zeros``, ``init``,
    ``reset_dict``, with snnTorch's semantics (differences noted per method)."""

    # The reset mechanism's code stored in the ``reset_mechanism_val`` buffer.
    reset_dict: ClassVar[dict[str, int]] = {"subtract": 0, "zero": 1, "none": 2}

    threshold: Tensor
    graded_spikes_factor: Tensor
    spike_grad: Any
    state_quant: Any

    def fire(self, mem: Tensor) -> Tensor:
        """Spikes of membrane ``mem``: ``S = H(q(U) − θ)·g`` (``q`` = ``state_quant`` if set),
        with the surrogate gradient of ``spike_grad``."""
        if self.state_quant:
            mem = self.state_quant(mem)
        return self.spike_grad(mem - self.threshold) * self.graded_spikes_factor

    def fire_inhibition(self, batch_size: int, mem: Tensor) -> Tensor:
        """``H(U − θ)`` kept only at the largest membrane of each row (``argmax`` over dim 1);
        every other neuron of that row is silenced. No graded factor, as in snnTorch."""
        if mem.dim() < 2:
            raise ValueError(
                f"fire_inhibition: mem must be [batch, features, ...], got shape {tuple(mem.shape)}"
            )
        if batch_size != mem.shape[0]:
            raise ValueError(
                f"fire_inhibition: batch_size={batch_size} but mem has {mem.shape[0]} rows"
            )
        shifted = mem - self.threshold
        spk = self.spike_grad(shifted)
        winner = torch.zeros_like(spk)
        winner.scatter_(1, torch.argmax(shifted, dim=1, keepdim=True), 1.0)
        return spk * winner

    def mem_reset(self, mem: Tensor) -> Tensor:
        """The reset signal ``R = H(U − θ)``, detached (no graded factor, no quantiser)."""
        return self.spike_grad(mem - self.threshold).clone().detach()

    @staticmethod
    def detach(*states: Tensor) -> None:
        """Detach each tensor from the graph in place (truncated BPTT on global states)."""
        for state in states:
            state.detach_()

    @staticmethod
    def zeros(*states: Tensor) -> None:
        """Set each tensor to zero in place.

        snnTorch's ``zeros`` only rebinds a local name and leaves the tensors unchanged (a
        bug); this one does what its documentation says.
        """
        with torch.no_grad():
            for state in states:
                state.zero_()

    @classmethod
    def init(cls) -> None:
        """No-op kept for snnTorch code: snnTorch clears its global ``instances`` registry
        here; spikeforge keeps every state on its own instance and has no registry."""
