"""``Synaptic``: the current-based (second-order) LIF neuron (see ``ops.lif.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.lif import SYNAPTIC
from ._base import LIF, as_float_tensor, check_unit_interval

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

    def __init__(
        self,
        alpha: float | Tensor,
        beta: float | Tensor,
        threshold: float | Tensor = 1.0,
        spike_grad: Any = None,
        surrogate_disable: bool = False,
        init_hidden: bool = False,
        inhibition: bool = False,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_mechanism: str = "subtract",
        state_quant: Any = False,
        output: bool = False,
        reset_delay: bool = True,
        *,
        step_mode: str = "single",
        backend: str = "auto",
    ) -> None:
        super().__init__(
            beta,
            threshold=threshold,
            spike_grad=spike_grad,
            surrogate_disable=surrogate_disable,
            init_hidden=init_hidden,
            inhibition=inhibition,
            learn_beta=learn_beta,
            learn_threshold=learn_threshold,
            reset_mechanism=reset_mechanism,
            state_quant=state_quant,
            output=output,
            reset_delay=reset_delay,
            step_mode=step_mode,
            backend=backend,
        )
        alpha_t = as_float_tensor("alpha", alpha)
        if not learn_alpha:
            check_unit_interval("alpha", alpha_t)
        self._register_tensor("alpha", alpha_t, learn_alpha)

    def forward(self, input_: Tensor, syn: Tensor | None = None, mem: Tensor | None = None):
        return self._stateful_forward(input_, (syn, mem))

    def _params(self) -> tuple[Tensor, ...]:
        return (self.alpha, self.beta, self.threshold, self.graded_spikes_factor)

    def init_synaptic(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn, mem)``."""
        return self.reset_mem()
