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

from ._options import snntorch_signature
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

    @snntorch_signature()
    def __init__(self, **options: Any) -> None:
        super().__init__(beta=torch.tensor(1.0), **options)
