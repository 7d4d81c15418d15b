"""The LIF family's recurrence in plain torch (any device): the contract of
``op.py`` with the hand-written backward of the CPU and Triton kernels,
one loop over time per direction. ``model`` is a mask of ``flags.SYN | REC | KEEP``.

Step t (``r = H(U_{t−1} − θ)``, ``H`` strict), in the references' operation order::

    W = (β U_{t−1} + X_t) + [REC] v S_{t−1}                    (no SYN)
    I_t = (α I_{t−1} + X_t) + [REC] v S_{t−1},  W = β U_{t−1} + I_t     (SYN)
    V = W − r θ | (r ? 0 : W) | β (r ? 0 : U_{t−1}) + … [KEEP] | W      (subtract|zero|none)
    S_t = g H(V − θ),  U_t = V (delay or none) | V − (h − r) θ | V − (h − r) V

State is kept in float32 for half/bfloat16 inputs and stored in the buffers' dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...surrogate import Surrogate
from ..common.torch_rows import compute_dtype
from .flags import KEEP, REC, SYN

__all__ = ["backward", "forward"]

Recurrent = Callable[[Tensor], Tensor]


def forward(
    x: Tensor, i0: Tensor, u0: Tensor, s0: Tensor, alpha: Tensor, beta: Tensor, vrec: Tensor,
    thr: Tensor, graded: Tensor, model: int, reset: int, delay: bool, store: bool,
    spk: Tensor, iseq: Tensor, useq: Tensor, vpre: Tensor, rec: Recurrent | None = None,
) -> None:  # fmt: skip
    """Fill ``spk [T, N]``, ``iseq``/``useq`` (every step if ``store``, else the final state)
    and ``vpre`` (``V_t`` when ``store`` and not ``delay``) from ``x [T or 1, N]``. ``rec``
    replaces the one-to-one ``v S`` by ``rec(S)`` (``ops.dense``: an ``nn.Linear``)."""
    cd = compute_dtype(x.dtype)
    syn, keep = model & SYN, model & KEEP and reset == 1
    rec = rec if rec is not None else model & REC
    a, b, v, th, g = (p.to(cd) for p in (alpha, beta, vrec, thr, graded))
    cur = i0.to(cd) if syn else None
    s = s0.to(cd) if rec else None
    u = u0.to(cd)
    feedback = rec if callable(rec) else (lambda s: v * s)
    for t in range(spk.shape[0]):
        fired = u > th
        xt = x[t if x.shape[0] > 1 else 0].to(cd)
        kept = torch.where(fired, 0.0, u) if keep else u
        if syn:
            cur = a * cur + xt
            cur = cur + feedback(s) if rec else cur
            w = b * kept + cur
        else:
            w = b * kept + xt
            w = w + feedback(s) if rec else w
        if reset == 0:
            w = w - torch.where(fired, th, 0.0)
        elif reset == 1 and not keep:
            w = torch.where(fired, 0.0, w)
        h = w > th
        s = torch.where(h, g, 0.0)
        spk[t] = s
        if delay or reset == 2:
            u = w
        else:
            d = h.to(cd) - fired.to(cd)
            u = w - d * th if reset == 0 else w - d * w
        if vpre.shape[0]:
            vpre[t] = w
        if store:
            useq[t] = u
            if syn:
                iseq[t] = cur
    if not store:
        useq[0] = u
        if syn:
            iseq[0] = cur


def backward(
    gs: Tensor, gi: Tensor, gu: Tensor, spk: Tensor, iseq: Tensor, useq: Tensor, vpre: Tensor,
    i0: Tensor, u0: Tensor, s0: Tensor, alpha: Tensor, beta: Tensor, vrec: Tensor, thr: Tensor,
    graded: Tensor, spike: Surrogate, model: int, reset: int, delay: bool, gx: Tensor,
    gi0: Tensor, gu0: Tensor, gs0: Tensor, ga: Tensor, gb: Tensor, gv: Tensor, gth: Tensor,
    gg: Tensor, rec_t: Recurrent | None = None,
) -> None:  # fmt: skip
    """Reverse-time BPTT: fill the gradient buffers (a 0-row one is skipped). ``gs`` has 0, 1
    (the same every step) or T rows; ``gx`` T rows, or 1 holding the sum over time.
    ``rec_t`` maps ∂L/∂rec(S) to ∂L/∂S when ``forward`` ran with ``rec``."""
    cd = compute_dtype(useq.dtype)
    T, N = useq.shape
    syn, rec, keep = model & SYN, model & REC, model & KEEP
    a, b, vw, th, g = (p.to(cd) for p in (alpha, beta, vrec, thr, graded))
    zero = torch.zeros(N, dtype=cd, device=useq.device)
    cu = ci = cs = acc_x = acc_a = acc_b = acc_v = acc_th = acc_g = zero
    for t in range(T - 1, -1, -1):
        v = (useq[t] if delay else vpre[t]).to(cd)
        up = (u0 if t == 0 else useq[t - 1]).to(cd)
        z = v - th
        sg = spike.grad(z)
        h, fired = z > 0, up > th
        gut = cu + gu[t].to(cd) if gu.shape[0] else cu
        gS = gs[t if gs.shape[0] > 1 else 0].to(cd) if gs.shape[0] else zero
        gS = gS + cs if rec else gS
        gss = gS * g * sg
        if delay or reset == 2:
            dv, dth = gut + gss, -gss
        else:
            d = h.to(cd) - fired.to(cd)
            if reset == 0:
                dv, dth = gut * (1 - th * sg) + gss, gut * (th * sg - d) - gss
            else:
                dv, dth = gut * (1 - d - v * sg) + gss, gut * v * sg - gss
        if reset == 0:
            dth = dth - torch.where(fired, dv, 0.0)
        gwu = torch.where(fired, 0.0, dv) if reset == 1 else dv
        gc = dv if keep else gwu  # the m path: masked by the zero reset unless KEEP
        if gb.shape[0]:
            acc_b = acc_b + gwu * up
        cu = b * gwu
        if syn:
            gc = gc + ci + gi[t].to(cd) if gi.shape[0] else gc + ci
            if ga.shape[0]:
                acc_a = acc_a + gc * (i0 if t == 0 else iseq[t - 1]).to(cd)
            ci = a * gc
        if rec:
            if gv.shape[0]:
                acc_v = acc_v + gc * (s0 if t == 0 else spk[t - 1]).to(cd)
            cs = rec_t(gc) if rec_t is not None else vw * gc
        if gth.shape[0]:
            acc_th = acc_th + dth
        if gg.shape[0]:
            acc_g = acc_g + torch.where(h, gS, 0.0)
        if gx.shape[0] == T:
            gx[t] = gc
        else:
            acc_x = acc_x + gc
    if gx.shape[0] == 1 and T > 1:
        gx[0] = acc_x
    outs = ((gi0, ci), (gu0, cu), (gs0, cs), (ga, acc_a), (gb, acc_b), (gv, acc_v),
            (gth, acc_th), (gg, acc_g))  # fmt: skip
    for out, acc in outs:
        if out.shape[0]:
            out.copy_(acc)
