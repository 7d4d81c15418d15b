"""Fused Synaptic kernels for the CPU, compiled with numba (imported lazily; cached on disk).

Same layout and blocking as ``ops/leaky/cpu.py`` (``ops/common/numba_layout.py``): each
thread (lane) takes a contiguous run of blocks with one work buffer, and a block walks
time with ``I`` and ``U`` in rows of that buffer; one pass over the data per direction.
Parameters are read through ``block_param`` / ``pick`` (shared ones as scalars). Small
problems run on one thread (waking the pool costs more than they take).

A step of a block runs over 1-D rows taken once per step, with the reset mode, the delay
and the presence of optional arrays decided outside the loops (the ``_*_row`` functions):
one loop per step forward, a few short loops over few arrays each backward. Such loops
vectorise; one that branches per element, indexes 2-D arrays or reads many arrays does
not. The float operations and their order are those of the equations in the docstrings.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.numba_layout import SERIAL_BLOCK, parallel_layout, row, worth_threads
from ..common.numba_rows import block_param, pick, shared_scalars, surrogate_row

FORWARD_ROWS = 7  # work rows of a forward block: cur, u, alpha, beta, thr, graded, scratch V
# alpha, beta, thr, graded, 7 carries/sums, zeros, z, sg, gss, ∂L/∂W, local ∂L/∂I
BACKWARD_ROWS = 17
__all__ = ["SURROGATE_IDS", "surrogate_constants", "synaptic_backward", "synaptic_forward"]


@njit(cache=True, inline="always")
def _forward_row(reset, delay, cur, u, a, b, th, g, xr, sr, vr, zero, one):  # pragma: no cover
    """One time step for a block: ``cur`` (``I``) and ``u`` (``U``) in place, spikes into
    ``sr``, the pre-reset membrane into ``vr`` when ``not delay``. ``I_t = α I_{t−1} + X_t``;
    with ``R = H(U_{t−1} − θ)`` and ``W = β U_{t−1} + I_t``: ``V = W − R θ`` (subtract),
    ``(1 − R) W`` (zero), ``W`` (none); ``S = g H(V − θ)``; ``U_t = V`` (delay) or
    ``V − (H(V − θ) − R) θ`` (subtract) / ``V − (H(V − θ) − R) V`` (zero) / ``V``. One
    branch-free loop per mode."""
    n = u.shape[0]
    if delay:
        if reset == 0:
            for k in range(n):
                c = pick(a, k) * cur[k] + xr[k]
                up, t_ = u[k], pick(th, k)
                v = pick(b, k) * up + c - (t_ if up > t_ else zero)
                sr[k] = pick(g, k) if v > t_ else zero
                cur[k] = c
                u[k] = v
        elif reset == 1:
            for k in range(n):
                c = pick(a, k) * cur[k] + xr[k]
                up, t_ = u[k], pick(th, k)
                w = pick(b, k) * up + c
                v = zero if up > t_ else w
                sr[k] = pick(g, k) if v > t_ else zero
                cur[k] = c
                u[k] = v
        else:
            for k in range(n):
                c = pick(a, k) * cur[k] + xr[k]
                v = pick(b, k) * u[k] + c
                sr[k] = pick(g, k) if v > pick(th, k) else zero
                cur[k] = c
                u[k] = v
    elif reset == 0:
        for k in range(n):
            c = pick(a, k) * cur[k] + xr[k]
            up, t_ = u[k], pick(th, k)
            fired = up > t_
            v = pick(b, k) * up + c - (t_ if fired else zero)
            h = v > t_
            sr[k] = pick(g, k) if h else zero
            vr[k] = v
            cur[k] = c
            u[k] = v - ((one if h else zero) - (one if fired else zero)) * t_
    elif reset == 1:
        for k in range(n):
            c = pick(a, k) * cur[k] + xr[k]
            up, t_ = u[k], pick(th, k)
            fired = up > t_
            w = pick(b, k) * up + c
            v = zero if fired else w
            h = v > t_
            sr[k] = pick(g, k) if h else zero
            vr[k] = v
            cur[k] = c
            u[k] = v - ((one if h else zero) - (one if fired else zero)) * v
    else:
        for k in range(n):
            c = pick(a, k) * cur[k] + xr[k]
            v = pick(b, k) * u[k] + c
            sr[k] = pick(g, k) if v > pick(th, k) else zero
            vr[k] = v
            cur[k] = c
            u[k] = v


@njit(cache=True, inline="always")
def _forward_block(
    blk, size, work, x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
    iseq, useq, vpre,
):  # fmt: skip  # pragma: no cover - compiled
    """Block ``blk`` of ``size`` neurons walks all T steps with ``I`` and ``U`` in rows of
    ``work``; ``iseq``/``useq`` get every step (``store``) or the final state only."""
    T, N = spk.shape
    tx = 1 if x.shape[0] > 1 else 0
    keep_v = store and not delay
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    cur = row(work, 0, size, n)
    cur[:] = i0[j0 : j0 + n]
    u = row(work, 1, size, n)
    u[:] = u0[j0 : j0 + n]
    a = block_param(alpha, j0, n, row(work, 2, size, n))
    b = block_param(beta, j0, n, row(work, 3, size, n))
    th = block_param(thr, j0, n, row(work, 4, size, n))
    g = block_param(graded, j0, n, row(work, 5, size, n))
    scratch = row(work, 6, size, n)
    for t in range(T):
        vr = vpre[t, j0 : j0 + n] if keep_v else scratch
        _forward_row(
            reset, delay, cur, u, a, b, th, g, x[t * tx, j0 : j0 + n], spk[t, j0 : j0 + n], vr,
            zero, one,
        )  # fmt: skip
        if store:
            iseq[t, j0 : j0 + n] = cur
            useq[t, j0 : j0 + n] = u
    if not store:
        iseq[0, j0 : j0 + n] = cur
        useq[0, j0 : j0 + n] = u


@njit(parallel=True, cache=True)
def _forward_parallel(x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
                      iseq, useq, vpre, block, lanes):  # fmt: skip  # pragma: no cover
    # One work buffer per thread (lane), which takes a contiguous run of blocks.
    blocks = (spk.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(FORWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _forward_block(blk, block, work, x, i0, u0, alpha, beta, thr, graded, consts,
                           reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


@njit(cache=True)
def _forward_serial(x, i0, u0, alpha, beta, thr, graded, consts, reset, delay, store, spk,
                    iseq, useq, vpre):  # fmt: skip  # pragma: no cover
    work = np.empty(FORWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((spk.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _forward_block(blk, SERIAL_BLOCK, work, x, i0, u0, alpha, beta, thr, graded, consts,
                       reset, delay, store, spk, iseq, useq, vpre)  # fmt: skip


def synaptic_forward(*args) -> None:
    """(x [Tx, N], i0, u0 [N], alpha, beta, thr, graded [1|N], consts, reset, delay, store,
    spk [T, N], iseq, useq [T|1, N], vpre [T|0, N])."""
    args = (*args[:3], *shared_scalars(*args[3:7]), *args[7:])
    spk = args[11]
    if worth_threads(spk.shape):
        _forward_parallel(*args, *parallel_layout(spk.shape))
    else:
        _forward_serial(*args)


@njit(cache=True, inline="always")
def _membrane_grad_row(
    reset, delay, has_gs, has_gu, cu, gsr, gur, vr, ur, z, sg, th, g, gss, gwr, acc_th,
    need_th, zero, one,
):  # fmt: skip  # pragma: no cover - compiled
    """``∂L/∂W_t`` into ``gwr`` from ``cu`` = ``c^U_t`` (plus the direct ``∂L/∂U_t``, added
    in place) and ``∂L/∂S_t``; the threshold's term into ``acc_th`` when ``need_th``. With
    ``gss = ∂L/∂S g σ'``, ``R = H(U_{t−1} − θ)``, ``d = H(V − θ) − R``: ``∂L/∂V = c + gss``
    (delay, none), ``c (1 − θσ') + gss`` (subtract), ``c (1 − d − Vσ') + gss`` (zero);
    ``∂L/∂W = (1 − R) ∂L/∂V`` (zero) or ``∂L/∂V``; ``∂L/∂θ += c (θσ' − d) − gss − R ∂L/∂V``
    (subtract, ``c``'s term only without delay), ``c Vσ' − gss`` (zero, without delay),
    ``−gss`` otherwise. Short loops over few arrays, each vectorised."""
    n = cu.shape[0]
    if has_gu:
        for k in range(n):
            cu[k] += gur[k]
    if has_gs:
        for k in range(n):
            gss[k] = gsr[k] * pick(g, k) * sg[k]
    else:
        gss[:] = zero
    if delay or reset == 2:
        if reset == 1:
            for k in range(n):
                gwr[k] = zero if ur[k] > pick(th, k) else cu[k] + gss[k]
        else:
            for k in range(n):
                gwr[k] = cu[k] + gss[k]
        if need_th:
            if reset == 0:
                for k in range(n):
                    acc_th[k] -= gss[k] + (gwr[k] if ur[k] > pick(th, k) else zero)
            else:
                for k in range(n):
                    acc_th[k] -= gss[k]
    elif reset == 0:
        for k in range(n):
            gwr[k] = cu[k] * (one - pick(th, k) * sg[k]) + gss[k]
        if need_th:
            for k in range(n):
                t_ = pick(th, k)
                fired = ur[k] > t_
                d = (one if z[k] > zero else zero) - (one if fired else zero)
                dth = cu[k] * (t_ * sg[k] - d) - gss[k]
                acc_th[k] += dth - (gwr[k] if fired else zero)
    else:
        for k in range(n):
            fired = ur[k] > pick(th, k)
            d = (one if z[k] > zero else zero) - (one if fired else zero)
            gv = cu[k] * (one - d - vr[k] * sg[k]) + gss[k]
            gwr[k] = zero if fired else gv
        if need_th:
            for k in range(n):
                acc_th[k] += cu[k] * vr[k] * sg[k] - gss[k]


@njit(cache=True, inline="always")
def _current_grad_row(has_gi, cu, ci, gwr, gir, gcr, a, b):  # pragma: no cover - compiled
    """``∂L/∂I_t = ∂L/∂W_t + c^I_{t+1} (+ direct)`` into ``gcr``, then the carries
    ``c^U_{t−1} = β ∂L/∂W_t`` (``cu``) and ``c^I_t = α ∂L/∂I_t`` (``ci``)."""
    n = cu.shape[0]
    if has_gi:
        for k in range(n):
            gc = gwr[k] + ci[k] + gir[k]
            gcr[k] = gc
            ci[k] = pick(a, k) * gc
    else:
        for k in range(n):
            gc = gwr[k] + ci[k]
            gcr[k] = gc
            ci[k] = pick(a, k) * gc
    for k in range(n):
        cu[k] = pick(b, k) * gwr[k]


@njit(cache=True, inline="always")
def _backward_block(
    blk, size, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
    kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg,
):  # fmt: skip  # pragma: no cover - compiled
    """Block ``blk`` of ``size`` neurons walks time backwards (carries ``c^U``, ``c^I`` and
    the parameter sums in rows of ``work``); ``∂L/∂X_t = ∂L/∂I_t``, summed over time when
    ``gx`` has one row (and ``T > 1``)."""
    T, N = useq.shape
    ts = gs.shape[0]
    gs_step = 1 if ts > 1 else 0
    has_gi = gi.shape[0] > 0
    has_gu = gu.shape[0] > 0
    x_full = gx.shape[0] > 1 or T == 1
    need_a, need_b = ga.shape[0] > 0, gb.shape[0] > 0
    need_th, need_g = gth.shape[0] > 0, gg.shape[0] > 0 and ts > 0
    zero, one = consts[0], consts[1]
    j0 = blk * size
    n = min(size, N - j0)
    a = block_param(alpha, j0, n, row(work, 0, size, n))
    b = block_param(beta, j0, n, row(work, 1, size, n))
    th = block_param(thr, j0, n, row(work, 2, size, n))
    g = block_param(graded, j0, n, row(work, 3, size, n))
    cu = row(work, 4, size, n)
    ci = row(work, 5, size, n)
    acc_x = row(work, 6, size, n)
    acc_a = row(work, 7, size, n)
    acc_b = row(work, 8, size, n)
    acc_th = row(work, 9, size, n)
    acc_g = row(work, 10, size, n)
    zeros = row(work, 11, size, n)
    for i in range(4, 12):
        row(work, i, size, n)[:] = zero
    z = row(work, 12, size, n)
    sg = row(work, 13, size, n)
    gss = row(work, 14, size, n)
    gwr = row(work, 15, size, n)
    gc_local = row(work, 16, size, n)
    for t in range(T - 1, -1, -1):
        vr = useq[t, j0 : j0 + n] if delay else vpre[t, j0 : j0 + n]
        ur = u0[j0 : j0 + n] if t == 0 else useq[t - 1, j0 : j0 + n]
        for k in range(n):
            z[k] = vr[k] - pick(th, k)
        surrogate_row(kind, consts, z, sg, n)
        gsr = gs[t * gs_step, j0 : j0 + n] if ts > 0 else zeros
        gur = gu[t, j0 : j0 + n] if has_gu else zeros
        _membrane_grad_row(
            reset, delay, ts > 0, has_gu, cu, gsr, gur, vr, ur, z, sg, th, g, gss, gwr, acc_th,
            need_th, zero, one,
        )  # fmt: skip
        if need_b:
            for k in range(n):
                acc_b[k] += gwr[k] * ur[k]
        if need_g:
            for k in range(n):
                acc_g[k] += gsr[k] if z[k] > zero else zero
        gir = gi[t, j0 : j0 + n] if has_gi else zeros
        gcr = gx[t, j0 : j0 + n] if x_full else gc_local
        _current_grad_row(has_gi, cu, ci, gwr, gir, gcr, a, b)
        if need_a:
            ir = i0[j0 : j0 + n] if t == 0 else iseq[t - 1, j0 : j0 + n]
            for k in range(n):
                acc_a[k] += gcr[k] * ir[k]
        if not x_full:
            for k in range(n):
                acc_x[k] += gc_local[k]
    if not x_full:
        gx[0, j0 : j0 + n] = acc_x
    # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
    if gi0.shape[0] > 0:
        gi0[j0 : j0 + n] = ci
    if gu0.shape[0] > 0:
        gu0[j0 : j0 + n] = cu
    if need_a:
        ga[j0 : j0 + n] = acc_a
    if need_b:
        gb[j0 : j0 + n] = acc_b
    if need_th:
        gth[j0 : j0 + n] = acc_th
    if gg.shape[0] > 0:
        gg[j0 : j0 + n] = acc_g


@njit(parallel=True, cache=True)
def _backward_parallel(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
                       kind, reset, delay, gx, gi0, gu0, ga, gb, gth, gg, block,
                       lanes):  # fmt: skip  # pragma: no cover - compiled
    blocks = (useq.shape[1] + block - 1) // block
    for lane in prange(lanes):
        work = np.empty(BACKWARD_ROWS * block, dtype=u0.dtype)
        for blk in range(lane * blocks // lanes, (lane + 1) * blocks // lanes):
            _backward_block(blk, block, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha,
                            beta, thr, graded, consts, kind, reset, delay, gx, gi0, gu0, ga,
                            gb, gth, gg)  # fmt: skip


@njit(cache=True)
def _backward_serial(gs, gi, gu, iseq, useq, vpre, i0, u0, alpha, beta, thr, graded, consts,
                     kind, reset, delay, gx, gi0, gu0, ga, gb, gth,
                     gg):  # fmt: skip  # pragma: no cover - compiled
    work = np.empty(BACKWARD_ROWS * SERIAL_BLOCK, dtype=u0.dtype)  # shared by every block
    for blk in range((useq.shape[1] + SERIAL_BLOCK - 1) // SERIAL_BLOCK):
        _backward_block(blk, SERIAL_BLOCK, work, gs, gi, gu, iseq, useq, vpre, i0, u0, alpha,
                        beta, thr, graded, consts, kind, reset, delay, gx, gi0, gu0, ga, gb,
                        gth, gg)  # fmt: skip


def synaptic_backward(*args) -> None:
    """Reverse-time BPTT of ``synaptic_forward`` (argument order of ``_backward_block``
    after its block, size and work buffer)."""
    args = (*args[:8], *shared_scalars(*args[8:12]), *args[12:])
    useq = args[4]
    if worth_threads(useq.shape):
        _backward_parallel(*args, *parallel_layout(useq.shape))
    else:
        _backward_serial(*args)
