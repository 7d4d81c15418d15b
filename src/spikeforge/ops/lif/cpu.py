"""The LIF-family recurrence on the CPU, compiled with numba (imported lazily; cached on
disk): Leaky, Lapicque, Synaptic, RLeaky (one-to-one), RSynaptic (one-to-one) as flags of
one kernel family (``op.py``). Step t, with ``r = H(U_{t−1} − θ)`` detached::

    [SYN] I_t = α I_{t−1} + X_t [+ v S_{t−1}]         W = β U_{t−1} + I_t
    else  W = β U_{t−1} + X_t [+ v S_{t−1}]           (β (r ? 0 : U_{t−1}) for KEEP, zero)
    V = W − r θ | r ? 0 : W | W;   S_t = g H(V − θ);   U_t = V or the immediate reset

Compile-time configuration: each (model, reset, delay[, surrogate]) gets its own closure
from a cached factory, so a call compiles only the loops it runs (numba's on-disk cache
keys a closure by its cell values). A serial ``nogil`` kernel walks a range of neurons in
blocks (``ops/common/numba_layout.py``); large problems split the neurons into lanes run on
numba's threads by one small ``parallel=True`` loop (``_lanes``) that calls the kernel by
address. A block keeps its state in rows of one work buffer while it walks time; the float
operations and their order are those of the references (``reference.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from numba import njit

from ..codes import SURROGATE_IDS, surrogate_constants
from ..common.numba_lanes import run_lanes, run_range
from ..common.numba_layout import SERIAL_BLOCK, parallel_layout, row, worth_threads
from ..common.numba_rows import array_at, block_param, pick, shared_scalars, surrogate_row
from .flags import KEEP, REC, SYN

__all__ = [
    "KEEP",
    "REC",
    "SURROGATE_IDS",
    "SYN",
    "lif_backward",
    "lif_forward",
    "run_lanes",
    "step_backward_at",
    "step_forward_at",
    "step_layout",
    "surrogate_constants",
]

FORWARD_ROWS = 9  # u, I, S, α, β, v, θ, g, scratch V
BACKWARD_ROWS = 21  # 5 parameters, zeros, 3 carries, 6 sums, z, σ', ∂L/∂S, gss, ∂L/∂V, gc


def _bits(model: int) -> tuple[bool, bool, bool]:
    return bool(model & SYN), bool(model & REC), bool(model & KEEP)


# -- threads ---------------------------------------------------------------------------------


def _jit(kernel: Callable) -> Callable:
    """Compile a kernel closure. numba's numpy error model: a float division is a plain
    division, with no zero check raising ``ZeroDivisionError`` (that check kept the surrogate
    loops from vectorising: the backward ran 1.6× slower; no kernel divides by zero)."""
    return njit(cache=True, nogil=True, error_model="numpy")(kernel)


# -- forward -----------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _forward_row(syn, rec, keep, reset, delay, xr, cur, s, u, a, b, vw, th, g, sr, vr, zero, one):
    """One step of a block (one branch-free loop per configuration): ``cur`` (I), ``s``
    (S), ``u`` (U) in place; spikes into ``sr``; V into ``vr`` unless ``delay``."""
    for k in range(u.shape[0]):
        up, t_ = u[k], pick(th, k)
        fired = up > t_
        if syn:
            c = pick(a, k) * cur[k] + xr[k]
            if rec:
                c = c + s[k] * pick(vw, k)
            cur[k] = c
            w = pick(b, k) * up + c
        else:
            if keep and reset == 1:
                w = pick(b, k) * (zero if fired else up) + xr[k]
            else:
                w = pick(b, k) * up + xr[k]
            if rec:
                w = w + s[k] * pick(vw, k)
        if reset == 0:
            v = w - (t_ if fired else zero)
        elif reset == 1 and not keep:
            v = zero if fired else w
        else:
            v = w
        h = v > t_
        sk = pick(g, k) if h else zero
        sr[k] = sk
        if rec:
            s[k] = sk
        if not delay:
            vr[k] = v
        if delay or reset == 2:
            u[k] = v
        else:
            d = (one if h else zero) - (one if fired else zero)
            u[k] = v - d * t_ if reset == 0 else v - d * v


@njit(cache=True, inline="always")
def _forward_range(
    j0, j1, size, x, i0, u0, s0, alpha, beta, vrec, thr, graded, units, store, spk, iseq,
    useq, vpre, syn, rec, keep, reset, delay,
):  # fmt: skip  # pragma: no cover - compiled
    """Neurons ``j0 … j1`` in blocks of ``size``; each walks all T steps in ``work``."""
    T = spk.shape[0]
    tx = 1 if x.shape[0] > 1 else 0
    keep_v = store and not delay
    work = np.empty(FORWARD_ROWS * size, dtype=u0.dtype)
    for j in range(j0, j1, size):
        n = min(size, j1 - j)
        u = row(work, 0, size, n)
        u[:] = u0[j : j + n]
        cur = row(work, 1, size, n)
        if syn:
            cur[:] = i0[j : j + n]
        s = row(work, 2, size, n)
        if rec:
            s[:] = s0[j : j + n]
        a = block_param(alpha, j, n, row(work, 3, size, n))
        b = block_param(beta, j, n, row(work, 4, size, n))
        vw = block_param(vrec, j, n, row(work, 5, size, n))
        th = block_param(thr, j, n, row(work, 6, size, n))
        g = block_param(graded, j, n, row(work, 7, size, n))
        scratch = row(work, 8, size, n)
        for t in range(T):
            vr = vpre[t, j : j + n] if keep_v else scratch
            _forward_row(
                syn, rec, keep, reset, delay, x[t * tx, j : j + n], cur, s, u, a, b, vw, th,
                g, spk[t, j : j + n], vr, units[0], units[1],
            )  # fmt: skip
            if store:
                useq[t, j : j + n] = u
                if syn:
                    iseq[t, j : j + n] = cur
        if not store:
            useq[0, j : j + n] = u
            if syn:
                iseq[0, j : j + n] = cur


@cache
def forward_kernel(model: int, reset: int, delay: bool) -> Callable:
    """The forward over a neuron range for one configuration:
    ``(j0, j1, block, x, i0, u0, s0, alpha, beta, vrec, thr, graded, units, store, spk, iseq,
    useq, vpre)``."""
    syn, rec, keep = _bits(model)
    delay = bool(delay)

    def forward(
        j0, j1, size, x, i0, u0, s0, alpha, beta, vrec, thr, graded, units, store, spk, iseq,
        useq, vpre,
    ):  # fmt: skip  # pragma: no cover - compiled
        _forward_range(
            j0, j1, size, x, i0, u0, s0, alpha, beta, vrec, thr, graded, units, store, spk,
            iseq, useq, vpre, syn, rec, keep, reset, delay,
        )  # fmt: skip

    return _jit(forward)


def lif_forward(
    x: np.ndarray, i0: np.ndarray, u0: np.ndarray, s0: np.ndarray, alpha: np.ndarray,
    beta: np.ndarray, vrec: np.ndarray, thr: np.ndarray, graded: np.ndarray, consts: np.ndarray,
    model: int, reset: int, delay: bool, store: bool, spk: np.ndarray, iseq: np.ndarray,
    useq: np.ndarray, vpre: np.ndarray
) -> None:  # fmt: skip
    """All T steps (shapes in ``op.py``): fills ``spk``, ``iseq``, ``useq``, ``vpre``;
    ``consts`` starts with 0 and 1 in the kernel dtype (``codes.surrogate_constants``)."""
    params = shared_scalars(alpha, beta, vrec, thr, graded)
    args = (x, i0, u0, s0, *params, consts, bool(store), spk, iseq, useq, vpre)
    run_range(forward_kernel(model, reset, delay), spk.shape, args)


# -- backward ----------------------------------------------------------------------------------


@cache
def backward_kernel(model: int, reset: int, delay: bool) -> Callable:
    """The BPTT over a neuron range for one configuration: ``(j0, j1, block, gs, gi, gu,
    spk, iseq, useq, vpre, i0, u0, s0, alpha, beta, vrec, thr, graded, consts, kind, gx,
    gi0, gu0, gs0, ga, gb, gv, gth, gg)``; the surrogate id ``kind`` is an argument (its
    branch sits outside the loops), so every surrogate shares one compiled kernel."""
    syn, rec, keep = _bits(model)
    simple = bool(delay) or reset == 2  # ∂U/∂V = 1
    mask_m = reset == 1 and not keep  # the zero reset also drops the m path
    direct = not syn and not mask_m  # ∂L/∂X_t = ∂L/∂V_t

    def backward(
        j0, j1, size, gs, gi, gu, spk, iseq, useq, vpre, i0, u0, s0, alpha, beta, vrec, thr,
        graded, consts, kind, gx, gi0, gu0, gs0, ga, gb, gv, gth, gg,
    ):  # fmt: skip  # pragma: no cover - compiled
        T = useq.shape[0]
        ts = gs.shape[0]
        gs_step = 1 if ts > 1 else 0
        has_gi, has_gu = syn and gi.shape[0] > 0, gu.shape[0] > 0
        has_s = ts > 0 or rec  # some ∂L/∂S reaches the spikes
        x_full = gx.shape[0] > 1 or T == 1
        need_a, need_b, need_v = syn and ga.shape[0] > 0, gb.shape[0] > 0, rec and gv.shape[0] > 0
        need_th, need_g = gth.shape[0] > 0, gg.shape[0] > 0 and has_s
        zero, one = consts[0], consts[1]
        work = np.empty(BACKWARD_ROWS * size, dtype=u0.dtype)
        for j in range(j0, j1, size):
            n = min(size, j1 - j)
            a = block_param(alpha, j, n, row(work, 0, size, n))
            b = block_param(beta, j, n, row(work, 1, size, n))
            vw = block_param(vrec, j, n, row(work, 2, size, n))
            th = block_param(thr, j, n, row(work, 3, size, n))
            g = block_param(graded, j, n, row(work, 4, size, n))
            for r in range(5, 15):
                row(work, r, size, n)[:] = zero
            zeros, cu, ci = row(work, 5, size, n), row(work, 6, size, n), row(work, 7, size, n)
            cs, acc_x, acc_a = row(work, 8, size, n), row(work, 9, size, n), row(work, 10, size, n)
            acc_b, acc_v = row(work, 11, size, n), row(work, 12, size, n)
            acc_th, acc_g = row(work, 13, size, n), row(work, 14, size, n)
            z, sg, gsv = row(work, 15, size, n), row(work, 16, size, n), row(work, 17, size, n)
            gss, gvr, gcl = row(work, 18, size, n), row(work, 19, size, n), row(work, 20, size, n)
            for t in range(T - 1, -1, -1):
                vr = useq[t, j : j + n] if delay else vpre[t, j : j + n]
                ur = u0[j : j + n] if t == 0 else useq[t - 1, j : j + n]
                for k in range(n):
                    z[k] = vr[k] - pick(th, k)
                surrogate_row(kind, consts, z, sg, n)
                gsr = gs[t * gs_step, j : j + n] if ts > 0 else zeros
                if rec:  # ∂L/∂S_t = gs[t] + cS
                    for k in range(n):
                        gsv[k] = cs[k] + gsr[k]
                    gsk = gsv
                else:
                    gsk = gsr
                if has_s:
                    for k in range(n):
                        gss[k] = gsk[k] * pick(g, k) * sg[k]
                else:
                    gss[:] = zero
                # ∂L/∂V_t: straight into ∂L/∂X_t when nothing else joins the input path
                gcr = gx[t, j : j + n] if x_full else gcl
                gvk = gcr if direct else gvr
                gur = gu[t, j : j + n] if has_gu else zeros
                if simple:  # one pass: ∂L/∂U_t, ∂L/∂V_t = ∂L/∂U_t + g σ' ∂L/∂S, the U carry
                    for k in range(n):
                        dv = (cu[k] + gur[k] if has_gu else cu[k]) + gss[k]
                        gvk[k] = dv
                        if reset == 1:
                            cu[k] = zero if ur[k] > pick(th, k) else pick(b, k) * dv
                        else:
                            cu[k] = pick(b, k) * dv
                elif has_gu:  # cu becomes ∂L/∂U_t (carried + direct)
                    for k in range(n):
                        cu[k] += gur[k]
                if simple:
                    pass
                elif reset == 0:
                    for k in range(n):
                        gvk[k] = cu[k] * (one - pick(th, k) * sg[k]) + gss[k]
                else:
                    for k in range(n):
                        fired = ur[k] > pick(th, k)
                        d = (one if z[k] > zero else zero) - (one if fired else zero)
                        gvk[k] = cu[k] * (one - d - vr[k] * sg[k]) + gss[k]
                if need_th:
                    if simple:
                        if reset == 0:
                            for k in range(n):
                                acc_th[k] -= gss[k] + (gvk[k] if ur[k] > pick(th, k) else zero)
                        else:
                            for k in range(n):
                                acc_th[k] -= gss[k]
                    elif reset == 0:
                        for k in range(n):
                            t_ = pick(th, k)
                            fired = ur[k] > t_
                            d = (one if z[k] > zero else zero) - (one if fired else zero)
                            dth = cu[k] * (t_ * sg[k] - d) - gss[k]
                            acc_th[k] += dth - (gvk[k] if fired else zero)
                    else:
                        for k in range(n):
                            acc_th[k] += cu[k] * vr[k] * sg[k] - gss[k]
                if need_g:
                    for k in range(n):
                        acc_g[k] += gsk[k] if z[k] > zero else zero
                # the β U_{t−1} path (masked where a zero reset fired): ∂β, carry of U
                if reset == 1:
                    if need_b:
                        for k in range(n):
                            acc_b[k] += zero if ur[k] > pick(th, k) else gvk[k] * ur[k]
                    if not simple:
                        for k in range(n):
                            cu[k] = zero if ur[k] > pick(th, k) else pick(b, k) * gvk[k]
                else:
                    if need_b:
                        for k in range(n):
                            acc_b[k] += gvk[k] * ur[k]
                    if not simple:
                        for k in range(n):
                            cu[k] = pick(b, k) * gvk[k]
                # the m path: ∂L/∂I_t (SYN), ∂L/∂X_t
                if not direct:
                    if syn:
                        if has_gi:
                            gir = gi[t, j : j + n]
                            for k in range(n):
                                gm = zero if mask_m and ur[k] > pick(th, k) else gvk[k]
                                gcr[k] = gm + ci[k] + gir[k]
                        else:
                            for k in range(n):
                                gm = zero if mask_m and ur[k] > pick(th, k) else gvk[k]
                                gcr[k] = gm + ci[k]
                        for k in range(n):
                            ci[k] = pick(a, k) * gcr[k]
                        if need_a:
                            ir = i0[j : j + n] if t == 0 else iseq[t - 1, j : j + n]
                            for k in range(n):
                                acc_a[k] += gcr[k] * ir[k]
                    else:
                        for k in range(n):
                            gcr[k] = zero if ur[k] > pick(th, k) else gvk[k]
                if rec:  # v S_{t−1}
                    for k in range(n):
                        cs[k] = pick(vw, k) * gcr[k]
                    if need_v:
                        sp = s0[j : j + n] if t == 0 else spk[t - 1, j : j + n]
                        for k in range(n):
                            acc_v[k] += gcr[k] * sp[k]
                if not x_full:
                    for k in range(n):
                        acc_x[k] += gcl[k]
            if not x_full:
                gx[0, j : j + n] = acc_x
            # Written out (a loop over a tuple of arrays miscompiles inside numba's prange).
            if gi0.shape[0] > 0:
                gi0[j : j + n] = ci
            if gu0.shape[0] > 0:
                gu0[j : j + n] = cu
            if gs0.shape[0] > 0:
                gs0[j : j + n] = cs
            if need_a:
                ga[j : j + n] = acc_a
            if need_b:
                gb[j : j + n] = acc_b
            if need_v:
                gv[j : j + n] = acc_v
            if need_th:
                gth[j : j + n] = acc_th
            if gg.shape[0] > 0:
                gg[j : j + n] = acc_g

    return _jit(backward)


def lif_backward(
    gs: np.ndarray, gi: np.ndarray, gu: np.ndarray, spk: np.ndarray, iseq: np.ndarray,
    useq: np.ndarray, vpre: np.ndarray, i0: np.ndarray, u0: np.ndarray, s0: np.ndarray,
    alpha: np.ndarray, beta: np.ndarray, vrec: np.ndarray, thr: np.ndarray, graded: np.ndarray,
    consts: np.ndarray, kind: int, model: int, reset: int, delay: bool, gx: np.ndarray,
    gi0: np.ndarray, gu0: np.ndarray, gs0: np.ndarray, ga: np.ndarray, gb: np.ndarray,
    gv: np.ndarray, gth: np.ndarray, gg: np.ndarray
) -> None:  # fmt: skip
    """Reverse-time BPTT of ``lif_forward`` (``op.py``): fills the gradient outputs
    that are not ``[0]``; ``gx`` with one row (and ``T > 1``) gets ∂L/∂X summed over time."""
    params = shared_scalars(alpha, beta, vrec, thr, graded)
    args = (gs, gi, gu, spk, iseq, useq, vpre, i0, u0, s0, *params, consts, kind,
            gx, gi0, gu0, gs0, ga, gb, gv, gth, gg)  # fmt: skip
    run_range(backward_kernel(model, reset, delay), useq.shape, args)


# -- one step by address (the single-step fast path, ``step_cpu``) ---------------------------


def step_layout(n: int) -> tuple[int, int]:
    """``(block, lanes)`` for one step of ``n`` neurons; ``lanes == 1`` runs on one thread."""
    return parallel_layout((1, n)) if worth_threads((1, n)) else (SERIAL_BLOCK, 1)


@cache
def step_forward_at(model: int, reset: int, delay: bool) -> Callable:
    """``lif_forward`` of one step (``T = 1``, shared scalar parameters, no REC) for the
    neurons ``j0 … j1`` of ``n``, tensors given by address: ``(j0, j1, block, n, x, i0, u0,
    spk, i, u, vpre, keep_v, alpha, beta, thr, graded, units)``; ``i0``/``i`` are read and
    written when SYN, ``vpre`` when ``keep_v`` (the pre-reset membrane)."""
    syn, rec, keep = _bits(model)
    delay = bool(delay)

    def forward_at(
        j0, j1, size, n, x_at, i0_at, u0_at, spk_at, i_at, u_at, vpre_at, keep_v, alpha, beta,
        thr, graded, units,
    ):  # fmt: skip  # pragma: no cover - compiled
        m = n if syn else 0
        _forward_range(
            j0, j1, size, array_at(x_at, (1, n), units), array_at(i0_at, (m,), units),
            array_at(u0_at, (n,), units), array_at(0, (0,), units), alpha, beta, units[0],
            thr, graded, units, True, array_at(spk_at, (1, n), units),
            array_at(i_at, (1 if syn else 0, n), units), array_at(u_at, (1, n), units),
            array_at(vpre_at, (1 if keep_v else 0, n), units), syn, rec, keep, reset, delay,
        )  # fmt: skip

    return _jit(forward_at)


@cache
def step_backward_at(model: int, reset: int) -> Callable:
    """The one-pass backward of one step whose membrane gradient passes the reset unchanged
    (``delay`` or reset none), without parameter gradients, for neurons ``j0 … j1`` of
    ``n`` given by address: ``(j0, j1, block, n, gs, has_gs, gi, has_gi, gu, has_gu, v, up,
    gx, gi0, need_gi0, gu0, need_gu0, alpha, beta, thr, graded, consts, kind)``; an absent
    upstream gradient is zero. ``∂L/∂V = ∂L/∂U + g σ'(V − θ) ∂L/∂S``, ``∂L/∂X = ∂L/∂I =
    m-path(∂L/∂V) + ∂L/∂I (direct)``, ``∂L/∂I' = α ∂L/∂I``, ``∂L/∂U' = β ∂L/∂V`` (0 where
    a zero reset fired)."""
    syn, _, keep = _bits(model)
    mask_m = reset == 1 and not keep

    def backward_at(
        j0, j1, size, n, gs_at, has_gs, gi_at, has_gi, gu_at, has_gu, v_at, up_at, gx_at,
        gi0_at, need_gi0, gu0_at, need_gu0, alpha, beta, thr, graded, consts, kind,
    ):  # fmt: skip  # pragma: no cover - compiled
        zero = consts[0]
        gs = array_at(gs_at, (n if has_gs else 0,), consts)
        gu = array_at(gu_at, (n if has_gu else 0,), consts)
        v = array_at(v_at, (n,), consts)
        up = array_at(up_at, (n if reset == 1 else 0,), consts)
        gx = array_at(gx_at, (n,), consts)
        work = np.empty(3 * size, dtype=v.dtype)
        for j in range(j0, j1, size):
            m = min(size, j1 - j)
            gxr = gx[j : j + m]
            gvr = row(work, 2, size, m) if mask_m or syn else gxr
            if has_gs:
                z, sg = row(work, 0, size, m), row(work, 1, size, m)
                vr = v[j : j + m]
                for k in range(m):
                    z[k] = vr[k] - thr
                surrogate_row(kind, consts, z, sg, m)
                gsr = gs[j : j + m]
                if has_gu:
                    gur = gu[j : j + m]
                    for k in range(m):
                        gvr[k] = gur[k] + gsr[k] * graded * sg[k]
                else:
                    for k in range(m):
                        gvr[k] = gsr[k] * graded * sg[k]
            elif has_gu:
                gvr[:] = gu[j : j + m]
            else:
                gvr[:] = zero
            if mask_m:
                ur = up[j : j + m]
                for k in range(m):
                    gxr[k] = zero if ur[k] > thr else gvr[k]
            elif syn:
                gxr[:] = gvr
            if syn and has_gi:
                gxr += array_at(gi_at, (n,), consts)[j : j + m]
            if syn and need_gi0:
                gi0r = array_at(gi0_at, (n,), consts)[j : j + m]
                for k in range(m):
                    gi0r[k] = alpha * gxr[k]
            if need_gu0:
                g0 = array_at(gu0_at, (n,), consts)[j : j + m]
                if reset == 1:
                    ur = up[j : j + m]
                    for k in range(m):
                        g0[k] = zero if ur[k] > thr else beta * gvr[k]
                else:
                    for k in range(m):
                        g0[k] = beta * gvr[k]

    return _jit(backward_at)
