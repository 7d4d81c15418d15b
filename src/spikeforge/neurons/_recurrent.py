"""The recurrent spike path shared by ``RLeaky`` and ``RSynaptic``.

``rec(S)`` is one of: a dense ``nn.Linear(N, N)`` (``linear_features=N``), an
``nn.Conv2d(C, C, k, padding=k // 2)`` (``conv2d_channels=C, kernel_size=k``), or the
one-to-one ``V · S`` (``all_to_all=False``; ``V`` is a scalar or per-neuron tensor).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..ops.common.args import broadcasts_into
from ..ops.config import NeuronConfig
from ._base import as_float_tensor

__all__ = ["RecurrentMixin"]


def _positive_int(cls: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{cls}: {name} must be a positive int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{cls}: {name} must be a positive int, got {value}")
    return value


def odd_kernel_pair(cls: str, kernel_size: Any) -> tuple[int, int]:
    """``k`` or ``(kh, kw)`` as a pair of odd positive ints (``padding = k // 2`` keeps H, W)."""
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{cls}: kernel_size must be an int or a pair of ints, got {kernel_size!r}")
    kh, kw = (_positive_int(cls, "kernel_size", k) for k in pair)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"{cls}: kernel_size must be odd so that padding k // 2 keeps the spatial size, "
            f"got {kernel_size!r}"
        )
    return kh, kw


def check_recurrent_args(
    cls: str, all_to_all: bool, linear_features: Any, conv2d_channels: Any, kernel_size: Any
) -> None:
    """snnTorch's rules for choosing the recurrence (it raises TypeError too)."""
    has_linear = linear_features is not None
    has_conv = conv2d_channels is not None or kernel_size is not None
    if not all_to_all:
        if has_linear or has_conv:
            raise TypeError(
                f"{cls}: with all_to_all=False the one-to-one weight V is used, so "
                "linear_features, conv2d_channels and kernel_size must stay None; got "
                f"linear_features={linear_features!r}, conv2d_channels={conv2d_channels!r}, "
                f"kernel_size={kernel_size!r}"
            )
        return
    if has_linear and has_conv:
        raise TypeError(
            f"{cls}: give either linear_features (dense recurrence) or conv2d_channels and "
            f"kernel_size (convolutional recurrence), not both; got linear_features="
            f"{linear_features!r}, conv2d_channels={conv2d_channels!r}, kernel_size={kernel_size!r}"
        )
    if not has_linear and not has_conv:
        raise TypeError(
            f"{cls}: all_to_all=True needs linear_features=N or conv2d_channels=C with "
            "kernel_size=k, matching the layer's output; got none of them "
            "(pass all_to_all=False for one-to-one recurrent weights V)"
        )
    if has_conv and (conv2d_channels is None or kernel_size is None):
        missing = "kernel_size" if kernel_size is None else "conv2d_channels"
        raise TypeError(
            f"{cls}: a convolutional recurrence needs both conv2d_channels and "
            f"kernel_size; {missing} is missing"
        )


class RecurrentMixin:
    """Builds ``self.recurrent`` (or ``self.V``) and applies ``rec(S)``; for LIF subclasses.

    The one-to-one recurrence has fused kernels (``ops.rleaky``, ``ops.rsynaptic``), the
    dense one a hand-written-BPTT ``torch`` op (``ops.dense``); the convolutional one runs
    on the reference (``auto``), and a named backend raises.
    """

    def _init_recurrence(
        self,
        V: Any,
        all_to_all: bool,
        linear_features: Any,
        conv2d_channels: Any,
        kernel_size: Any,
        learn_recurrent: bool,
    ) -> None:
        cls = type(self).__name__
        check_recurrent_args(cls, all_to_all, linear_features, conv2d_channels, kernel_size)
        self.all_to_all = all_to_all
        self.learn_recurrent = learn_recurrent
        self.linear_features = linear_features
        self.conv2d_channels = conv2d_channels
        self.kernel_size = kernel_size
        if not all_to_all:
            self._register_tensor("V", as_float_tensor("V", V), learn_recurrent)
            return
        if linear_features is not None:
            n = _positive_int(cls, "linear_features", linear_features)
            self.recurrent = nn.Linear(n, n)
        else:
            channels = _positive_int(cls, "conv2d_channels", conv2d_channels)
            kh, kw = odd_kernel_pair(cls, kernel_size)
            self.padding = (kh // 2, kw // 2)
            self.recurrent = nn.Conv2d(channels, channels, (kh, kw), padding=self.padding)
        if not learn_recurrent:
            self.recurrent.requires_grad_(False)

    def _recurrent_weights(self) -> Tensor | nn.Module:
        """What the recurrence reads as ``rec``: the layer, or the one-to-one weights ``V``."""
        return self.recurrent if self.all_to_all else self.V

    def _check_recurrent_input(self, x: Tensor) -> None:
        cls = type(self).__name__
        if getattr(self, "step_mode", "single") == "multi" and x.dim() > 1:
            x = x[0]  # a time-major sequence: check one step
        if not self.all_to_all:
            try:
                shape = torch.broadcast_shapes(self.V.shape, x.shape)
            except RuntimeError:
                shape = None
            if shape != x.shape:
                raise ValueError(
                    f"{cls}: V of shape {tuple(self.V.shape)} must broadcast to input_'s shape "
                    f"{tuple(x.shape)} without changing it"
                )
            return
        if self.linear_features is not None:
            if x.dim() == 0 or x.shape[-1] != self.linear_features:
                raise ValueError(
                    f"{cls}: input_ must end in linear_features={self.linear_features}, "
                    f"got shape {tuple(x.shape)}"
                )
        elif x.dim() not in (3, 4) or x.shape[-3] != self.conv2d_channels:
            raise ValueError(
                f"{cls}: input_ must be [B, C, H, W] or [C, H, W] with C = conv2d_channels="
                f"{self.conv2d_channels}, got shape {tuple(x.shape)}"
            )

    def _recurrent_unfusable_reason(self, x: Tensor, single_step: bool) -> str | None:
        """Why the recurrence needs the reference, or None if the fused op can run it."""
        if self.all_to_all:
            return "the convolutional recurrence (conv2d_channels) has no fused kernel"
        V = self.V
        if torch.promote_types(V.dtype, x.dtype) != x.dtype:
            return f"V has dtype {V.dtype}, wider than the input's {x.dtype}"
        state = x.shape if single_step else x.shape[1:]
        if not broadcasts_into(V, state):
            return f"V of shape {tuple(V.shape)} does not fit the state {tuple(state)}"
        return None

    def _dense(self) -> bool:
        return self.all_to_all and self.linear_features is not None

    def active_recurrence(self):
        """The dense recurrence has its own op (``<op>_dense``, a ``torch`` backend)."""
        return self.dense_recurrence if self._dense() else self.recurrence

    def unfusable_reason(self, x: Tensor, cfg: NeuronConfig, single_step: bool) -> str | None:
        """The base class's reasons, after the one-to-one recurrence's own limits."""
        if not self._dense():
            reason = self._recurrent_unfusable_reason(x, single_step)
            if reason is not None:
                return reason
        return super().unfusable_reason(x, cfg, single_step)
