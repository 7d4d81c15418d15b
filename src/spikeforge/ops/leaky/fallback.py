"""The fused Leaky op in plain torch (any device): same contract and same hand-written
backward as the CPU and Triton kernels, one loop over time per direction.

State is kept in float32 for half/bfloat16 inputs and stored in the input's dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ... import surrogate as _surrogate
from ..common.torch_rows import compute_dtype


def forward(
    x: Tensor, u0: Tensor, beta: Tensor, thr: Tensor, graded: Tensor,
    reset: int, delay: bool, store: bool, spk: Tensor, useq: Tensor, vpre: Tensor,
) -> None:  # fmt: skip
    """Fill ``spk``, ``useq`` and ``vpre`` as ``cpu.leaky_forward`` does."""
    cd = compute_dtype(x.dtype)
    u = u0.to(cd)
    b, th, g = beta.to(cd), thr.to(cd), graded.to(cd)
    tx = x.shape[0] > 1
    for t in range(spk.shape[0]):
        fired = u > th
        xt = x[t if tx else 0].to(cd)
        if reset == 0:
            v = b * u + xt - torch.where(fired, th, 0.0)
        elif reset == 1:
            v = b * torch.where(fired, 0.0, u) + xt
        else:
            v = b * u + xt
        h = v > th
        spk[t] = torch.where(h, g, 0.0)
        if delay:
            u = v
        else:
            d = h.to(cd) - fired.to(cd)
            u = v - d * th if reset == 0 else (v - d * v if reset == 1 else v)
            if store:
                vpre[t] = v
        if store:
            useq[t] = u
    if not store:
        useq[0] = u


def backward(
    gs: Tensor, gu: Tensor, useq: Tensor, vpre: Tensor, u0: Tensor,
    beta: Tensor, thr: Tensor, graded: Tensor, spike: _surrogate.Surrogate,
    reset: int, delay: bool, gx: Tensor, gu0: Tensor, gb: Tensor, gth: Tensor, gg: Tensor,
) -> None:  # fmt: skip
    """Reverse-time BPTT, filling the gradient buffers as ``cpu.leaky_backward`` does."""
    cd = compute_dtype(useq.dtype)
    T = useq.shape[0]
    b, th, g = beta.to(cd), thr.to(cd), graded.to(cd)
    carry = torch.zeros(useq.shape[1], dtype=cd, device=useq.device)
    acc_x, acc_b, acc_th, acc_g = (torch.zeros_like(carry) for _ in range(4))
    for t in range(T - 1, -1, -1):
        v = (useq[t] if delay else vpre[t]).to(cd)
        up = (u0 if t == 0 else useq[t - 1]).to(cd)
        z = v - th
        sg = spike.grad(z)
        h = z > 0
        fired = up > th
        gut = carry + gu[t].to(cd) if gu.shape[0] else carry
        gsk = gs[t if gs.shape[0] > 1 else 0].to(cd) if gs.shape[0] else torch.zeros_like(carry)
        gss = gsk * g * sg
        if delay or reset == 2:
            gv, dth = gut + gss, -gss
        else:
            d = h.to(cd) - fired.to(cd)
            if reset == 0:
                gv, dth = gut * (1 - th * sg) + gss, gut * (th * sg - d) - gss
            else:
                gv, dth = gut * (1 - d - v * sg) + gss, gut * v * sg - gss
        acc_g += torch.where(h, gsk, 0.0)
        if gx.shape[0] > 1:
            gx[t] = gv
        else:
            acc_x += gv
        keep = torch.where(fired, 0.0, 1.0).to(cd) if reset == 1 else 1.0
        acc_b += gv * keep * up
        if reset == 0:
            dth = dth - torch.where(fired, gv, 0.0)
        carry = b * keep * gv
        acc_th += dth
    if gx.shape[0] == 1:
        gx[0] = acc_x
    for out, acc in ((gu0, carry), (gb, acc_b), (gth, acc_th), (gg, acc_g)):
        if out.shape[0]:
            out.copy_(acc)
