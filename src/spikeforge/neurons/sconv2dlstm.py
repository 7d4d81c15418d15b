"""``SConv2dLSTM``: a spiking convolutional LSTM cell (``ops.sconv2dlstm``)."""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.sconv2dlstm.reference import sconv2dlstm_step
from ._base import SpikingNeuron
from ._options import snntorch_signature
from ._recurrent import _positive_int, odd_kernel_pair

__all__ = ["SConv2dLSTM", "SConv2dLSTMState"]


class SConv2dLSTMState(NamedTuple):
    syn: Tensor
    mem: Tensor


class SConv2dLSTM(SpikingNeuron):
    """Spiking ConvLSTM: one ``conv([X_t, U_{t-1}])`` gives the gates ``i, f, o, g``;
    ``C_t = σ(f) C_{t-1} + σ(i) tanh(g)``, ``U_t = σ(o) tanh(C_t)``, ``S_t = H(pool(U_t) − θ)``.

    ``syn = C`` and ``mem = U`` have shape ``[B, out_channels, H, W]``; the spikes are
    max- or average-pooled first when ``max_pool`` or ``avg_pool`` is set. The default
    ``reset_mechanism`` is ``"none"``. Same constructor, call and returns as
    ``snntorch.SConv2dLSTM``: ``cell(x, syn, mem) -> (spk, syn, mem)``.

    Example::

        >>> import torch, spikeforge as snn
        >>> cell = snn.SConv2dLSTM(1, 4, kernel_size=3, max_pool=2)
        >>> syn, mem = cell.init_sconv2dlstm()
        >>> spk, syn, mem = cell(torch.rand(2, 1, 8, 8), syn, mem)
        >>> tuple(spk.shape), tuple(mem.shape)
        ((2, 4, 4, 4), (2, 4, 8, 8))
    """

    state_names = ("syn", "mem")
    State = SConv2dLSTMState

    @snntorch_signature(graded=False, delay=False, reset_mechanism="none")
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        bias: bool = True,
        max_pool: int | tuple[int, int] = 0,
        avg_pool: int | tuple[int, int] = 0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.in_channels = _positive_int("SConv2dLSTM", "in_channels", in_channels)
        self.out_channels = _positive_int("SConv2dLSTM", "out_channels", out_channels)
        kh, kw = odd_kernel_pair("SConv2dLSTM", kernel_size)
        if max_pool and avg_pool:
            raise ValueError(
                "SConv2dLSTM: give only one of max_pool and avg_pool, "
                f"got max_pool={max_pool!r} and avg_pool={avg_pool!r}"
            )
        self.kernel_size = kernel_size
        self.max_pool = max_pool
        self.avg_pool = avg_pool
        self.bias = bias
        self.padding = (kh // 2, kw // 2)
        self.conv = nn.Conv2d(
            in_channels + out_channels,
            4 * out_channels,
            (kh, kw),
            padding=self.padding,
            bias=bias,
        )

    def forward(self, input_: Tensor, syn: Tensor | None = None, mem: Tensor | None = None):
        return self._stateful_forward(input_, (syn, mem))

    def state_shape(self, x: Tensor) -> torch.Size:
        """``[B, out_channels, H, W]`` for an input ``[B, in_channels, H, W]``."""
        return torch.Size((x.shape[0], self.out_channels, *x.shape[2:]))

    def _check_input(self, x: Any) -> None:
        super()._check_input(x)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SConv2dLSTM: input_ must be [B, in_channels, H, W] with in_channels="
                f"{self.in_channels}, got shape {tuple(x.shape)}"
            )

    def _pool(self):
        if self.max_pool:
            return partial(F.max_pool2d, kernel_size=self.max_pool)
        if self.avg_pool:
            return partial(F.avg_pool2d, kernel_size=self.avg_pool)
        return None

    def _step(self, x: Tensor, states: tuple[Tensor, ...]):
        spk, syn, mem = sconv2dlstm_step(
            x,
            states[0],
            states[1],
            self.conv,
            self.threshold,
            self.graded_spikes_factor,
            self.config(),
            self._pool(),
        )
        return spk, (syn, mem)

    def init_sconv2dlstm(self) -> tuple[Tensor, Tensor]:
        """Deprecated snnTorch alias of ``reset_mem()``: returns ``(syn, mem)``."""
        return self.reset_mem()
