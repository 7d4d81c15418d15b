"""Fused Synaptic kernels in Triton: one launch forward over all T steps, one backward.

Same structure as ``ops/leaky/triton.py`` (state ``I``, ``U`` in registers, ``T`` a runtime
argument) and the same equations as ``cpu.py``. Tested with ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.triton import acc_dtype, block_size, param_stride, surrogate_grad


@triton.jit(do_not_specialize=["T"])
def _synaptic_fwd_kernel(
    x_ptr,  # [Tx, N]; x_tstride 0 when the input is the same every step
    i0_ptr,  # [N]
    u0_ptr,  # [N]
    a_ptr,  # [1] or [N] (stride 0 or 1)
    b_ptr,
    th_ptr,
    g_ptr,
    spk_ptr,  # [T, N]
    iseq_ptr,  # [T, N] if STORE else [1, N]
    useq_ptr,  # [T, N] if STORE else [1, N]
    vpre_ptr,  # [T, N] if STORE and not DELAY
    T,
    N,
    x_tstride,
    a_stride,
    b_stride,
    th_stride,
    g_stride,
    RESET: tl.constexpr,
    DELAY: tl.constexpr,
    STORE: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    cur = tl.load(i0_ptr + offs, mask=mask, other=0.0).to(ACC)
    u = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
    a = tl.load(a_ptr + offs * a_stride, mask=mask, other=0.0).to(ACC)
    b = tl.load(b_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(th_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    out_ty = spk_ptr.dtype.element_ty
    for t in range(T):
        row = tl.cast(t, tl.int64) * N
        xv = tl.load(x_ptr + tl.cast(t, tl.int64) * x_tstride + offs, mask=mask, other=0.0)
        fired = u > th
        cur = a * cur + xv.to(ACC)
        w = b * u + cur
        if RESET == 0:
            v = w - tl.where(fired, th, 0.0)
        elif RESET == 1:
            v = tl.where(fired, 0.0, w)
        else:
            v = w
        h = v > th
        tl.store(spk_ptr + row + offs, tl.where(h, g, 0.0).to(out_ty), mask=mask)
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
            tl.store(iseq_ptr + row + offs, cur.to(out_ty), mask=mask)
            tl.store(useq_ptr + row + offs, u.to(out_ty), mask=mask)
    if not STORE:
        tl.store(iseq_ptr + offs, cur.to(out_ty), mask=mask)
        tl.store(useq_ptr + offs, u.to(out_ty), mask=mask)


@triton.jit(do_not_specialize=["T"])
def _synaptic_bwd_kernel(
    gs_ptr,  # [Ts, N]: Ts 0 (HAS_GS False), 1 (gs_tstride 0) or T
    gi_ptr,  # [T, N] if HAS_GI
    gu_ptr,  # [T, N] if HAS_GU
    iseq_ptr,  # [T, N]
    useq_ptr,  # [T, N]
    vpre_ptr,  # [T, N] if not DELAY
    i0_ptr,  # [N]
    u0_ptr,  # [N]
    a_ptr,  # [1] or [N]
    b_ptr,
    th_ptr,
    g_ptr,
    gx_ptr,  # [T, N] if X_FULL else [1, N]
    gi0_ptr,  # [N] if NEED_I0
    gu0_ptr,  # [N] if NEED_U0
    ga_ptr,  # [N] if NEED_A
    gb_ptr,  # [N] if NEED_B
    gth_ptr,  # [N] if NEED_TH
    gg_ptr,  # [N] if NEED_G
    T,
    N,
    gs_tstride,
    a_stride,
    b_stride,
    th_stride,
    g_stride,
    c0,
    c1,
    KIND: tl.constexpr,
    RESET: tl.constexpr,
    DELAY: tl.constexpr,
    HAS_GS: tl.constexpr,
    HAS_GI: tl.constexpr,
    HAS_GU: tl.constexpr,
    X_FULL: tl.constexpr,
    NEED_I0: tl.constexpr,
    NEED_U0: tl.constexpr,
    NEED_A: tl.constexpr,
    NEED_B: tl.constexpr,
    NEED_TH: tl.constexpr,
    NEED_G: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    a = tl.load(a_ptr + offs * a_stride, mask=mask, other=0.0).to(ACC)
    b = tl.load(b_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(th_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    cu = tl.zeros([BLOCK], ACC)
    ci = tl.zeros([BLOCK], ACC)
    acc_x = tl.zeros([BLOCK], ACC)
    acc_a = tl.zeros([BLOCK], ACC)
    acc_b = tl.zeros([BLOCK], ACC)
    acc_th = tl.zeros([BLOCK], ACC)
    acc_g = tl.zeros([BLOCK], ACC)
    out_ty = gx_ptr.dtype.element_ty
    for i in range(T):
        t = T - 1 - i
        row = tl.cast(t, tl.int64) * N
        if DELAY:
            v = tl.load(useq_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        else:
            v = tl.load(vpre_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        if t > 0:
            up = tl.load(useq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
            ip = tl.load(iseq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
        else:
            up = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
            ip = tl.load(i0_ptr + offs, mask=mask, other=0.0).to(ACC)
        z = v - th
        sg = surrogate_grad(z, KIND, c0, c1)
        h = z > 0
        fired = up > th
        gut = cu
        if HAS_GU:
            gut = gut + tl.load(gu_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        if HAS_GS:
            gsv = tl.load(gs_ptr + tl.cast(t, tl.int64) * gs_tstride + offs, mask=mask, other=0.0)
            gsv = gsv.to(ACC)
        else:
            gsv = tl.zeros([BLOCK], ACC)
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
        if RESET == 1:
            gw = tl.where(fired, 0.0, gv)
        else:
            gw = gv
            if RESET == 0:
                dth -= tl.where(fired, gv, 0.0)
        gc = gw + ci
        if HAS_GI:
            gc = gc + tl.load(gi_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        acc_g += tl.where(h, gsv, 0.0)
        acc_th += dth
        acc_b += gw * up
        acc_a += gc * ip
        cu = b * gw
        ci = a * gc
        if X_FULL:
            tl.store(gx_ptr + row + offs, gc.to(out_ty), mask=mask)
        else:
            acc_x += gc
    if not X_FULL:
        tl.store(gx_ptr + offs, acc_x.to(out_ty), mask=mask)
    if NEED_I0:
        tl.store(gi0_ptr + offs, ci.to(out_ty), mask=mask)
    if NEED_U0:
        tl.store(gu0_ptr + offs, cu.to(out_ty), mask=mask)
    if NEED_A:
        tl.store(ga_ptr + offs, acc_a.to(out_ty), mask=mask)
    if NEED_B:
        tl.store(gb_ptr + offs, acc_b.to(out_ty), mask=mask)
    if NEED_TH:
        tl.store(gth_ptr + offs, acc_th.to(out_ty), mask=mask)
    if NEED_G:
        tl.store(gg_ptr + offs, acc_g.to(out_ty), mask=mask)


def forward(x, i0, u0, alpha, beta, thr, graded, reset, delay, store, spk, iseq, useq, vpre):
    """Launch the forward kernel (arguments as ``fallback.forward``, torch tensors)."""
    T, N = spk.shape
    blk = block_size(x)
    _synaptic_fwd_kernel[(triton.cdiv(N, blk),)](
        x, i0, u0, alpha, beta, thr, graded, spk, iseq, useq, vpre if vpre.numel() else useq,
        T, N, N if x.shape[0] > 1 else 0, *(param_stride(p) for p in (alpha, beta, thr, graded)),
        RESET=reset, DELAY=delay, STORE=store, ACC=acc_dtype(x.dtype), BLOCK=blk,
    )  # fmt: skip


def backward(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, kind, params,
             reset, delay, *outs):  # fmt: skip
    """Launch the backward kernel (arguments as ``fallback.backward``, torch tensors)."""
    gx, gi0, gu0, ga, gb, gth, gg = outs
    T, N = useq.shape
    consts = surrogate_constants(kind, params, "float64")
    blk = block_size(useq)

    def opt(t):
        return t if t.numel() else useq

    _synaptic_bwd_kernel[(triton.cdiv(N, blk),)](
        opt(gs), opt(gi), opt(gu), iseq, useq, opt(vpre), i0, u0, alpha, beta, thr, graded, gx,
        *(opt(o) for o in (gi0, gu0, ga, gb, gth, gg)),
        T, N, N if gs.shape[0] > 1 else 0, *(param_stride(p) for p in (alpha, beta, thr, graded)),
        float(consts[2]), float(consts[3]),
        KIND=SURROGATE_IDS[kind], RESET=reset, DELAY=delay, HAS_GS=gs.shape[0] > 0,
        HAS_GI=gi.shape[0] > 0, HAS_GU=gu.shape[0] > 0, X_FULL=gx.shape[0] > 1 or T == 1,
        NEED_I0=gi0.numel() > 0, NEED_U0=gu0.numel() > 0, NEED_A=ga.numel() > 0,
        NEED_B=gb.numel() > 0, NEED_TH=gth.numel() > 0, NEED_G=gg.numel() > 0,
        ACC=acc_dtype(useq.dtype), BLOCK=blk,
    )  # fmt: skip
