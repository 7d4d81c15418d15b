"""``LinearLeaky``: a linear layer applied at every step, then ``StateLeaky``'s filter.

.. math::
    U_t = \\sum_{k=0}^{\\min(t, K-1)} e^{-k/τ} (W X_{t-k} + b), \\qquad S_t = H(U_t − θ) · g^2
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._options import snntorch_signature
from .stateleaky import StateLeaky, _check_positive_int

__all__ = ["LinearLeaky"]


class LinearLeaky(StateLeaky):
    """``nn.Linear(in_features, out_features)`` per step, then ``StateLeaky`` dynamics.

    Same constructor, call and returns as ``snntorch.LinearLeaky``: ``x [T, B, in_features]``
    gives ``spk, mem`` of shape ``[T, B, out_features]`` (``mem`` alone when
    ``output=False``); the last ones are kept in ``self.spk`` / ``self.mem``. Equivalent to
    ``StateLeaky(beta, channels=out_features)(linear(x))``.
    """

    @snntorch_signature("beta", stateful=False, truncation=True, output=True)
    def __init__(
        self,
        beta: float | Tensor,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        super().__init__(beta, _check_positive_int("out_features", out_features), **options)
        self.linear = nn.Linear(
            _check_positive_int("in_features", in_features),
            out_features,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    def forward(self, input_: Tensor):
        self._check_sequence(input_, "input_", self.linear.in_features, "in_features")
        if input_.dtype != self.linear.weight.dtype:
            raise TypeError(
                f"LinearLeaky: input_ has dtype {input_.dtype} but its linear layer holds "
                f"{self.linear.weight.dtype} weights; convert one with .to(dtype)"
            )
        self.mem = self.membrane(self.linear(input_))
        return self._outputs_of(self.mem)
