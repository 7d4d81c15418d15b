"""The hand-made network's neuron (seed 003), the oracle.

.. math::
    V_t = W X_t + λ V_{t-1}                 \\text{(decayed accumulation)}

    O_t = \\mathrm{ReLU}(V_t − θ)           \\text{(graded output above threshold)}

    V_t ← V_t − (p + O_t) · H(O_t)          \\text{(refractory penalty on firing)}

The output emitted at step ``t`` is ``O_{t-1}`` (one step of delay). ``H(O_t)`` carries no
gradient; ``O_t`` carries ReLU's gradient, so no surrogate is needed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def refractory_step(
    x: Tensor, mem: Tensor, out: Tensor, decay: Tensor, threshold: Tensor, penalty: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """One step: returns ``(emitted, V_t, O_t)`` where ``emitted = O_{t-1}``."""
    mem_new = x + mem * decay
    out_new = torch.relu(mem_new - threshold)
    fired = (out_new > 0).to(mem_new.dtype)
    mem_new = mem_new - (penalty + out_new) * fired
    return out, mem_new, out_new


def refractory_scan(
    x_seq: Tensor, mem: Tensor, out: Tensor, decay: Tensor, threshold: Tensor, penalty: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """All steps of ``x_seq [T, ...]``: returns ``(emitted [T], V [T], O [T])``."""
    emitted, mems, outs = [], [], []
    for x in x_seq:
        e, mem, out = refractory_step(x, mem, out, decay, threshold, penalty)
        emitted.append(e)
        mems.append(mem)
        outs.append(out)
    return torch.stack(emitted), torch.stack(mems), torch.stack(outs)
