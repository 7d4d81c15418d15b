"""``SLSTM``: a spiking LSTM cell whose output ``h`` is the membrane (``ops.slstm``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..ops.slstm.reference import slstm_step
from ._base import SpikingNeuron
from ._options import snntorch_signature
from ._recurrent import _positive_int

__all__ = ["SLSTM", "SLSTMState"]


class SLSTMState(NamedTuple):
    syn: Tensor
    mem: Tensor


class SLSTM(SpikingNeuron):
    """Spiking LSTM: ``(U_t, C_t) = LSTMCell(X_t, (U_{t-1}, C_{t-1}))``, ``S_t = H(U_t − θ)``.

    ``syn`` is the cell state ``C`` and ``mem`` the hidden state ``h``, both of shape
    ``[B, hidden_size]``. The default ``reset_mechanism`` is ``"none"``. Same constructor,
    call and returns as ``snntorch.SLSTM``: ``lstm(x, syn, mem) -> (spk, syn, mem)``.
    Unlike snnTorch 1.0.0 the state is kept when ``input_size != hidden_size``.

    Example::

        >>> import torch, spikeforge as snn
        >>> lstm = snn.SLSTM(input_size=3, hidden_size=5)
        >>> syn, mem = lstm.init_slstm()
        >>> spk, syn, mem = lstm(torch.rand(2, 3), syn, mem)
        >>> tuple(spk.shape), tuple(syn.shape), tuple(mem.shape)
        ((2, 5), (2, 5), (2, 5))
    """

    state_names = ("syn", "mem")
    State = SLSTMState

    @snntorch_signature(graded=False, delay=False, reset_mechanism="none")
    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, **options: Any
    ) -> None:
        super().__init__(**options)
        self.input_size = _positive_int("SLSTM", "input_size", input_size)
        self.hidden_size = _positive_int("SLSTM", "hidden_size", hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"SLSTM: bias must be a bool, got {bias!r}")
        self.bias = bias
        self.lstm_cell = nn.LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, input_: Tensor, syn: Tensor | None = None, mem: Tensor | None = None):
        return self._stateful_forward(input_, (syn, mem))

    def state_shape(self, x: Tensor) -> torch.Size:
        """``[B, hidden_size]`` (or ``[hidden_size]`` for an unbatched input)."""
        return torch.Size((*x.shape[:-1], self.hidden_size))

    def _check_input(self, x: Any) -> None:
        super()._check_input(x)
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"SLSTM: input_ must be [B, input_size] or [input_size] with input_size="
                f"{self.input_size}, got shape {tuple(x.shape)}"
            )

    def _step(self, x: Tensor, states: tuple[Tensor, ...]):
        spk, syn, mem = slstm_step(
            x,
            states[0],
            states[1],
            self.lstm_cell,
            self.threshold,
            self.graded_spikes_factor,
            self.config(),
        )
        return spk, (syn, mem)

    def init_slstm(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn, mem)``."""
        return self.reset_mem()
