"""``Alpha``: the alpha-kernel synapse neuron (see ``ops.alpha.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.alpha import ALPHA
from ._base import LIF
from ._options import snntorch_signature

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

    @snntorch_signature("alpha", "beta", graded=False, delay=False, reset_mechanism="zero")
    def __init__(self, alpha: float | Tensor, beta: float | Tensor, **options: Any) -> None:
        learn_alpha = options.pop("learn_alpha")
        super().__init__(beta, **options)
        self._register_rate("alpha", alpha, learn_alpha)
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
