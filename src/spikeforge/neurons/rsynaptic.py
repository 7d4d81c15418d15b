"""``RSynaptic``: a current-based LIF neuron fed back its own spikes (``ops.lif``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.lif import RSYNAPTIC, RSYNAPTIC_DENSE
from ._base import LIF
from ._options import pop_recurrence_options, snntorch_signature
from ._recurrent import RecurrentMixin

__all__ = ["RSynaptic", "RSynapticState"]


class RSynapticState(NamedTuple):
    spk: Tensor
    syn: Tensor
    mem: Tensor


class RSynaptic(RecurrentMixin, LIF):
    """Recurrent current-based LIF: ``I_t = α I_{t-1} + X_t + rec(S_{t-1})``,
    ``U_t = β U_{t-1} + I_t − R_t θ``, ``S_t = H(U_t − θ)``.

    Same constructor, call and returns as ``snntorch.RSynaptic``:
    ``lif(x, spk, syn, mem) -> (spk, syn, mem)``, or ``spk`` alone when ``init_hidden=True``
    and ``output=False``. Unlike snnTorch 1.0.0, ``reset_delay=False`` resets at once.

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.RSynaptic(alpha=0.5, beta=0.5, V=0.5, all_to_all=False)
        >>> spk, syn, mem = lif.init_rsynaptic()
        >>> spk, syn, mem = lif(torch.tensor([1.5]), spk, syn, mem)
        >>> spk.item(), syn.item(), mem.item()
        (1.0, 1.5, 1.5)
    """

    state_names = ("spk", "syn", "mem")
    State = RSynapticState
    recurrence = RSYNAPTIC  # one-to-one V·S
    dense_recurrence = RSYNAPTIC_DENSE

    @snntorch_signature("alpha", "beta", recurrent=True, graded=False)
    def __init__(self, alpha: float | Tensor, beta: float | Tensor, **options: Any) -> None:
        learn_alpha = options.pop("learn_alpha")
        recurrence = pop_recurrence_options(options)
        super().__init__(beta, **options)
        self._init_recurrence(**recurrence)
        self._register_rate("alpha", alpha, learn_alpha)

    def forward(
        self,
        input_: Tensor,
        spk: Tensor | None = None,
        syn: Tensor | None = None,
        mem: Tensor | None = None,
    ):
        return self._stateful_forward(input_, (spk, syn, mem))

    def _check_input(self, x: Any) -> None:
        super()._check_input(x)
        self._check_recurrent_input(x)

    def _params(self) -> tuple[Tensor, ...]:
        return (
            self.alpha, self.beta, self.threshold, self.graded_spikes_factor,
            self._recurrent_weights(),
        )  # fmt: skip

    def _outputs(self, spk: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """``(spk, syn, mem)``: the spike is itself the first state."""
        return tuple(states)

    def init_rsynaptic(self) -> tuple[Tensor, Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(spk, syn, mem)``."""
        return self.reset_mem()
