"""``Alpha``: the alpha-kernel synapse neuron (see ``ops.alpha.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.alpha import ALPHA
from ._base import LIF, as_float_tensor, check_unit_interval

__all__ = ["Alpha", "AlphaState"]


class AlphaState(NamedTuple):
    syn_exc: Tensor
    syn_inh: Tensor
    mem: Tensor


class Alpha(LIF):
    """Alpha-kernel neuron: ``U_t = τ_α (E_t + I_t)`` with ``E_t = α E_{t-1} + X_t`` and
    ``I_t = β I_{t-1} − X_t``.

    Same constructor, call and returns as ``snntorch.Alpha``:
    ``lif(x, syn_exc, syn_inh, mem) -> (spk, syn_exc, syn_inh, mem)``, or ``spk`` alone when
    ``init_hidden=True`` and ``output=False``. The default reset is ``"zero"``; ``alpha`` must
    exceed ``beta`` and ``beta`` must not be 1 (``τ_α`` would divide by zero). Unlike
    snnTorch 1.0.0, ``learn_alpha=True`` works. ``step_mode="multi"`` runs a whole sequence
    through one fused op (``ops.alpha``; ``backend`` picks it, see ``ops.registry``).

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.Alpha(alpha=0.9, beta=0.8)
        >>> syn_exc, syn_inh, mem = lif.init_alpha()
        >>> spk, syn_exc, syn_inh, mem = lif(torch.tensor([1.0]), syn_exc, syn_inh, mem)
        >>> syn_exc.item(), syn_inh.item(), mem.item()
        (1.0, -1.0, 0.0)
    """

    state_names = ("syn_exc", "syn_inh", "mem")
    State = AlphaState
    recurrence = ALPHA

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
        reset_mechanism: str = "zero",
        state_quant: Any = False,
        output: bool = False,
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
        )
        alpha_t = as_float_tensor("alpha", alpha)
        if not learn_alpha:
            check_unit_interval("alpha", alpha_t)
        self._register_tensor("alpha", alpha_t, learn_alpha)
        self._check_alpha_above_beta()

    def _check_alpha_above_beta(self) -> None:
        alpha = self.alpha.detach().clamp(0, 1)
        beta = self.beta.detach().clamp(0, 1)
        if (beta == 1).any():
            raise ValueError(
                f"Alpha: beta must not be 1 (tau_alpha = ln(alpha)/(ln(beta) - ln(alpha)) + 1 "
                f"would divide by zero), got beta={self.beta.tolist()}"
            )
        if (alpha <= beta).any():
            raise ValueError(
                f"Alpha: alpha must be greater than beta, got alpha={self.alpha.tolist()} "
                f"and beta={self.beta.tolist()}"
            )

    def forward(
        self,
        input_: Tensor,
        syn_exc: Tensor | None = None,
        syn_inh: Tensor | None = None,
        mem: Tensor | None = None,
    ):
        return self._stateful_forward(input_, (syn_exc, syn_inh, mem))

    def _params(self) -> tuple[Any, ...]:
        return (self.alpha, self.beta, self.threshold, self.graded_spikes_factor)

    def init_alpha(self) -> tuple[Tensor, Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn_exc, syn_inh, mem)``."""
        return self.reset_mem()
