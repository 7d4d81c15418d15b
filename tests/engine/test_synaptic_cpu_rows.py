"""The Synaptic CPU kernels (one row loop per mode) equal the plain-torch kernels of
``fallback.py`` in float64 for every reset mode and delay, shared and per-neuron
parameters, an input of one row (the same every step), no stored sequence, upstream
gradients of spikes with no / one / T rows, of the current or the membrane sequence or
neither, and the parameter gradients wanted or not; on one thread and across blocks and lanes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from spikeforge.ops.codes import surrogate_from
from spikeforge.ops.synaptic import fallback

cpu = pytest.importorskip("spikeforge.ops.synaptic.cpu")  # needs numba

F64 = torch.float64
RESETS = [(r, d) for r in (0, 1, 2) for d in (True, False)]
# (T, N): one thread and a partial block; several lanes and blocks (parallel path; its
# float64 kernels compile only for these tests, minutes on a cold cache: slow suite)
SHAPES = [(6, 37), pytest.param(60, 1100, marks=pytest.mark.slow)]


def _inputs(T, N, per_neuron, x_rows, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(x_rows, N, generator=gen, dtype=F64) * 0.6 + 0.2
    i0 = torch.randn(N, generator=gen, dtype=F64) * 0.3
    u0 = torch.randn(N, generator=gen, dtype=F64) * 0.6
    P = N if per_neuron else 1

    def param(lo, hi):
        return lo + (hi - lo) * torch.rand(P, generator=gen, dtype=F64)

    return x, i0, u0, param(0.2, 0.9), param(0.3, 0.95), param(0.6, 1.2), param(0.5, 1.5)


def _forward(kernel, ins, T, reset, delay, store):
    N = ins[0].shape[1]
    outs = [
        torch.full(s, float("nan"), dtype=F64)
        for s in ((T, N), (T if store else 1, N), (T if store else 1, N),
                  (T if store and not delay else 0, N))
    ]  # fmt: skip
    if kernel == "cpu":
        x, *rest = ins
        x = x if x.shape[0] > 1 else x[:1]
        consts = cpu.surrogate_constants("disabled", (), np.dtype(np.float64))
        cpu.synaptic_forward(x.numpy(), *(t.numpy() for t in rest), consts, reset, delay,
                             store, *(o.numpy() for o in outs))  # fmt: skip
    else:
        x = ins[0].expand(T, -1) if ins[0].shape[0] == 1 else ins[0]
        fallback.forward(x, *ins[1:], reset, delay, store, *outs)
    return outs


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
@pytest.mark.parametrize(("T", "N"), SHAPES, ids=str)
def test_forward_equals_fallback(reset, delay, per_neuron, T, N):
    for x_rows, store in itertools.product((T, 1), (True, False)):
        ins = _inputs(T, N, per_neuron, x_rows, seed=reset + 7 * N)
        got = _forward("cpu", ins, T, reset, delay, store)
        want = _forward("torch", ins, T, reset, delay, store)
        assert torch.equal(got[0], want[0]), (x_rows, store)  # spikes exactly
        for g, w in zip(got[1:], want[1:]):
            torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("reset", "delay"), RESETS, ids=[f"{r}-{d}" for r, d in RESETS])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per-neuron"])
@pytest.mark.parametrize(("T", "N"), SHAPES, ids=str)
@pytest.mark.parametrize("surrogate", ["atan", "triangular"])
def test_backward_equals_fallback(reset, delay, per_neuron, T, N, surrogate):
    gen = torch.Generator().manual_seed(3)
    sg_params = (2.0, 0.0)
    consts = cpu.surrogate_constants(surrogate, sg_params, np.dtype(np.float64))
    for x_rows in (T, 1):
        ins = _inputs(T, N, per_neuron, x_rows, seed=reset + 11 * N)
        _, iseq, useq, vpre = _forward("torch", ins, T, reset, delay, True)
        for gs_rows, (gi_rows, gu_rows), needs in itertools.product(
            (0, 1, T), ((0, 0), (T, 0), (0, T)), ((False,) * 6, (True,) * 6)
        ):
            grads = [torch.randn(r, N, generator=gen, dtype=F64)
                     for r in (gs_rows, gi_rows, gu_rows)]  # fmt: skip
            saved = [iseq, useq, vpre, *ins[1:]]
            results = []
            for kernel in ("cpu", "torch"):
                outs = [torch.full((x_rows if T > 1 else 1, N), float("nan"), dtype=F64)]
                outs += [torch.full((N if need else 0,), float("nan"), dtype=F64)
                         for need in needs]  # fmt: skip
                if kernel == "cpu":
                    cpu.synaptic_backward(*(t.numpy() for t in grads + saved), consts,
                                          cpu.SURROGATE_IDS[surrogate], reset, delay,
                                          *(o.numpy() for o in outs))  # fmt: skip
                else:
                    fallback.backward(*grads, *saved, surrogate_from(surrogate, sg_params),
                                      reset, delay, *outs)  # fmt: skip
                results.append(outs)
            for g, w in zip(*results):
                torch.testing.assert_close(g, w, rtol=1e-11, atol=1e-11)
