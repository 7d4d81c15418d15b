"""``IAF``: integrate-and-fire without leak (the workshop seed's neuron).

.. math::
    U_t = U_{t-1} + X_t − R_t θ, \\qquad S_t = H(U_t − θ)

It is ``Leaky`` with ``β`` fixed at 1 and shares Leaky's reference and kernels
(``ops.lif``). ``reset_delay=False`` resets in the same step as the spike, as Sinabs'
and the workshop's IAF do; the default follows snnTorch (reset on the next step).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .leaky import Leaky

__all__ = ["IAF"]


class IAF(Leaky):
    """Integrate-and-fire neuron: a ``Leaky`` whose membrane never decays (``β = 1``).

    Example::

        >>> import torch, spikeforge as snn
        >>> iaf = snn.IAF(threshold=1.0)
        >>> [iaf(torch.tensor([0.4]))[0].item() for _ in range(4)]  # U: .4, .8, 1.2, .6
        [0.0, 0.0, 1.0, 0.0]
    """

    def __init__(
        self,
        threshold: float | Tensor = 1.0,
        spike_grad: Any = None,
        surrogate_disable: bool = False,
        init_hidden: bool = False,
        inhibition: bool = False,
        learn_threshold: bool = False,
        reset_mechanism: str = "subtract",
        state_quant: Any = False,
        output: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
        reset_delay: bool = True,
    ) -> None:
        super().__init__(
            beta=torch.tensor(1.0),
            threshold=threshold,
            spike_grad=spike_grad,
            surrogate_disable=surrogate_disable,
            init_hidden=init_hidden,
            inhibition=inhibition,
            learn_threshold=learn_threshold,
            reset_mechanism=reset_mechanism,
            state_quant=state_quant,
            output=output,
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            reset_delay=reset_delay,
        )
