"""``DeltaLeaky``: a leaky membrane that spikes on large changes, not on its level.

.. math::
    U_t = β U_{t-1} + X_t \\quad\\text{(no reset)}, \\qquad
    S_t = H(|U_t − U_{t-1}| − δ)

State ``(mem, mem_prev) = (U_t, U_{t-1})``. As snnTorch 1.0.0: no threshold, reset, graded
factor or state quantisation is applied; ``β`` is used as given.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..ops.config import NeuronConfig
from ..ops.lif import LEAKY
from .leaky import Leaky

__all__ = ["DeltaLeaky"]


class DeltaLeaky(Leaky):
    """Delta-modulated leaky neuron: spikes when the membrane moves by more than δ.

    Same constructor, call and returns as ``snntorch.DeltaLeaky``: ``DeltaLeaky(
    delta_threshold=1.0, *args, **kwargs)`` takes ``Leaky``'s arguments after ``δ`` (so
    ``DeltaLeaky(0.5, 0.9)`` is ``δ = 0.5``, ``β = 0.9``), and ``lif(x, (mem, mem_prev))``
    returns ``spk, (mem, mem_prev)``; ``lif.reset_mem()`` gives ``(None, None)``, which the
    next call reads as zeros. With ``init_hidden=True`` the state is kept on the instance
    (the ``mem`` argument is ignored) and the call still returns ``spk, (mem, mem_prev)``.

    ``step_mode="multi"`` (spikeforge's extension) maps ``x_seq [T, B, ...]`` to ``spk_seq,
    (mem_seq, mem_prev_seq)``; the membrane runs through Leaky's fused kernel with reset
    "none" (which clamps ``β`` to [0, 1], the same numbers while it stays there).
    """

    state_names = ("mem", "mem_prev")

    def __init__(self, delta_threshold: float | Tensor = 1.0, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if isinstance(delta_threshold, bool) or not isinstance(
            delta_threshold, (int, float, Tensor)
        ):
            kind = type(delta_threshold).__name__
            raise TypeError(f"delta_threshold must be a number or a tensor, got {kind}")
        self.delta_threshold = delta_threshold

    def _delta_step(self, x: Tensor, mem: Tensor) -> tuple[Tensor, Tensor]:
        mem_next = self.beta * mem + x
        spk = self.spike_grad((mem_next - mem).abs() - self.delta_threshold)
        return spk, mem_next

    def _delta_scan(self, x_seq: Tensor, mem: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # The membrane is Leaky's recurrence without reset, so it runs on Leaky's scan (the
        # fused kernels where the registry picks them); only the spike rule is DeltaLeaky's.
        cfg = NeuronConfig(self.spike_grad, "none")
        mem = mem.expand(x_seq.shape[1:]).contiguous()
        backend = self.select_backend(x_seq, cfg)
        _, (mem_seq,), _ = LEAKY.scan(x_seq, (mem,), self._params(), cfg, backend, True)
        prev_seq = torch.cat([mem.unsqueeze(0), mem_seq[:-1]])
        spk = self.spike_grad((mem_seq - prev_seq).abs() - self.delta_threshold)
        return spk, mem_seq, prev_seq

    def forward(self, input_: Tensor, mem: Any = None):
        cls = type(self).__name__
        if not isinstance(input_, Tensor) or not input_.is_floating_point():
            raise TypeError(f"{cls}: input_ must be a floating-point torch.Tensor")
        multi = self._step_mode == "multi"
        like = input_[0] if multi else input_
        if self.init_hidden:
            states = (self._buffers["mem"], self._buffers["mem_prev"])
        else:
            if mem is None:
                raise TypeError(
                    f"{cls}: pass the state `mem` = (mem, mem_prev) returned by the previous "
                    "call (or lif.reset_mem() to start from zero) when init_hidden=False"
                )
            if not isinstance(mem, (tuple, list)) or len(mem) != 2:
                raise TypeError(
                    f"{cls}: mem must be the pair (mem, mem_prev), got {type(mem).__name__}"
                )
            states = tuple(mem)
        current = [torch.zeros_like(like) if s is None or s.numel() == 0 else s for s in states]
        if multi:
            spk, mem_out, prev_out = self._delta_scan(input_, current[0])
            self._buffers["mem"], self._buffers["mem_prev"] = mem_out[-1], prev_out[-1]
        else:
            spk, mem_out = self._delta_step(input_, current[0])
            prev_out = current[0]
            self._buffers["mem"], self._buffers["mem_prev"] = mem_out, prev_out
        return spk, (mem_out, prev_out)

    def reset_mem(self) -> tuple[None, None]:
        """Forget the state; returns ``(None, None)`` (read as zeros by the next call)."""
        super().reset_mem()
        return None, None

    def init_leaky(self) -> tuple[None, None]:
        """Deprecated snnTorch alias of ``reset_mem()``."""
        return self.reset_mem()

    def extra_repr(self) -> str:
        return f"delta_threshold={self.delta_threshold}, " + super().extra_repr()
