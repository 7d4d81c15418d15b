"""StateLeaky's causal exponential filter in O(T): a chunked scan made of matrix products.

The sequence is cut into chunks of ``L`` steps. Inside a chunk the filter is a small
``L × L`` lower-triangular matrix of taps ``e^{−k/τ}`` (one batched matrix product for all
chunks); what earlier chunks leave behind is carried by the state at each chunk's end,

.. math::
    E_n = \\sum_{m \\le n} e^{−L (n−m)/τ} \\, \\ell_m, \\qquad
    U_{nL+i} = \\text{local}_{n,i} + e^{−(i+1)/τ} E_{n−1},

with ``ℓ_m`` the local result at the last step of chunk ``m``. ``E`` is the same filter on a
sequence ``L`` times shorter with ``τ/L``, so the function recurses: O(T·L) work, O(T)
memory, no step-by-step loop. The full filter has a hand-written backward (``_FullFilter``:
the same scan run anti-causally, and ``τ``'s gradient from one inner product, saving only
``U``); the truncated ones go through autograd (each tap is an ``exp`` of ``τ``, so its
gradient is exact). A truncated kernel (``K`` taps) adds the previous chunk through a second
banded matrix when ``K ≤ L`` (``L`` grows up to ``MAX_BANDED`` to allow it); beyond that
it uses ``U^K_t = U_t − e^{−K/τ} U_{t−K}``, exact in real arithmetic (``e^{−a/τ}e^{−b/τ} =
e^{−(a+b)/τ}``) but subject to cancellation when ``U`` is much larger than ``U^K``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .reference import as_channel_tau, tap_weights

__all__ = ["CHUNK", "MAX_BANDED", "decay_filter"]

CHUNK = 64  # steps per chunk (16/32/64/128 timed at T=1000 on the CPU: 32 and 64 fastest)
MAX_BANDED = 256  # longest truncation served by banded chunks


def _apply(weights: Tensor, x: Tensor) -> Tensor:
    """``Σ_s W[i, s] x[..., s, b, c]`` for ``W [I, S]`` (shared τ) or ``[I, S, C]``."""
    if weights.dim() == 2:
        lead = x.shape[:-3]
        s, b, c = x.shape[-3:]
        out = torch.matmul(weights, x.reshape(*lead, s, b * c))
        return out.reshape(*lead, weights.shape[0], b, c)
    return torch.einsum("isc,...sbc->...ibc", weights, x)


def _chunk_taps(chunk: int, tau: Tensor, scale: int, taps: int | None, device) -> Tensor:
    """Taps ``e^{−scale·(i−j)/τ}`` for ``0 ≤ i−j`` (and ``i−j < taps``) inside a chunk."""
    idx = torch.arange(chunk, device=device, dtype=tau.dtype)
    lags = idx[:, None] - idx[None, :]
    inside = lags >= 0
    if taps is not None:
        inside = inside & (lags < taps)
    weights = tap_weights(lags.clamp(min=0) * scale, tau)
    return weights * (inside if tau.dim() == 0 else inside.unsqueeze(-1))


def _chunk_length(steps: int, chunk: int) -> int:
    """A chunk length that divides ``steps`` (no padding copy) if one lies in
    ``[chunk/2, chunk]``, else ``chunk``."""
    for length in range(chunk, chunk // 2 - 1, -1):
        if steps % length == 0:
            return length
    return chunk


def _full(x: Tensor, tau: Tensor, scale: int, chunk: int, reverse: bool = False) -> Tensor:
    """``U_t = Σ_{s ≤ t} e^{−scale·(t−s)/τ} x_s`` over the first axis of ``x [T, B, C]``;
    ``reverse``: the anti-causal ``Σ_{s ≥ t}`` (the filter's transpose, for backward)."""
    steps = x.shape[0]
    if steps <= chunk:
        taps = _chunk_taps(steps, tau, scale, None, x.device)
        return _apply(taps.transpose(0, 1) if reverse else taps, x)
    length = _chunk_length(steps, chunk)
    n = -(-steps // length)
    if n * length != steps:
        x = torch.cat([x, x.new_zeros((n * length - steps, *x.shape[1:]))])
    blocks = x.reshape(n, length, *x.shape[1:])
    taps = _chunk_taps(length, tau, scale, None, x.device)
    local = _apply(taps.transpose(0, 1) if reverse else taps, blocks)  # [N, L, B, C]
    # The filtered value at each chunk's edge (its end; its start when reversed), over the
    # chunks: a copy, as ``local`` is updated in place below.
    edge = local[:, 0] if reverse else local[:, -1]
    ends = _full(edge.clone(), tau, scale * length, chunk, reverse)
    zero = ends.new_zeros((1, *ends.shape[1:]))
    if reverse:  # what the chunks after this one hold, seen from step i: e^{−(L−i)/τ}
        neighbour = torch.cat([ends[1:], zero])
        lags = torch.arange(length, 0, -1, device=x.device, dtype=tau.dtype)
    else:  # what the chunks before hold, seen from step i: e^{−(i+1)/τ}
        neighbour = torch.cat([zero, ends[:-1]])
        lags = torch.arange(1, length + 1, device=x.device, dtype=tau.dtype)
    ramp = tap_weights(lags * scale, tau)  # [L] or [L, C]
    ramp = ramp[:, None, None] if tau.dim() == 0 else ramp[:, None, :]
    # In place: the matrix product's backward does not need its output.
    out = local.addcmul_(ramp, neighbour[:, None])
    out = out.reshape(n * length, *x.shape[1:])
    return out if n * length == steps else out[:steps]


class _FullFilter(torch.autograd.Function):
    """The untruncated filter with a hand-written backward that keeps only ``U``.

    ``∂L/∂x = Fᵀ g`` (the anti-causal filter of the output gradient ``g``), and since
    ``(h ∗ h)_k = (k+1) h_k`` for ``h_k = e^{−k/τ}``, ``Σ_k k h_k x_{t−k} = (F U)_t − U_t``,
    so ``∂L/∂τ = τ^{−2} Σ_k k h_k ⟨g, x_{·−k}⟩ = τ^{−2} ⟨Fᵀ g − g, U⟩`` per channel.
    """

    @staticmethod
    def forward(ctx, x: Tensor, tau: Tensor, chunk: int) -> Tensor:
        with torch.no_grad():
            out = _full(x, tau.detach(), 1, chunk)
        ctx.save_for_backward(out, tau)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        out, tau = ctx.saved_tensors
        grad_x = _full(grad, tau.detach(), 1, ctx.chunk, reverse=True)
        grad_tau = None
        if ctx.needs_input_grad[1]:
            channels = out.shape[-1]
            inner = (grad_x * out).reshape(-1, channels).sum(0)
            inner = inner - (grad * out).reshape(-1, channels).sum(0)
            grad_tau = inner / (tau.detach() ** 2)
            if tau.dim() == 0:
                grad_tau = grad_tau.sum()
        return grad_x if ctx.needs_input_grad[0] else None, grad_tau, None


def _banded(x: Tensor, tau: Tensor, taps: int, chunk: int) -> Tensor:
    """``K``-tap filter with ``K ≤ chunk``: each chunk sees itself and the previous one."""
    steps = x.shape[0]
    n = -(-steps // chunk)
    pad_end = n * chunk - steps
    x = torch.cat([x.new_zeros((chunk, *x.shape[1:])), x, x.new_zeros((pad_end, *x.shape[1:]))])
    blocks = x.reshape(n + 1, chunk, *x.shape[1:])
    own = _chunk_taps(chunk, tau, 1, taps, x.device)
    idx = torch.arange(chunk, device=x.device, dtype=tau.dtype)
    lags = chunk + idx[:, None] - idx[None, :]  # lag from step j of the previous chunk
    inside = lags < taps
    before = tap_weights(lags, tau)
    before = before * (inside if tau.dim() == 0 else inside.unsqueeze(-1))
    out = _apply(own, blocks[1:]) + _apply(before, blocks[:-1])
    return out.reshape(n * chunk, *x.shape[1:])[:steps]


def decay_filter(
    x: Tensor, tau: Tensor, truncation: int | None = None, chunk: int = CHUNK
) -> Tensor:
    """``U_t = Σ_{k < K} e^{−k/τ} X_{t−k}`` for ``X [T, B, C]`` in O(T) (see the module).

    ``tau``: ``[]``, ``[1]`` or ``[C]``; ``truncation``: ``K`` or None for every tap.
    Equals ``reference.decay_filter_reference`` up to float rounding.
    """
    tau = as_channel_tau(tau, x)
    steps = x.shape[0]
    if truncation is None or truncation >= steps:
        return _FullFilter.apply(x, tau, chunk)
    if truncation <= max(chunk, MAX_BANDED):
        return _banded(x, tau, truncation, max(chunk, truncation))
    full = _full(x, tau, 1, chunk)
    older = torch.cat([full.new_zeros((truncation, *full.shape[1:])), full[: steps - truncation]])
    oldest = torch.tensor(float(truncation), device=x.device, dtype=x.dtype)
    return full - tap_weights(oldest, tau) * older
