"""Fused Leaky kernels in Triton: one launch forward over all T steps, one backward.

Each program owns ``BLOCK`` neurons and walks time with the state in registers (float32,
float64 kept for float64 inputs). ``T`` is a runtime argument (``do_not_specialize``), so
one compiled kernel serves every sequence length. Same equations as ``cpu.py``; tested
on the CPU with ``TRITON_INTERPRET=1`` and on a GPU when one is present.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.triton import acc_dtype, block_size, param_stride, surrogate_grad


@triton.jit(do_not_specialize=["T"])
def _leaky_fwd_kernel(
    x_ptr,  # [Tx, N]; x_tstride 0 when the input is the same every step
    u0_ptr,  # [N]
    beta_ptr,  # [1] or [N] (p_stride 0 or 1)
    thr_ptr,  # [1] or [N]
    g_ptr,  # [1] or [N]
    spk_ptr,  # [T, N]
    useq_ptr,  # [T, N] if STORE else [1, N]
    vpre_ptr,  # [T, N] if STORE and not DELAY
    T,
    N,
    x_tstride,
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
    u = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
    b = tl.load(beta_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(thr_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    out_ty = spk_ptr.dtype.element_ty
    for t in range(T):
        row = tl.cast(t, tl.int64) * N
        xv = tl.load(x_ptr + tl.cast(t, tl.int64) * x_tstride + offs, mask=mask, other=0.0).to(ACC)
        fired = u > th
        if RESET == 0:
            v = b * u + xv - tl.where(fired, th, 0.0)
        elif RESET == 1:
            v = b * tl.where(fired, 0.0, u) + xv
        else:
            v = b * u + xv
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
            tl.store(useq_ptr + row + offs, u.to(out_ty), mask=mask)
    if not STORE:
        tl.store(useq_ptr + offs, u.to(out_ty), mask=mask)


@triton.jit(do_not_specialize=["T"])
def _leaky_bwd_kernel(
    gs_ptr,  # [Ts, N]: Ts 0 (HAS_GS False), 1 (gs_tstride 0) or T
    gu_ptr,  # [T, N] if HAS_GU
    useq_ptr,  # [T, N]
    vpre_ptr,  # [T, N] if not DELAY
    u0_ptr,  # [N]
    beta_ptr,  # [1] or [N]
    thr_ptr,
    g_ptr,
    gx_ptr,  # [T, N] if X_FULL else [1, N]
    gu0_ptr,  # [N] if NEED_U0
    gb_ptr,  # [N] if NEED_B
    gth_ptr,  # [N] if NEED_TH
    gg_ptr,  # [N] if NEED_G
    T,
    N,
    gs_tstride,
    b_stride,
    th_stride,
    g_stride,
    c0,
    c1,
    KIND: tl.constexpr,
    RESET: tl.constexpr,
    DELAY: tl.constexpr,
    HAS_GS: tl.constexpr,
    HAS_GU: tl.constexpr,
    X_FULL: tl.constexpr,
    NEED_U0: tl.constexpr,
    NEED_B: tl.constexpr,
    NEED_TH: tl.constexpr,
    NEED_G: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    b = tl.load(beta_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(thr_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    carry = tl.zeros([BLOCK], ACC)
    acc_x = tl.zeros([BLOCK], ACC)
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
        else:
            up = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
        z = v - th
        sg = surrogate_grad(z, KIND, c0, c1)
        h = z > 0
        fired = up > th
        gut = carry
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
        acc_g += tl.where(h, gsv, 0.0)
        if X_FULL:
            tl.store(gx_ptr + row + offs, gv.to(out_ty), mask=mask)
        else:
            acc_x += gv
        if RESET == 1:
            acc_b += tl.where(fired, 0.0, gv * up)
            carry = tl.where(fired, 0.0, b * gv)
        else:
            acc_b += gv * up
            carry = b * gv
            if RESET == 0:
                dth -= tl.where(fired, gv, 0.0)
        acc_th += dth
    if not X_FULL:
        tl.store(gx_ptr + offs, acc_x.to(out_ty), mask=mask)
    if NEED_U0:
        tl.store(gu0_ptr + offs, carry.to(out_ty), mask=mask)
    if NEED_B:
        tl.store(gb_ptr + offs, acc_b.to(out_ty), mask=mask)
    if NEED_TH:
        tl.store(gth_ptr + offs, acc_th.to(out_ty), mask=mask)
    if NEED_G:
        tl.store(gg_ptr + offs, acc_g.to(out_ty), mask=mask)


def forward(x, u0, beta, thr, graded, reset, delay, store, spk, useq, vpre) -> None:
    """Launch the forward kernel (arguments as ``cpu.leaky_forward``, torch tensors)."""
    T, N = spk.shape
    blk = block_size(x)
    _leaky_fwd_kernel[(triton.cdiv(N, blk),)](
        x, u0, beta, thr, graded, spk, useq, vpre if vpre.numel() else useq,
        T, N, N if x.shape[0] > 1 else 0, *(param_stride(p) for p in (beta, thr, graded)),
        RESET=reset, DELAY=delay, STORE=store, ACC=acc_dtype(x.dtype), BLOCK=blk,
    )  # fmt: skip


def backward(gs, gu, useq, vpre, u0, beta, thr, graded, kind, params, reset, delay, *outs):
    """Launch the backward kernel (arguments as ``cpu.leaky_backward``, torch tensors)."""
    gx, gu0, gb, gth, gg = outs
    T, N = useq.shape
    consts = surrogate_constants(kind, params, "float64")
    blk = block_size(useq)
    dummy = useq
    _leaky_bwd_kernel[(triton.cdiv(N, blk),)](
        gs if gs.numel() else dummy, gu if gu.numel() else dummy, useq,
        vpre if vpre.numel() else dummy, u0, beta, thr, graded, gx,
        *(o if o.numel() else dummy for o in (gu0, gb, gth, gg)),
        T, N, N if gs.shape[0] > 1 else 0, *(param_stride(p) for p in (beta, thr, graded)),
        float(consts[2]), float(consts[3]),
        KIND=SURROGATE_IDS[kind], RESET=reset, DELAY=delay, HAS_GS=gs.shape[0] > 0,
        HAS_GU=gu.shape[0] > 0, X_FULL=gx.shape[0] > 1 or T == 1,
        NEED_U0=gu0.numel() > 0, NEED_B=gb.numel() > 0, NEED_TH=gth.numel() > 0,
        NEED_G=gg.numel() > 0, ACC=acc_dtype(useq.dtype), BLOCK=blk,
    )  # fmt: skip
