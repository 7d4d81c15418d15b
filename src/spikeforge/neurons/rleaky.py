"""``RLeaky``: a leaky integrate-and-fire neuron fed back its own spikes (``ops.lif``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.lif import RLEAKY, RLEAKY_DENSE
from ._base import LIF
from ._options import pop_recurrence_options, snntorch_signature
from ._recurrent import RecurrentMixin

__all__ = ["RLeaky", "RLeakyState"]


class RLeakyState(NamedTuple):
    spk: Tensor
    mem: Tensor


class RLeaky(RecurrentMixin, LIF):
    """Recurrent LIF: ``U_t = β U_{t-1} + X_t + rec(S_{t-1}) − R_t θ``, ``S_t = H(U_t − θ)``.

    ``rec`` is ``nn.Linear(linear_features)``, ``nn.Conv2d(conv2d_channels, kernel_size)``
    (``padding = k // 2``) or, with ``all_to_all=False``, the one-to-one ``V · S``. Same
    constructor, call and returns as ``snntorch.RLeaky``: ``lif(x, spk, mem) -> (spk, mem)``,
    or ``spk`` alone when ``init_hidden=True`` and ``output=False``.

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.RLeaky(beta=0.5, V=0.5, all_to_all=False)
        >>> spk, mem = lif.init_rleaky()
        >>> spk, mem = lif(torch.tensor([1.5]), spk, mem)   # U = 1.5 -> spike
        >>> spk, mem = lif(torch.tensor([0.0]), spk, mem)   # U = .75 + 0 + .5 - 1
        >>> spk.item(), mem.item()
        (0.0, 0.25)
    """

    state_names = ("spk", "mem")
    State = RLeakyState
    recurrence = RLEAKY  # one-to-one V·S
    dense_recurrence = RLEAKY_DENSE

    @snntorch_signature("beta", recurrent=True, graded=False)
    def __init__(self, beta: float | Tensor, **options: Any) -> None:
        recurrence = pop_recurrence_options(options)
        super().__init__(beta, **options)
        self._init_recurrence(**recurrence)

    def forward(self, input_: Tensor, spk: Tensor | None = None, mem: Tensor | None = None):
        return self._stateful_forward(input_, (spk, mem))

    def _check_input(self, x: Any) -> None:
        super()._check_input(x)
        self._check_recurrent_input(x)

    def _params(self) -> tuple[Tensor, ...]:
        return (self.beta, self.threshold, self.graded_spikes_factor, self._recurrent_weights())

    def _outputs(self, spk: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """``(spk, mem)``: the spike is itself the first state."""
        return tuple(states)

    def init_rleaky(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(spk, mem)``."""
        return self.reset_mem()
