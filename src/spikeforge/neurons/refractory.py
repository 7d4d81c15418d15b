"""``GradedRefractory``: the neuron of the hand-made PyTorch SNN (seed 003).

See ``ops.refractory.reference`` for the equations: decayed accumulation, a graded ReLU
output above threshold, a refractory penalty ``p + O_t`` subtracted on firing, and the
output emitted one step late.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ..ops.refractory.reference import refractory_step
from ._base import SpikingNeuron, as_float_tensor

__all__ = ["GradedRefractory", "GradedRefractoryState"]


class GradedRefractoryState(NamedTuple):
    mem: Tensor
    out: Tensor


class GradedRefractory(SpikingNeuron):
    """Decay, graded ReLU output, refractory penalty, one-step output delay.

    ``forward(input_, mem=None, out=None) -> (emitted, mem)``: ``emitted`` is the graded
    output of the previous step, ``mem`` the membrane after this step's update and penalty
    (``init_hidden=True`` returns ``emitted`` alone). The seed's layer used
    ``decay_multiplier=0.9, threshold=2.0, penalty_threshold=2.5``: those are the defaults.

    Example::

        >>> import torch, spikeforge as snn
        >>> neuron = snn.GradedRefractory()
        >>> x = torch.tensor([2.5])
        >>> [round(neuron(x)[0].item(), 4) for _ in range(3)]
        [0.0, 0.5, 0.05]
    """

    state_names = ("mem", "out")
    State = GradedRefractoryState

    def __init__(
        self,
        decay_multiplier: float | Tensor = 0.9,
        threshold: float | Tensor = 2.0,
        penalty_threshold: float | Tensor = 2.5,
        init_hidden: bool = False,
        output: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
    ) -> None:
        super().__init__(
            threshold=threshold,
            init_hidden=init_hidden,
            learn_threshold=learn_threshold,
            output=output,
        )
        self._register_rate("decay_multiplier", decay_multiplier, learn_decay)
        penalty = as_float_tensor("penalty_threshold", penalty_threshold)
        if (penalty < 0).any():
            raise ValueError(f"penalty_threshold must be >= 0, got {penalty.tolist()}")
        self.register_buffer("penalty_threshold", penalty)

    def forward(self, input_: Tensor, mem: Tensor | None = None, out: Tensor | None = None):
        return self._stateful_forward(input_, (mem, out))

    def _step(self, x: Tensor, states: tuple[Tensor, ...]):
        emitted, mem, out = refractory_step(
            x, states[0], states[1], self.decay_multiplier, self.threshold, self.penalty_threshold
        )
        return emitted, (mem, out)

    def _outputs(self, spk: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (spk, states[0])

    def extra_repr(self) -> str:
        return f"init_hidden={self.init_hidden}"

    def init_refractory(self) -> Any:
        """Alias of ``reset_mem()`` in the style of the other neurons' ``init_*``."""
        return self.reset_mem()
