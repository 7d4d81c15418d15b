"""``Leaky``: the first-order leaky integrate-and-fire neuron (see ``ops.leaky.reference``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.leaky import step_cpu
from ..ops.leaky.op import leaky_scan_fused, leaky_step_fused
from ..ops.leaky.reference import leaky_scan, leaky_step
from ._base import LIF

__all__ = ["Leaky", "LeakyState"]


class LeakyState(NamedTuple):
    mem: Tensor


class Leaky(LIF):
    """First-order LIF: ``U_t = β U_{t-1} + X_t − R_t θ``, ``S_t = H(U_t − θ)·g``.

    Same constructor, call and returns as ``snntorch.Leaky``: ``lif(x, mem) -> (spk, mem)``,
    or ``spk`` alone when ``init_hidden=True`` and ``output=False``. With
    ``step_mode="multi"`` a call maps ``x_seq [T, B, ...]`` to ``(spk_seq, mem_seq)``, both
    ``[T, B, ...]``, through one fused kernel (``backend`` picks it; see ``ops._dispatch``).

    Example::

        >>> import torch, spikeforge as snn
        >>> lif = snn.Leaky(beta=0.9)
        >>> mem = lif.init_leaky()
        >>> spk, mem = lif(torch.tensor([1.2]), mem)
        >>> spk.item(), round(mem.item(), 4)
        (1.0, 1.2)
    """

    state_names = ("mem",)
    State = LeakyState
    fused_op = "leaky"

    def __init__(
        self,
        beta: float | Tensor,
        threshold: float | Tensor = 1.0,
        spike_grad: Any = None,
        surrogate_disable: bool = False,
        init_hidden: bool = False,
        inhibition: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_mechanism: str = "subtract",
        state_quant: Any = False,
        output: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
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
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            reset_delay=reset_delay,
            step_mode=step_mode,
            backend=backend,
        )

    def forward(self, input_: Tensor, mem: Tensor | None = None):
        if self._step_mode == "single" and (mem is None or not self.init_hidden):
            # The step API's common case on the CPU lane, with the shell's bookkeeping cut
            # to what this case needs; anything else (and every error) takes the full path.
            state = self._buffers["mem"] if mem is None else mem
            plan = self._lane_plan(input_, state)
            if plan is not None:
                spk, new = step_cpu.leaky_step_cpu(input_, state, plan)
                self._buffers["mem"] = new
                return spk if self.init_hidden and not self.output else (spk, new)
        return self._stateful_forward(input_, (mem,))

    def _lane_plan(self, x: Tensor, mem: Tensor) -> step_cpu.StepPlan | None:
        """The CPU step lane's plan for this call, or None for the general path. Kept
        between calls under ``step_cpu.plan_key``; made by the same backend choice as the
        general path."""
        if not step_cpu.fits(x, mem) or type(self)._step is not Leaky._step:
            return None  # (a subclass with its own step takes the general path)
        params = (self._own_tensor("beta"), self._own_tensor("threshold"),
                  self._own_tensor("graded_spikes_factor"))  # fmt: skip
        options = (self.spike_grad, self._reset_mechanism, self.reset_delay, self.state_quant,
                   self.inhibition, self._backend)  # fmt: skip
        key = step_cpu.plan_key(x, *params, options)
        if key is None:
            return None
        cached = self.__dict__.get("_lane_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        cfg = self.config()
        plan = None
        if self.select_backend(x, cfg, single_step=True) == "cpu":
            plan = step_cpu.plan_step(x, mem, *params, cfg)
        self._lane_cache = (key, plan)
        return plan

    def cheap_fused_step(self, x: Tensor) -> bool:
        return step_cpu.lane_runs(x, self.beta, self.threshold, self.graded_spikes_factor)

    def _step(self, x: Tensor, states: tuple[Tensor, ...]):
        cfg = self.config()
        args = (x, states[0], self.beta, self.threshold, self.graded_spikes_factor, cfg)
        backend = self.select_backend(x, cfg, single_step=True)
        if backend == "reference":
            spk, mem = leaky_step(*args)
        else:
            spk, mem = leaky_step_fused(*args, backend)
        return spk, (mem,)

    def _scan(self, x_seq: Tensor, states: tuple[Tensor, ...], need_seqs: bool):
        cfg = self.config()
        args = (x_seq, states[0], self.beta, self.threshold, self.graded_spikes_factor, cfg)
        backend = self.select_backend(x_seq, cfg)
        if backend == "reference":
            spk, mem_seq = leaky_scan(*args)
            return spk, (mem_seq,), (mem_seq[-1],)
        spk, mem_seq, mem = leaky_scan_fused(*args, backend, need_mem_seq=need_seqs)
        return spk, (mem_seq,) if need_seqs else None, (mem,)

    def init_leaky(self) -> Tensor:
        """Deprecated snnTorch alias of ``reset_mem()``."""
        return self.reset_mem()
