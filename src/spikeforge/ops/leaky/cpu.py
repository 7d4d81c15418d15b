"""Fused Leaky kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Layout: every ``[T, N]`` array is row-major (time, neuron). Threads take blocks of
neurons (sizes from ``ops/common/numba_layout.py``); a block's state lives in small local arrays
while the block walks time, so each kernel reads and writes every element once per
direction. The equations
are those of ``reference.py``; the backward is BPTT in reverse time (see ``op.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.numba_layout import SERIAL_BLOCK, parallel_layout, row, worth_threads
from ..common.numba_rows import array_at, block_param, pick, shared_scalars, surrogate_row

__all__ = [
    "SURROGATE_IDS",
    "leaky_backward",
    "leaky_forward",
    "step_backward_at",
    "step_forward_at",
    "step_layout",
    "surrogate_constants",
]


@njit(cache=True, inline="always")
def _forward_row(reset, delay, u, b, th, g, xr, sr, vr, zero, one):  # pragma: no cover
    """One time step for a block: ``u`` (state) in place, spikes into ``sr``, and the
    pre-reset membrane into ``vr`` when ``not delay``. One branch-free loop per mode."""
    n = u.shape[0]
    if delay:
        if reset == 0:
            for k in range(n):
                up, t_ = u[k], pick(th, k)
                v = pick(b, k) * up + xr[k] - (t_ if up > t_ else zero)
                sr[k] = pick(g, k) if v > t_ else zero
                u[k] = v
        elif reset == 1:
            for k in range(n):
                up, t_ = u[k], pick(th, k)
                v = pick(b, k) * (zero if up > t_ else up) + xr[k]
                sr[k] = pick(g, k) if v > t_ else zero
                u[k] = v
        else:
            for k in range(n):
                v = pick(b, k) * u[k] + xr[k]
                sr[k] = pick(g, k) if v > pick(th, k) else zero
                u[k] = v
    elif reset == 0:
        for k in range(n):
            up, t_ = u[k], pick(th, k)
            fired = up > t_
            v = pick(b, k) * up + xr[k] - (t_ if fired else zero)
            h = v > t_
            sr[k] = pick(g, k) if h else zero
            vr[k] = v
            u[k] = v - ((one if h else zero) - (one if fired else zero)) * t_
    elif reset == 1:
        for k in range(n):
            up, t_ = u[k], pick(th, k)
            fired = up > t_
            v = pick(b, k) * (zero if fired else up) + xr[k]
            h = v > t_
            sr[k] = pick(g, k) if h else zero
            vr[k] = v
            u[k] = v - ((one if h else zero) - (one if fired else zero)) * v
    else:
        for k in range(n):
            v = pick(b, k) * u[k] + xr[k]
            sr[k] = pick(g, k) if v > pick(th, k) else zero
            vr[k] = v
            u[k] = v


def leaky_forward(x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre):
    """x: [Tx, N] (Tx 1 = same input every step); u0: [N]; beta/thr/graded: [1] or [N].

    Writes spk [T, N]; useq [T, N] (store) or [1, N] (final state only); vpre [T, N] the
    pre-reset membrane when store and not delay. Small problems run on one thread: waking
    numba's thread pool costs more than they take (milliseconds on a loaded machine).
    """
    beta, thr, graded = shared_scalars(beta, thr, graded)
    args = (x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre)
    if worth_threads(spk.shape):
        _forward_parallel(*args, *parallel_layout(spk.shape))
    else:
        _forward_serial(*args)


@njit(parallel=True, cache=True)
def _forward_parallel(
    x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre, block, lanes
):  # pragma: no cover - compiled
    # One work buffer per thread (lane), which takes a contiguous run of blocks.
    blocks = (spk.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(5 * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _forward_block(
                blk, block, work, x, u0, beta, thr, graded, consts, reset, delay, store, spk,
                useq, vpre,
            )  # fmt: skip


@njit(cache=True)
def _forward_serial(
    x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre
):  # pragma: no cover - compiled
    # One work buffer for every block: no allocation per block (it dominated small steps).
    work = np.empty(5 * SERIAL_BLOCK, dtype=u0.dtype)
    for blk in range((spk.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _forward_block(
            blk, SERIAL_BLOCK, work, x, u0, beta, thr, graded, consts, reset, delay, store,
            spk, useq, vpre,
        )  # fmt: skip


@njit(cache=True, inline="always")
def _forward_block(
    blk, size, work, x, u0, beta, thr, graded, consts, reset, delay, store, spk, useq, vpre
):  # pragma: no cover - compiled
    """Block ``blk`` of ``size`` neurons walks all T steps with its state in local arrays."""
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    keep_v = store and not delay
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    u = row(work, 0, size, n)
    u[:] = u0[j0 : j0 + n]
    scratch = row(work, 1, size, n)
    b = block_param(beta, j0, n, row(work, 2, size, n))
    th = block_param(thr, j0, n, row(work, 3, size, n))
    g = block_param(graded, j0, n, row(work, 4, size, n))
    for t in range(T):
        vr = vpre[t, j0 : j0 + n] if keep_v else scratch
        _forward_row(
            reset, delay, u, b, th, g, x[t * tx, j0 : j0 + n], spk[t, j0 : j0 + n], vr,
            zero, one,
        )  # fmt: skip
        if store:
            useq[t, j0 : j0 + n] = u
    if not store:
        useq[0, j0 : j0 + n] = u


@njit(cache=True, inline="always")
def _backward_row_simple(
    reset,
    has_gu,
    has_gs,
    carry,
    gsr,
    gur,
    ur,
    z,
    sg,
    b,
    th,
    g,
    gvr,
    gss,
    acc_b,
    acc_th,
    acc_g,
    need_b,
    need_th,
    need_g,
    zero,
):  # pragma: no cover
    """``_backward_row`` for the modes whose membrane gradient passes the reset unchanged
    (``reset_delay``, or no reset), split into short loops over few arrays each: a loop that
    touches many arrays is not vectorised (too many possible overlaps to check), and the
    parameter sums run only when their gradient is wanted."""
    n = carry.shape[0]
    if has_gu:
        for k in range(n):
            carry[k] += gur[k]
    if has_gs:
        for k in range(n):
            gss[k] = gsr[k] * pick(g, k) * sg[k]
    else:
        gss[:] = zero
    if reset == 1:
        for k in range(n):
            gv = carry[k] + gss[k]
            gvr[k] = gv
            carry[k] = zero if ur[k] > pick(th, k) else pick(b, k) * gv
    else:
        for k in range(n):
            gv = carry[k] + gss[k]
            gvr[k] = gv
            carry[k] = pick(b, k) * gv
    if need_b:
        if reset == 1:
            for k in range(n):
                acc_b[k] += zero if ur[k] > pick(th, k) else gvr[k] * ur[k]
        else:
            for k in range(n):
                acc_b[k] += gvr[k] * ur[k]
    if need_th:
        if reset == 0:
            for k in range(n):
                acc_th[k] -= gss[k] + (gvr[k] if ur[k] > pick(th, k) else zero)
        else:
            for k in range(n):
                acc_th[k] -= gss[k]
    if need_g and has_gs:
        for k in range(n):
            acc_g[k] += gsr[k] if z[k] > zero else zero


@njit(cache=True, inline="always")
def _backward_row(
    reset, carry, gsr, gur, vr, ur, z, sg, b, th, g, gvr, acc_b, acc_th, acc_g, zero, one
):  # pragma: no cover
    """One reverse step for a block with an immediate reset (``reset_delay=False``, subtract
    or zero; the other modes take ``_backward_row_simple``): ``carry`` = ∂L/∂U_t in,
    ∂L/∂U_{t−1} out; ∂L/∂V_t into ``gvr``; parameter gradients accumulated.
    ``z = V_t − θ``, ``sg = σ'(z)``."""
    n = carry.shape[0]
    if reset == 0:  # one branch-free loop per mode
        for k in range(n):
            gss = gsr[k] * pick(g, k) * sg[k]
            gut = carry[k] + gur[k]
            up, t_ = ur[k], pick(th, k)
            fired = up > t_
            h = z[k] > zero
            d = (one if h else zero) - (one if fired else zero)
            gv = gut * (one - t_ * sg[k]) + gss
            gvr[k] = gv
            acc_g[k] += gsr[k] if h else zero
            acc_b[k] += gv * up
            acc_th[k] += gut * (t_ * sg[k] - d) - gss - (gv if fired else zero)
            carry[k] = pick(b, k) * gv
    else:
        for k in range(n):
            gss = gsr[k] * pick(g, k) * sg[k]
            gut = carry[k] + gur[k]
            up, t_, v = ur[k], pick(th, k), vr[k]
            fired = up > t_
            h = z[k] > zero
            d = (one if h else zero) - (one if fired else zero)
            gv = gut * (one - d - v * sg[k]) + gss
            gvr[k] = gv
            acc_g[k] += gsr[k] if h else zero
            acc_b[k] += zero if fired else gv * up
            acc_th[k] += gut * v * sg[k] - gss
            carry[k] = zero if fired else pick(b, k) * gv


def leaky_backward(
    gs, gu, useq, vpre, u0, beta, thr, graded, consts, kind, reset, delay, gx, gu0, gb, gth, gg
):
    """Reverse-time BPTT of ``leaky_forward``.

    gs: [Ts, N] upstream grad of spikes (Ts 0 none, 1 same every step, T); gu: [Tu, N]
    upstream grad of the membrane sequence (Tu 0 none, T). Writes gx [Tx, N] (Tx 1: summed
    over time), gu0 [N] or [0]; gb, gth, gg: per-neuron sums [N], or [0] when not needed.
    """
    beta, thr, graded = shared_scalars(beta, thr, graded)
    if _one_simple_step(useq, gs, gu, gx, reset, delay, gb, gth, gg):
        n = useq.shape[1]
        step = (gs.reshape(-1)[:n], gu.reshape(-1)[:n], useq[0], u0, beta, thr, graded, consts,
                kind, reset, gx[0], gu0)  # fmt: skip
        if worth_threads(useq.shape):
            _step_backward_parallel(*step, *parallel_layout(useq.shape))
        else:
            _step_backward_serial(*step)
        return
    args = (gs, gu, useq, vpre, u0, beta, thr, graded, consts, kind, reset, delay,
            gx, gu0, gb, gth, gg)  # fmt: skip
    if worth_threads(useq.shape):
        _backward_parallel(*args, *parallel_layout(useq.shape))
    else:
        _backward_serial(*args)


def _one_simple_step(useq, gs, gu, gx, reset, delay, gb, gth, gg) -> bool:
    """One step (the step API) whose membrane gradient passes the reset unchanged
    (``reset_delay`` or no reset), with no parameter gradient: ``_step_backward_*`` runs it
    in one pass (about half the general kernel's time). An absent upstream gradient (no row)
    counts as zero there."""
    return (
        useq.shape[0] == 1
        and gs.shape[0] <= 1
        and gu.shape[0] <= 1
        and gx.shape[0] == 1
        and (delay or reset == 2)
        and gb.shape[0] == gth.shape[0] == gg.shape[0] == 0
    )


@njit(cache=True, inline="always")
def _step_backward_block(
    j0, n, work, block, gs, gu, v, up, beta, thr, graded, consts, kind, reset, gx, gu0
):  # pragma: no cover - compiled
    """``∂L/∂V = ∂L/∂U + g σ'(V − θ) ∂L/∂S`` (= ∂L/∂X) and ``∂L/∂U' = β ∂L/∂V`` (0 where
    a zero reset fired) for neurons ``j0 … j0+n`` of one step. An empty ``gs`` or ``gu``
    is an absent (zero) upstream gradient."""
    b = block_param(beta, j0, n, work[2 * block : 2 * block + n])
    th = block_param(thr, j0, n, work[3 * block : 3 * block + n])
    g = block_param(graded, j0, n, work[4 * block : 4 * block + n])
    gxr = gx[j0 : j0 + n]
    if gs.shape[0] > 0:
        z, sg = work[:n], work[block : block + n]
        vr = v[j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        gsr = gs[j0 : j0 + n]
        if gu.shape[0] > 0:
            gur = gu[j0 : j0 + n]
            for k in range(n):
                gxr[k] = gur[k] + gsr[k] * pick(g, k) * sg[k]
        else:
            for k in range(n):
                gxr[k] = gsr[k] * pick(g, k) * sg[k]
    elif gu.shape[0] > 0:
        gxr[:] = gu[j0 : j0 + n]
    else:
        gxr[:] = consts[0]
    if gu0.shape[0] == 0:
        return
    g0 = gu0[j0 : j0 + n]
    if reset == 1:
        ur, zero = up[j0 : j0 + n], consts[0]
        for k in range(n):
            g0[k] = zero if ur[k] > pick(th, k) else pick(b, k) * gxr[k]
    else:
        for k in range(n):
            g0[k] = pick(b, k) * gxr[k]


@njit(parallel=True, cache=True)
def _step_backward_parallel(
    gs, gu, v, up, beta, thr, graded, consts, kind, reset, gx, gu0, block, lanes
):  # pragma: no cover - compiled
    N = v.shape[0]
    blocks = (N + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(5 * block, dtype=v.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            j0 = blk * block
            _step_backward_block(j0, min(block, N - j0), work, block, gs, gu, v, up, beta,
                                 thr, graded, consts, kind, reset, gx, gu0)  # fmt: skip


@njit(cache=True)
def _step_backward_serial(
    gs, gu, v, up, beta, thr, graded, consts, kind, reset, gx, gu0
):  # pragma: no cover - compiled
    N = v.shape[0]
    work = np.empty(5 * SERIAL_BLOCK, dtype=v.dtype)
    for j0 in range(0, N, SERIAL_BLOCK):
        _step_backward_block(j0, min(SERIAL_BLOCK, N - j0), work, SERIAL_BLOCK, gs, gu, v, up,
                             beta, thr, graded, consts, kind, reset, gx, gu0)  # fmt: skip


@njit(parallel=True, cache=True)
def _backward_parallel(
    gs, gu, useq, vpre, u0, beta, thr, graded, consts, kind, reset, delay, gx, gu0, gb, gth, gg,
    block, lanes,
):  # pragma: no cover - compiled  # fmt: skip
    blocks = (useq.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(13 * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _backward_block(blk, block, work, gs, gu, useq, vpre, u0, beta, thr, graded,
                            consts, kind, reset, delay, gx, gu0, gb, gth, gg)  # fmt: skip


@njit(cache=True)
def _backward_serial(
    gs, gu, useq, vpre, u0, beta, thr, graded, consts, kind, reset, delay, gx, gu0, gb, gth, gg
):  # pragma: no cover - compiled
    work = np.empty(13 * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((useq.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _backward_block(blk, SERIAL_BLOCK, work, gs, gu, useq, vpre, u0, beta, thr, graded,
                        consts, kind, reset, delay, gx, gu0, gb, gth, gg)  # fmt: skip


@njit(cache=True, inline="always")
def _backward_block(
    blk,
    size,
    work,
    gs,
    gu,
    useq,
    vpre,
    u0,
    beta,
    thr,
    graded,
    consts,
    kind,
    reset,
    delay,
    gx,
    gu0,
    gb,
    gth,
    gg,
):  # pragma: no cover - compiled
    """Block ``blk`` of ``size`` neurons walks time backwards, accumulating its gradients."""
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1 or T == 1
    zero = consts[0]
    j0 = blk * size
    n = min(size, N - j0)
    b = block_param(beta, j0, n, row(work, 0, size, n))
    th = block_param(thr, j0, n, row(work, 1, size, n))
    g = block_param(graded, j0, n, row(work, 2, size, n))
    carry = row(work, 3, size, n)
    zeros = row(work, 4, size, n)
    acc_x = row(work, 5, size, n)
    acc_b = row(work, 6, size, n)
    acc_th = row(work, 7, size, n)
    acc_g = row(work, 8, size, n)
    for i in range(3, 9):
        row(work, i, size, n)[:] = zero
    gv_local = row(work, 9, size, n)
    z = row(work, 10, size, n)
    sg = row(work, 11, size, n)
    gss = row(work, 12, size, n)
    simple = delay or reset == 2
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        gsr = gs[t * gs_step, j0 : j0 + n] if ts > 0 else zeros
        gur = gu[t, j0 : j0 + n] if has_gu else zeros
        gvr = gx[t, j0 : j0 + n] if x_full else gv_local
        if simple:
            _backward_row_simple(
                reset, has_gu, ts > 0, carry, gsr, gur, ur, z, sg, b, th, g, gvr, gss,
                acc_b, acc_th, acc_g, gb.shape[0] > 0, gth.shape[0] > 0, gg.shape[0] > 0, zero,
            )  # fmt: skip
        else:
            _backward_row(
                reset, carry, gsr, gur, vr, ur, z, sg, b, th, g, gvr, acc_b, acc_th,
                acc_g, zero, consts[1],
            )  # fmt: skip
        if not x_full:
            for k in range(n):
                acc_x[k] += gv_local[k]
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    if gu0.shape[0] > 0:
        gu0[j0 : j0 + n] = carry
    if gb.shape[0] > 0:
        gb[j0 : j0 + n] = acc_b
    if gth.shape[0] > 0:
        gth[j0 : j0 + n] = acc_th
    if gg.shape[0] > 0:
        gg[j0 : j0 + n] = acc_g


# -- one step by address (the single-step fast path, ``step_cpu``) ---------------------------


def step_layout(n: int) -> tuple[int, int]:
    """``(block, lanes)`` for one step of ``n`` neurons; ``lanes == 1`` runs on one thread."""
    if not worth_threads((1, n)):
        return SERIAL_BLOCK, 1
    return parallel_layout((1, n))


@njit(cache=True)
def step_forward_at(
    n, x_at, u0_at, spk_at, u_at, vpre_at, keep_v, beta, thr, graded, consts, reset, delay,
    block, lanes,
):  # pragma: no cover - compiled  # fmt: skip
    """``leaky_forward`` for one step of ``n`` neurons given by address (``T = 1``, shared
    scalar parameters): ``x, spk, u`` hold ``n`` elements, ``u0`` the previous membrane,
    ``vpre`` ``n`` elements when ``keep_v`` (the pre-reset membrane), else unused."""
    x = array_at(x_at, (1, n), consts)
    u0 = array_at(u0_at, (n,), consts)
    spk = array_at(spk_at, (1, n), consts)
    u = array_at(u_at, (1, n), consts)
    vpre = array_at(vpre_at, (1 if keep_v else 0, n), consts)
    if lanes > 1:
        _forward_parallel(
            x, u0, beta, thr, graded, consts, reset, delay, True, spk, u, vpre, block, lanes
        )
    else:
        _forward_serial(x, u0, beta, thr, graded, consts, reset, delay, True, spk, u, vpre)


@njit(cache=True)
def step_backward_at(
    n, gs_at, has_gs, gu_at, has_gu, v_at, up_at, gx_at, gu0_at, need_gu0, beta, thr, graded,
    consts, kind, reset, block, lanes,
):  # pragma: no cover - compiled  # fmt: skip
    """The one-pass backward of one step (``_one_simple_step``'s case: the membrane gradient
    passing the reset unchanged, no parameter gradients) for ``n`` neurons given by address;
    an upstream gradient is absent (zero) unless ``has_gs`` / ``has_gu``; ``gu0`` is
    written when ``need_gu0``."""
    gs = array_at(gs_at, (n if has_gs else 0,), consts)
    gu = array_at(gu_at, (n if has_gu else 0,), consts)
    v = array_at(v_at, (n,), consts)
    up = array_at(up_at, (n,), consts)
    gx = array_at(gx_at, (n,), consts)
    gu0 = array_at(gu0_at, (n if need_gu0 else 0,), consts)
    if lanes > 1:
        _step_backward_parallel(
            gs, gu, v, up, beta, thr, graded, consts, kind, reset, gx, gu0, block, lanes
        )
    else:
        _step_backward_serial(gs, gu, v, up, beta, thr, graded, consts, kind, reset, gx, gu0)
