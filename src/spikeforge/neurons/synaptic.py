"""``Synaptic``: the current-based (second-order) LIF neuron (see ``ops.lif.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.lif import SYNAPTIC
from ._base import LIF
from ._options import snntorch_signature

__all__ = ["Synaptic", "SynapticState"]


class SynapticState(NamedTuple):
    syn: Tensor
    mem: Tensor


class Synaptic(LIF):
    """Second-order LIF: ``I_t = α I_{t-1} + X_t``, ``U_t = β U_{t-1} + I_t − R_t θ``.

    Same constructor, call and returns as ``snntorch.Synaptic``:
    ``lif(x, syn, mem) -> (spk, syn, mem)``, or ``spk`` alone when ``init_hidden=True`` and
    ``output=False``. Like snnTorch it has no graded-spike arguments; the zero reset clears
    the membrane only, never the synaptic current.

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.Synaptic(alpha=0.8, beta=0.9)
        >>> syn, mem = lif.init_synaptic()
        >>> for _ in range(2):
        ...     spk, syn, mem = lif(torch.tensor([0.5]), syn, mem)
        >>> spk.item(), round(syn.item(), 4), round(mem.item(), 4)
        (1.0, 0.9, 1.35)
    """

    state_names = ("syn", "mem")
    State = SynapticState
    recurrence = SYNAPTIC

    @snntorch_signature("alpha", "beta", graded=False)
    def __init__(
        self,
        alpha: float | Tensor,
        beta: float | Tensor,
        *,
        step_mode: str = "single",
        backend: str = "auto",
        **options: Any,
    ) -> None:
        learn_alpha = options.pop("learn_alpha")
        super().__init__(beta, step_mode=step_mode, backend=backend, **options)
        self._register_rate("alpha", alpha, learn_alpha)

    def forward(self, input_: Tensor, syn: Tensor | None = None, mem: Tensor | None = None):
        return self._stateful_forward(input_, (syn, mem))

    def _params(self) -> tuple[Tensor, ...]:
        return (self.alpha, self.beta, self.threshold, self.graded_spikes_factor)

    def init_synaptic(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn, mem)``."""
        return self.reset_mem()
