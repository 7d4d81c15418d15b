"""``Lapicque``: the RC-circuit LIF neuron, forward Euler (see ``ops.lif.reference``).

Which of ``beta``, ``R`` and ``C`` are given decides the circuit (snnTorch's rules):

* ``R`` and ``C``: used as given; ``beta = exp(−Δt/(RC))`` is stored but not used;
* ``beta`` alone: ``R = 1`` and ``C = Δt / ln(1/β)``;
* ``beta`` and ``R``: ``C = Δt / (R ln(1/β))``;
* ``beta`` and ``C``: ``R = Δt / (C ln(1/β))``.

When derived from ``beta`` the per-step decay is ``1 − ln(1/β)`` (not ``β``) and the input
gain is ``Δt/C``. ``False`` or ``None`` means "not given".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..ops.lif import LAPICQUE
from ._base import SpikingNeuron, as_float_tensor
from ._options import snntorch_signature

__all__ = ["Lapicque", "LapicqueState"]


class LapicqueState(NamedTuple):
    mem: Tensor


def _given(value: Any) -> bool:
    return value is not None and value is not False


def _positive(name: str, value: Any) -> Tensor:
    tensor = as_float_tensor(name, value)
    if not (tensor > 0).all():
        raise ValueError(f"Lapicque: {name} must be > 0, got {tensor.tolist()}")
    return tensor


class Lapicque(SpikingNeuron):
    """RC-circuit LIF: ``U_t = X_t·Δt/C + (1 − Δt/(RC))·U_{t-1} − R_t θ``.

    Same constructor, call and returns as ``snntorch.Lapicque``: ``lif(x, mem) -> (spk, mem)``,
    or ``spk`` alone when ``init_hidden=True`` and ``output=False``. Unlike snnTorch 1.0.0,
    per-neuron ``beta``/``R``/``C`` tensors work, and with ``learn_beta=True`` the ``R`` or
    ``C`` derived from ``beta`` is recomputed every step, so ``beta`` trains.
    ``step_mode="multi"`` runs a whole sequence through one fused op (``ops.lif``:
    the family's model 0 with input gain ``Δt/C`` and decay ``1 − Δt/(RC)``).

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.Lapicque(R=5, C=1e-3, time_step=1e-3)
        >>> mem = lif.init_lapicque()
        >>> for _ in range(2):
        ...     spk, mem = lif(torch.tensor([0.5]), mem)
        >>> round(mem.item(), 4)
        0.9
    """

    state_names = ("mem",)
    State = LapicqueState
    recurrence = LAPICQUE
    dtype_checked_params = (*SpikingNeuron.dtype_checked_params, "R", "C", "time_step")

    @snntorch_signature("beta", graded=False, delay=False)
    def __init__(
        self,
        beta: float | Tensor | bool = False,
        R: float | Tensor | bool = False,
        C: float | Tensor | bool = False,
        time_step: float | Tensor = 1,
        **options: Any,
    ) -> None:
        learn_beta = options.pop("learn_beta")
        super().__init__(**options)
        dt = _positive("time_step", time_step)
        self.register_buffer("time_step", dt)
        self._derived = self._resolve_circuit(beta, R, C, dt, learn_beta)

    def _resolve_circuit(self, beta: Any, R: Any, C: Any, dt: Tensor, learn_beta: bool):
        """Register ``beta``, ``R`` and ``C``; return which of R/C follows beta (or None)."""
        has_beta, has_r, has_c = _given(beta), _given(R), _given(C)
        if has_beta and has_r and has_c:
            raise ValueError(
                "Lapicque: give beta, or R and C, or beta with one of R and C; "
                "got all three (beta is then over-determined)"
            )
        if not has_beta:
            if not (has_r and has_c):
                raise ValueError(
                    "Lapicque: either beta or two of beta, R and C must be given, "
                    f"got beta={beta!r}, R={R!r}, C={C!r}"
                )
            if learn_beta:
                raise ValueError(
                    "Lapicque: learn_beta=True needs beta as an argument; with R and C "
                    "given, beta = exp(-time_step/(R*C)) is derived and not used"
                )
            r_t, c_t = _positive("R", R), _positive("C", C)
            self.register_buffer("beta", torch.atleast_1d(torch.exp(-dt / (r_t * c_t))))
            self.register_buffer("R", r_t)
            self.register_buffer("C", c_t)
            return None
        beta_t = as_float_tensor("beta", beta)
        if not ((beta_t > 0) & (beta_t < 1)).all():
            raise ValueError(
                f"Lapicque: beta must lie in (0, 1) to derive R or C, got {beta_t.tolist()}"
            )
        self._register_tensor("beta", beta_t, learn_beta)
        if has_c:
            self.register_buffer("C", _positive("C", C))
            self.register_buffer("R", self._derive(dt, self.C).detach())
            return "R"
        self.register_buffer("R", _positive("R", R) if has_r else torch.ones(()))
        self.register_buffer("C", self._derive(dt, self.R).detach())
        return "C"

    def _derive(self, dt: Tensor, other: Tensor) -> Tensor:
        """The missing one of R and C: ``Δt / (other · ln(1/β))`` (β kept in (0, 1])."""
        beta = self.beta.clamp(torch.finfo(self.beta.dtype).tiny, 1.0)
        return dt / (other * torch.log(1 / beta))

    def circuit(self) -> tuple[Tensor, Tensor]:
        """``(R, C)`` for this step; a learnable beta re-derives the missing one."""
        if self._derived is None or not isinstance(self.beta, nn.Parameter):
            return self.R, self.C
        if self._derived == "C":
            return self.R, self._derive(self.time_step, self.R)
        return self._derive(self.time_step, self.C), self.C

    def forward(self, input_: Tensor, mem: Tensor | None = None):
        return self._stateful_forward(input_, (mem,))

    def _params(self) -> tuple[Any, ...]:
        R, C = self.circuit()
        return (R, C, self.time_step, self.threshold, self.graded_spikes_factor)

    def init_lapicque(self) -> Tensor:
        """Deprecated snnTorch alias of ``reset_mem()``."""
        return self.reset_mem()
