"""The LIF family's fused Triton kernels: one launch forward over all T steps, one backward.

One recurrence, selected by compile-time flags (``ops/lif`` contract): ``SYN`` a synaptic
current ``I``, ``REC`` a one-to-one recurrent input ``v ⊙ S_{t−1}``, ``KEEP`` Leaky's zero
reset that keeps this step's input; reset ``RESET`` (0 subtract, 1 zero, 2 none), ``DELAY``.

.. math::
    r = H(U_{t−1} − θ),\\quad c = X_t + v S_{t−1},\\quad I_t = α I_{t−1} + c,\\quad
    V = β U_{t−1} + (I_t \\text{ or } c) − \\text{reset}(r),\\quad S_t = g H(V − θ)

Each program owns ``BLOCK`` neurons and walks time with the state in registers (float32,
float64 for float64 inputs); ``T`` is a runtime argument (``do_not_specialize``), so one
compiled kernel serves every sequence length. ``α``, ``β`` arrive clamped by the wrapper
(Lapicque's decay unclamped): the kernels never clamp. Replaces the Leaky, Synaptic, RLeaky and
RSynaptic kernels with the same float operations; tested with ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.triton import acc_dtype, block_size, param_stride, surrogate_grad

__all__ = ["backward", "forward"]


@triton.jit
def _param(ptr, stride, offs, mask, ACC: tl.constexpr):
    """A ``[1]`` (stride 0) or ``[N]`` (stride 1) parameter, in the state's dtype."""
    return tl.load(ptr + offs * stride, mask=mask, other=0.0).to(ACC)


@triton.jit
def _prev(seq_ptr, init_ptr, t, row, N, offs, mask, ACC: tl.constexpr):
    """Step ``t − 1`` of ``seq [T, N]``, or the initial ``init [N]`` when ``t == 0``."""
    if t > 0:
        out = tl.load(seq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
    else:
        out = tl.load(init_ptr + offs, mask=mask, other=0.0).to(ACC)
    return out


@triton.jit
def _put(ptr, value, offs, mask, ON: tl.constexpr):
    """Store ``value`` in ``ptr``'s dtype when the output is wanted (``ON``)."""
    if ON:
        tl.store(ptr + offs, value.to(ptr.dtype.element_ty), mask=mask)


@triton.jit(do_not_specialize=["T"])
def _lif_fwd_kernel(
    # inputs: x [Tx, N] (x_tstride 0: the same input every step); i0 [N] if SYN, u0 [N],
    # s0 [N] if REC; alpha, beta, vrec, thr, graded [1] or [N] (stride 0 or 1)
    x_ptr, i0_ptr, u0_ptr, s0_ptr, a_ptr, b_ptr, vr_ptr, th_ptr, g_ptr,
    # outputs: spk [T, N]; iseq (SYN), useq [T, N] if STORE else [1, N]; vpre [T, N] if
    # STORE and not DELAY
    spk_ptr, iseq_ptr, useq_ptr, vpre_ptr,
    T, N, x_tstride, a_st, b_st, vr_st, th_st, g_st,
    SYN: tl.constexpr, REC: tl.constexpr, KEEP: tl.constexpr, RESET: tl.constexpr,
    DELAY: tl.constexpr, STORE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    u = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
    b = _param(b_ptr, b_st, offs, mask, ACC)
    th = _param(th_ptr, th_st, offs, mask, ACC)
    g = _param(g_ptr, g_st, offs, mask, ACC)
    if SYN:
        cur = tl.load(i0_ptr + offs, mask=mask, other=0.0).to(ACC)
        a = _param(a_ptr, a_st, offs, mask, ACC)
    if REC:
        s = tl.load(s0_ptr + offs, mask=mask, other=0.0).to(ACC)
        vw = _param(vr_ptr, vr_st, offs, mask, ACC)
    out_ty = spk_ptr.dtype.element_ty
    for t in range(T):
        row = tl.cast(t, tl.int64) * N
        xv = tl.load(x_ptr + tl.cast(t, tl.int64) * x_tstride + offs, mask=mask, other=0.0)
        m = xv.to(ACC)
        fired = u > th
        if SYN:
            cur = a * cur + m
            if REC:
                cur = cur + s * vw
            m = cur
        w = b * tl.where(fired, 0.0, u) + m if RESET == 1 and KEEP else b * u + m
        if REC and not SYN:
            w = w + s * vw
        if RESET == 0:
            v = w - tl.where(fired, th, 0.0)
        elif RESET == 1 and not KEEP:
            v = tl.where(fired, 0.0, w)
        else:
            v = w
        h = v > th
        sp = tl.where(h, g, 0.0)
        if REC:
            s = sp
        tl.store(spk_ptr + row + offs, sp.to(out_ty), mask=mask)
        if DELAY:
            u = v
        else:
            d = h.to(ACC) - fired.to(ACC)
            if RESET == 0:
                u = v - d * th
            elif RESET == 1:
                u = v - d * v
            else:
                u = v
            if STORE:
                tl.store(vpre_ptr + row + offs, v.to(out_ty), mask=mask)
        if STORE:
            if SYN:
                tl.store(iseq_ptr + row + offs, cur.to(out_ty), mask=mask)
            tl.store(useq_ptr + row + offs, u.to(out_ty), mask=mask)
    if not STORE:
        if SYN:
            tl.store(iseq_ptr + offs, cur.to(out_ty), mask=mask)
        tl.store(useq_ptr + offs, u.to(out_ty), mask=mask)


@triton.jit(do_not_specialize=["T"])
def _lif_bwd_kernel(
    # upstream gradients: gs [Ts, N] (Ts 0: HAS_GS False, 1: gs_tstride 0, or T); gi [T, N]
    # if HAS_GI; gu [T, N] if HAS_GU
    gs_ptr, gi_ptr, gu_ptr,
    # the forward's: spk, iseq (SYN), useq [T, N], vpre [T, N] if not DELAY; its inputs
    spk_ptr, iseq_ptr, useq_ptr, vpre_ptr, i0_ptr, u0_ptr, s0_ptr,
    a_ptr, b_ptr, vr_ptr, th_ptr, g_ptr,
    # outputs: gx [T, N] if X_FULL else [1, N]; then [N] each, written where NEED has its bit
    # (1 gi0, 2 gu0, 4 gs0, 8 alpha, 16 beta, 32 vrec, 64 thr, 128 graded)
    gx_ptr, gi0_ptr, gu0_ptr, gs0_ptr, ga_ptr, gb_ptr, gv_ptr, gth_ptr, gg_ptr,
    T, N, gs_tstride, a_st, b_st, vr_st, th_st, g_st, c0, c1,
    KIND: tl.constexpr, SYN: tl.constexpr, REC: tl.constexpr, KEEP: tl.constexpr,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_GS: tl.constexpr, HAS_GI: tl.constexpr,
    HAS_GU: tl.constexpr, X_FULL: tl.constexpr, NEED: tl.constexpr, ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    a = _param(a_ptr, a_st, offs, mask, ACC)
    b = _param(b_ptr, b_st, offs, mask, ACC)
    vw = _param(vr_ptr, vr_st, offs, mask, ACC)
    th = _param(th_ptr, th_st, offs, mask, ACC)
    g = _param(g_ptr, g_st, offs, mask, ACC)
    cu = tl.zeros([BLOCK], ACC)  # ∂L/∂U_t, ∂L/∂I_t, ∂L/∂S_t carried from step t + 1
    ci = tl.zeros([BLOCK], ACC)
    cs = tl.zeros([BLOCK], ACC)
    acc_x = tl.zeros([BLOCK], ACC)
    acc_a = tl.zeros([BLOCK], ACC)
    acc_b = tl.zeros([BLOCK], ACC)
    acc_v = tl.zeros([BLOCK], ACC)
    acc_th = tl.zeros([BLOCK], ACC)
    acc_g = tl.zeros([BLOCK], ACC)
    for i in range(T):
        t = T - 1 - i
        row = tl.cast(t, tl.int64) * N
        if DELAY:
            v = tl.load(useq_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        else:
            v = tl.load(vpre_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        up = _prev(useq_ptr, u0_ptr, t, row, N, offs, mask, ACC)
        z = v - th
        sg = surrogate_grad(z, KIND, c0, c1)
        h = z > 0
        fired = up > th
        gut = cu
        if HAS_GU:
            gut = gut + tl.load(gu_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        gsv = cs
        if HAS_GS:
            gsv = gsv + tl.load(
                gs_ptr + tl.cast(t, tl.int64) * gs_tstride + offs, mask=mask, other=0.0
            ).to(ACC)
        gss = gsv * g * sg
        if DELAY or RESET == 2:
            gv = gut + gss
            dth = -gss
        else:
            d = h.to(ACC) - fired.to(ACC)
            if RESET == 0:
                gv = gut * (1.0 - th * sg) + gss
                dth = gut * (th * sg - d) - gss
            else:
                gv = gut * (1.0 - d - v * sg) + gss
                dth = gut * v * sg - gss
        if RESET == 1:  # masked, so a fired infinite U_{t−1} gives 0, never 0·inf
            gwu = tl.where(fired, 0.0, gv)
            acc_b += tl.where(fired, 0.0, gv * up)
        else:
            gwu = gv
            acc_b += gv * up
            if RESET == 0:
                dth -= tl.where(fired, gv, 0.0)
        gc = gv if RESET == 1 and KEEP else gwu  # the m path: Leaky's zero reset keeps X_t
        if SYN:
            gc = gc + ci
            if HAS_GI:
                gc = gc + tl.load(gi_ptr + row + offs, mask=mask, other=0.0).to(ACC)
            acc_a += gc * _prev(iseq_ptr, i0_ptr, t, row, N, offs, mask, ACC)
            ci = a * gc
        if REC:
            acc_v += gc * _prev(spk_ptr, s0_ptr, t, row, N, offs, mask, ACC)
            cs = vw * gc
        acc_g += tl.where(h, gsv, 0.0)
        acc_th += dth
        cu = b * gwu
        if X_FULL:
            tl.store(gx_ptr + row + offs, gc.to(gx_ptr.dtype.element_ty), mask=mask)
        else:
            acc_x += gc
    _put(gx_ptr, acc_x, offs, mask, not X_FULL)
    _put(gi0_ptr, ci, offs, mask, (NEED & 1) != 0)
    _put(gu0_ptr, cu, offs, mask, (NEED & 2) != 0)
    _put(gs0_ptr, cs, offs, mask, (NEED & 4) != 0)
    _put(ga_ptr, acc_a, offs, mask, (NEED & 8) != 0)
    _put(gb_ptr, acc_b, offs, mask, (NEED & 16) != 0)
    _put(gv_ptr, acc_v, offs, mask, (NEED & 32) != 0)
    _put(gth_ptr, acc_th, offs, mask, (NEED & 64) != 0)
    _put(gg_ptr, acc_g, offs, mask, (NEED & 128) != 0)


def _flags(model: int) -> dict[str, bool]:
    """The model bit mask (``ops/lif/flags.py``: SYN 1, REC 2, KEEP 4) as kernel flags."""
    return {"SYN": bool(model & 1), "REC": bool(model & 2), "KEEP": bool(model & 4)}


def forward(
    x: torch.Tensor, i0: torch.Tensor, u0: torch.Tensor, s0: torch.Tensor,
    alpha: torch.Tensor, beta: torch.Tensor, vrec: torch.Tensor, thr: torch.Tensor,
    graded: torch.Tensor, model: int, reset: int, delay: bool, store: bool,
    spk: torch.Tensor, iseq: torch.Tensor, useq: torch.Tensor, vpre: torch.Tensor,
) -> None:  # fmt: skip
    """Launch the forward kernel; writes ``spk``, ``iseq``, ``useq``, ``vpre`` (shapes as in
    the contract: a ``[0]`` or ``[0, N]`` array is neither read nor written)."""
    T, N = spk.shape
    blk = block_size(x)
    ps = (alpha, beta, vrec, thr, graded)

    def opt(t: torch.Tensor) -> torch.Tensor:
        return t if t.numel() else useq  # a valid pointer the kernel never touches

    _lif_fwd_kernel[(triton.cdiv(N, blk),)](
        x, opt(i0), u0, opt(s0), *ps, spk, opt(iseq), useq, opt(vpre),
        T, N, N if x.shape[0] > 1 else 0, *(param_stride(p) for p in ps),
        **_flags(model), RESET=reset, DELAY=delay, STORE=store, ACC=acc_dtype(x.dtype),
        BLOCK=blk,
    )  # fmt: skip


def backward(
    gs: torch.Tensor, gi: torch.Tensor, gu: torch.Tensor, spk: torch.Tensor,
    iseq: torch.Tensor, useq: torch.Tensor, vpre: torch.Tensor, i0: torch.Tensor,
    u0: torch.Tensor, s0: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor,
    vrec: torch.Tensor, thr: torch.Tensor, graded: torch.Tensor, kind: str,
    sg_params: tuple[float, float], model: int, reset: int, delay: bool, gx: torch.Tensor,
    gi0: torch.Tensor, gu0: torch.Tensor, gs0: torch.Tensor, ga: torch.Tensor,
    gb: torch.Tensor, gv: torch.Tensor, gth: torch.Tensor, gg: torch.Tensor,
) -> None:  # fmt: skip
    """Launch the backward kernel; writes ``gx`` (``[1, N]``: summed over time, when
    ``T > 1``) and each wanted (non-empty) gradient of ``gi0 … gg``."""
    T, N = useq.shape
    consts = surrogate_constants(kind, sg_params, "float64")
    blk = block_size(useq)
    ps = (alpha, beta, vrec, thr, graded)
    outs = (gi0, gu0, gs0, ga, gb, gv, gth, gg)

    def opt(t: torch.Tensor) -> torch.Tensor:
        return t if t.numel() else useq  # a valid pointer the kernel never touches

    _lif_bwd_kernel[(triton.cdiv(N, blk),)](
        opt(gs), opt(gi), opt(gu), spk, opt(iseq), useq, opt(vpre), opt(i0), u0, opt(s0),
        *ps, gx, *(opt(o) for o in outs),
        T, N, N if gs.shape[0] > 1 else 0, *(param_stride(p) for p in ps),
        float(consts[2]), float(consts[3]),
        KIND=SURROGATE_IDS[kind], **_flags(model), RESET=reset, DELAY=delay,
        HAS_GS=gs.shape[0] > 0, HAS_GI=gi.shape[0] > 0, HAS_GU=gu.shape[0] > 0,
        X_FULL=gx.shape[0] > 1 or T == 1,
        NEED=sum(1 << k for k, o in enumerate(outs) if o.numel() > 0),
        ACC=acc_dtype(useq.dtype), BLOCK=blk,
    )  # fmt: skip
