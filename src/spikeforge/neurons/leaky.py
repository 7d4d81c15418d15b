"""``Leaky``: the first-order leaky integrate-and-fire neuron (see ``ops.lif.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.lif import LEAKY
from ._base import LIF
from ._options import snntorch_signature

__all__ = ["Leaky", "LeakyState"]


class LeakyState(NamedTuple):
    mem: Tensor


class Leaky(LIF):
    """First-order LIF: ``U_t = β U_{t-1} + X_t − R_t θ``, ``S_t = H(U_t − θ)·g``.

    Same constructor, call and returns as ``snntorch.Leaky``: ``lif(x, mem) -> (spk, mem)``,
    or ``spk`` alone when ``init_hidden=True`` and ``output=False``. With
    ``step_mode="multi"`` a call maps ``x_seq [T, B, ...]`` to ``(spk_seq, mem_seq)``, both
    ``[T, B, ...]``, through one fused kernel (``backend`` picks it; see ``ops.registry``).

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.Leaky(beta=0.9)
        >>> mem = lif.init_leaky()
        >>> spk, mem = lif(torch.tensor([1.2]), mem)
        >>> spk.item(), round(mem.item(), 4)
        (1.0, 1.2)
    """

    state_names = ("mem",)
    State = LeakyState
    recurrence = LEAKY

    @snntorch_signature("beta")
    def __init__(
        self,
        beta: float | Tensor,
        *,
        step_mode: str = "single",
        backend: str = "auto",
        **options: Any,
    ) -> None:
        super().__init__(beta, step_mode=step_mode, backend=backend, **options)

    def forward(self, input_: Tensor, mem: Tensor | None = None):
        return self._stateful_forward(input_, (mem,))

    def _params(self) -> tuple[Tensor, ...]:
        return (self.beta, self.threshold, self.graded_spikes_factor)

    def init_leaky(self) -> Tensor:
        """Deprecated snnTorch alias of ``reset_mem()``."""
        return self.reset_mem()
