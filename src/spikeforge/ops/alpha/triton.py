"""Fused Alpha kernels in Triton: one launch forward over all T steps, one backward.

Same structure as ``ops/lif/triton.py`` (state ``E``, ``I``, ``U`` in registers, ``T`` a
runtime argument) and the same equations as ``cpu.py``. Tested with ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.triton import acc_dtype, block_size, param_stride, surrogate_grad


@triton.jit(do_not_specialize=["T"])
def _alpha_fwd_kernel(
    x_ptr,  # [Tx, N]; x_tstride 0 when the input is the same every step
    e0_ptr,  # [N]
    i0_ptr,  # [N]
    u0_ptr,  # [N]
    a_ptr,  # [1] or [N] (stride 0 or 1)
    b_ptr,
    tau_ptr,
    th_ptr,
    g_ptr,
    spk_ptr,  # [T, N]
    eseq_ptr,  # [T, N] if STORE_SYN else [1, N]
    iseq_ptr,  # [T, N] if STORE_SYN else [1, N]
    useq_ptr,  # [T, N] if STORE_MEM else [1, N]
    T,
    N,
    x_tstride,
    a_stride,
    b_stride,
    tau_stride,
    th_stride,
    g_stride,
    RESET: tl.constexpr,
    STORE_MEM: tl.constexpr,
    STORE_SYN: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    e = tl.load(e0_ptr + offs, mask=mask, other=0.0).to(ACC)
    i = tl.load(i0_ptr + offs, mask=mask, other=0.0).to(ACC)
    u = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
    a = tl.load(a_ptr + offs * a_stride, mask=mask, other=0.0).to(ACC)
    b = tl.load(b_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    tu = tl.load(tau_ptr + offs * tau_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(th_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    out_ty = spk_ptr.dtype.element_ty
    for t in range(T):
        row = tl.cast(t, tl.int64) * N
        xv = tl.load(x_ptr + tl.cast(t, tl.int64) * x_tstride + offs, mask=mask, other=0.0)
        xv = xv.to(ACC)
        fired = u > th
        ep = a * e + xv
        ip = b * i - xv
        m = tu * (ep + ip)
        if RESET == 0:
            u = tl.where(fired, m + i, m)
            e = tl.where(fired, ep - th, ep)
            i = tl.where(fired, 0.0, ip)
        elif RESET == 1:
            u = tl.where(fired, 0.0, m)
            e = tl.where(fired, 0.0, ep)
            i = tl.where(fired, 0.0, ip)
        else:
            u = m
            e = ep
            i = ip
        tl.store(spk_ptr + row + offs, tl.where(u > th, g, 0.0).to(out_ty), mask=mask)
        if STORE_SYN:
            tl.store(eseq_ptr + row + offs, e.to(out_ty), mask=mask)
            tl.store(iseq_ptr + row + offs, i.to(out_ty), mask=mask)
        if STORE_MEM:
            tl.store(useq_ptr + row + offs, u.to(out_ty), mask=mask)
    if not STORE_SYN:
        tl.store(eseq_ptr + offs, e.to(out_ty), mask=mask)
        tl.store(iseq_ptr + offs, i.to(out_ty), mask=mask)
    if not STORE_MEM:
        tl.store(useq_ptr + offs, u.to(out_ty), mask=mask)


@triton.jit
def _direct(
    ptr, t, T, N, offs, mask, ROWS_T: tl.constexpr, ROWS_1: tl.constexpr, ACC: tl.constexpr
):
    """Upstream gradient on a state at step ``t`` (T rows, the final row only, or none)."""
    if ROWS_T:
        out = tl.load(ptr + tl.cast(t, tl.int64) * N + offs, mask=mask, other=0.0).to(ACC)
    elif ROWS_1:
        last = (offs * 0 + t) == T - 1  # a block, so the mask stays a tensor
        out = tl.load(ptr + offs, mask=mask & last, other=0.0).to(ACC)
    else:
        out = tl.zeros(offs.shape, ACC)
    return out


@triton.jit(do_not_specialize=["T"])
def _alpha_bwd_kernel(
    gs_ptr,  # [Ts, N]: Ts 0 (HAS_GS False), 1 (gs_tstride 0) or T
    ge_ptr,  # [T, N] (GE_T), [1, N] (GE_1: the final state's) or unused
    gi_ptr,
    gu_ptr,
    eseq_ptr,  # [T, N] if NEED_SYN
    iseq_ptr,
    useq_ptr,  # [T, N]
    e0_ptr,  # [N]
    i0_ptr,
    u0_ptr,
    a_ptr,  # [1] or [N]
    b_ptr,
    tau_ptr,
    th_ptr,
    g_ptr,
    gx_ptr,  # [T, N] if X_FULL else [1, N]
    ge0_ptr,  # [N] if NEED_E0
    gi0_ptr,  # [N] if NEED_I0
    ga_ptr,  # [N] if NEED_A
    gb_ptr,  # [N] if NEED_B
    gtau_ptr,  # [N] if NEED_TAU
    gth_ptr,  # [N] if NEED_TH
    gg_ptr,  # [N] if NEED_G
    T,
    N,
    gs_tstride,
    a_stride,
    b_stride,
    tau_stride,
    th_stride,
    g_stride,
    c0,
    c1,
    KIND: tl.constexpr,
    RESET: tl.constexpr,
    HAS_GS: tl.constexpr,
    GE_T: tl.constexpr,
    GE_1: tl.constexpr,
    GI_T: tl.constexpr,
    GI_1: tl.constexpr,
    GU_T: tl.constexpr,
    GU_1: tl.constexpr,
    X_FULL: tl.constexpr,
    NEED_SYN: tl.constexpr,
    NEED_E0: tl.constexpr,
    NEED_I0: tl.constexpr,
    NEED_A: tl.constexpr,
    NEED_B: tl.constexpr,
    NEED_TAU: tl.constexpr,
    NEED_TH: tl.constexpr,
    NEED_G: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    a = tl.load(a_ptr + offs * a_stride, mask=mask, other=0.0).to(ACC)
    b = tl.load(b_ptr + offs * b_stride, mask=mask, other=0.0).to(ACC)
    tu = tl.load(tau_ptr + offs * tau_stride, mask=mask, other=0.0).to(ACC)
    th = tl.load(th_ptr + offs * th_stride, mask=mask, other=0.0).to(ACC)
    g = tl.load(g_ptr + offs * g_stride, mask=mask, other=0.0).to(ACC)
    ce = tl.zeros([BLOCK], ACC)
    ci = tl.zeros([BLOCK], ACC)
    acc_x = tl.zeros([BLOCK], ACC)
    acc_a = tl.zeros([BLOCK], ACC)
    acc_b = tl.zeros([BLOCK], ACC)
    acc_tau = tl.zeros([BLOCK], ACC)
    acc_th = tl.zeros([BLOCK], ACC)
    acc_g = tl.zeros([BLOCK], ACC)
    out_ty = gx_ptr.dtype.element_ty
    for s in range(T):
        t = T - 1 - s
        row = tl.cast(t, tl.int64) * N
        u = tl.load(useq_ptr + row + offs, mask=mask, other=0.0).to(ACC)
        if t > 0:
            up = tl.load(useq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
        else:
            up = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(ACC)
        z = u - th
        sg = surrogate_grad(z, KIND, c0, c1)
        fired = up > th
        if HAS_GS:
            gsv = tl.load(gs_ptr + tl.cast(t, tl.int64) * gs_tstride + offs, mask=mask, other=0.0)
            gsv = gsv.to(ACC)
        else:
            gsv = tl.zeros([BLOCK], ACC)
        gss = gsv * g * sg
        g_u = gss + _direct(gu_ptr, t, T, N, offs, mask, GU_T, GU_1, ACC)
        g_e = ce + _direct(ge_ptr, t, T, N, offs, mask, GE_T, GE_1, ACC)
        g_i = ci + _direct(gi_ptr, t, T, N, offs, mask, GI_T, GI_1, ACC)
        dth = -gss
        if RESET == 0:
            g_m = g_u
            g_ep = g_e
            g_ip = tl.where(fired, 0.0, g_i)
            dth -= tl.where(fired, g_e, 0.0)
            extra_i = tl.where(fired, g_u, 0.0)
        elif RESET == 1:
            g_m = tl.where(fired, 0.0, g_u)
            g_ep = tl.where(fired, 0.0, g_e)
            g_ip = tl.where(fired, 0.0, g_i)
            extra_i = tl.zeros([BLOCK], ACC)
        else:
            g_m = g_u
            g_ep = g_e
            g_ip = g_i
            extra_i = tl.zeros([BLOCK], ACC)
        g_ep += tu * g_m
        g_ip += tu * g_m
        if NEED_SYN:
            if t > 0:
                ep = tl.load(eseq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
                ip = tl.load(iseq_ptr + row - N + offs, mask=mask, other=0.0).to(ACC)
            else:
                ep = tl.load(e0_ptr + offs, mask=mask, other=0.0).to(ACC)
                ip = tl.load(i0_ptr + offs, mask=mask, other=0.0).to(ACC)
            acc_tau += g_m * (a * ep + b * ip)
            acc_a += g_ep * ep
            acc_b += g_ip * ip
        acc_th += dth
        acc_g += tl.where(z > 0, gsv, 0.0)
        ce = a * g_ep
        ci = b * g_ip + extra_i
        if X_FULL:
            tl.store(gx_ptr + row + offs, (g_ep - g_ip).to(out_ty), mask=mask)
        else:
            acc_x += g_ep - g_ip
    if not X_FULL:
        tl.store(gx_ptr + offs, acc_x.to(out_ty), mask=mask)
    if NEED_E0:
        tl.store(ge0_ptr + offs, ce.to(out_ty), mask=mask)
    if NEED_I0:
        tl.store(gi0_ptr + offs, ci.to(out_ty), mask=mask)
    if NEED_A:
        tl.store(ga_ptr + offs, acc_a.to(out_ty), mask=mask)
    if NEED_B:
        tl.store(gb_ptr + offs, acc_b.to(out_ty), mask=mask)
    if NEED_TAU:
        tl.store(gtau_ptr + offs, acc_tau.to(out_ty), mask=mask)
    if NEED_TH:
        tl.store(gth_ptr + offs, acc_th.to(out_ty), mask=mask)
    if NEED_G:
        tl.store(gg_ptr + offs, acc_g.to(out_ty), mask=mask)


def forward(x, e0, i0, u0, alpha, beta, tau, thr, graded, reset, store_mem, store_syn, spk,
            eseq, iseq, useq):  # fmt: skip
    """Launch the forward kernel (arguments as ``fallback.forward``, torch tensors)."""
    T, N = spk.shape
    blk = block_size(x)
    params = (alpha, beta, tau, thr, graded)
    _alpha_fwd_kernel[(triton.cdiv(N, blk),)](
        x, e0, i0, u0, *params, spk, eseq, iseq, useq,
        T, N, N if x.shape[0] > 1 else 0, *(param_stride(p) for p in params),
        RESET=reset, STORE_MEM=store_mem, STORE_SYN=store_syn, ACC=acc_dtype(x.dtype), BLOCK=blk,
    )  # fmt: skip


def backward(gs, ge, gi, gu, eseq, iseq, useq, e0, i0, u0, alpha, beta, tau, thr, graded, kind,
             params, reset, *outs):  # fmt: skip
    """Launch the backward kernel (arguments as ``fallback.backward``, torch tensors)."""
    gx, ge0, gi0, ga, gb, gtau, gth, gg = outs
    T, N = useq.shape
    consts = surrogate_constants(kind, params, "float64")
    blk = block_size(useq)
    weights = (alpha, beta, tau, thr, graded)
    need_syn = ga.numel() + gb.numel() + gtau.numel() > 0

    def opt(t):
        return t if t.numel() else useq

    def rows(t):
        return {"T": t.shape[0] == T, "1": t.shape[0] == 1 and T > 1}

    re, ri, ru = rows(ge), rows(gi), rows(gu)
    _alpha_bwd_kernel[(triton.cdiv(N, blk),)](
        opt(gs), opt(ge), opt(gi), opt(gu), eseq if need_syn else useq,
        iseq if need_syn else useq, useq, e0, i0, u0, *weights, gx,
        *(opt(o) for o in (ge0, gi0, ga, gb, gtau, gth, gg)),
        T, N, N if gs.shape[0] > 1 else 0, *(param_stride(p) for p in weights),
        float(consts[2]), float(consts[3]),
        KIND=SURROGATE_IDS[kind], RESET=reset, HAS_GS=gs.shape[0] > 0,
        GE_T=re["T"], GE_1=re["1"], GI_T=ri["T"], GI_1=ri["1"], GU_T=ru["T"], GU_1=ru["1"],
        X_FULL=gx.shape[0] > 1 or T == 1, NEED_SYN=need_syn,
        NEED_E0=ge0.numel() > 0, NEED_I0=gi0.numel() > 0, NEED_A=ga.numel() > 0,
        NEED_B=gb.numel() > 0, NEED_TAU=gtau.numel() > 0, NEED_TH=gth.numel() > 0,
        NEED_G=gg.numel() > 0, ACC=acc_dtype(useq.dtype), BLOCK=blk,
    )  # fmt: skip
