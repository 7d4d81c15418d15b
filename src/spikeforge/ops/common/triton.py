"""Triton pieces every recurrence's kernels share: the surrogate derivative by id, the
accumulator dtype, the block size and a parameter's stride (imported only with Triton)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["BLOCK", "INTERPRET_BLOCK", "acc_dtype", "block_size", "param_stride", "surrogate_grad"]

BLOCK = 1024
INTERPRET_BLOCK = 64


@triton.jit
def surrogate_grad(z, KIND: tl.constexpr, c0, c1):
    """``dS/dz`` for surrogate id ``KIND`` (``ops.codes.SURROGATE_IDS``), with the
    constants of ``ops.codes.surrogate_constants``."""
    if KIND == 0:
        a = c1 * z
        out = c0 / (1.0 + a * a)
    elif KIND == 1:
        d = c0 * tl.abs(z) + 1.0
        out = 1.0 / (d * d)
    elif KIND == 2:
        s = 1.0 / (1.0 + tl.exp(-c0 * z))
        out = c0 * s * (1.0 - s)
    elif KIND == 3:
        out = tl.full(z.shape, 1.0, z.dtype)
    elif KIND == 4:
        out = tl.where(z >= 0, -c0, c0)
    elif KIND == 5:
        out = tl.where(z > 0, 1.0, 0.0)
    elif KIND == 6:
        out = c1 * tl.exp(-c0 * tl.abs(z - 1.0))
    elif KIND == 7:
        out = tl.where(z > 0, 1.0, c0)
    elif KIND == 8:
        d = c0 * tl.abs(z) + 1.0
        out = tl.where(z > c1, 1.0, 0.0) / (d * d)
    else:
        out = tl.zeros(z.shape, z.dtype)
    return out.to(z.dtype)


def acc_dtype(dtype: torch.dtype):
    """The state's dtype inside a kernel: float64 for float64 inputs, else float32."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def block_size(t: torch.Tensor) -> int:
    """Neurons per program: small when interpreted on the CPU."""
    return INTERPRET_BLOCK if t.device.type == "cpu" else BLOCK


def param_stride(p: torch.Tensor) -> int:
    """0 for a shared ``[1]`` parameter, 1 for a per-neuron ``[N]`` one."""
    return 0 if p.shape[0] == 1 else 1
