"""``Synaptic``: the current-based (second-order) LIF neuron (see ``ops.synaptic.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.synaptic.op import synaptic_scan_fused, synaptic_step_fused
from ..ops.synaptic.reference import synaptic_scan, synaptic_step
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
    fused_op = "synaptic"

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
        return (self.alpha, self.beta, self.threshold, self.graded_spikes_factor, self.config())

    def _step(self, x: Tensor, states: tuple[Tensor, ...]):
        params = self._params()
        backend = self.select_backend(x, params[-1], single_step=True)
        if backend == "reference":
            spk, syn, mem = synaptic_step(x, *states, *params)
        else:
            spk, syn, mem = synaptic_step_fused(x, *states, *params, backend)
        return spk, (syn, mem)

    def _scan(self, x_seq: Tensor, states: tuple[Tensor, ...], need_seqs: bool):
        """Multi-step hook (engine): the fused kernel, or the reference scan."""
        params = self._params()
        backend = self.select_backend(x_seq, params[-1])
        if backend == "reference":
            spk, syn, mem = synaptic_scan(x_seq, *states, *params)
            return spk, (syn, mem), (syn[-1], mem[-1])
        spk, syn, mem, syn_t, mem_t = synaptic_scan_fused(
            x_seq, *states, *params, backend, need_seqs=need_seqs
        )
        return spk, (syn, mem) if need_seqs else None, (syn_t, mem_t)

    def init_synaptic(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn, mem)``."""
        return self.reset_mem()
