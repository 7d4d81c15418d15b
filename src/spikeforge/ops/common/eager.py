"""Eager-mode entry to the fused ops, without ``torch.library``'s dispatch.

A ``torch.library.custom_op`` call pays Python dispatch (argument normalisation, the
dynamo-disabled wrapper, autograd redispatch) before its kernel runs: more than the kernel
itself for one step of a small layer (bench/README.md, "Kernel tuning"). Each fused op
therefore also has a plain ``torch.autograd.Function`` that runs the same forward kernels,
saves the same tensors and runs the same backward kernels. Eager code takes that path;
code being traced by ``torch.compile`` takes the registered op, which has fake
implementations and passes ``opcheck``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["FORCE_CUSTOM_OP", "call_fused", "eager_function", "use_custom_op"]

FORCE_CUSTOM_OP = False  # tests set it to run the registered ops in eager mode


def use_custom_op() -> bool:
    """True while ``torch.compile`` traces (or when forced): call the registered op."""
    return FORCE_CUSTOM_OP or torch.compiler.is_compiling()


def eager_function(
    name: str,
    forward: Callable[..., tuple[torch.Tensor, ...]],
    setup_context: Callable[..., None],
    backward: Callable[..., tuple],
    non_differentiable: tuple[int, ...] = (),
) -> type[torch.autograd.Function]:
    """An ``autograd.Function`` from an op's parts: ``forward(*inputs)`` (the op's body),
    ``setup_context(ctx, inputs, output)`` and ``backward(ctx, *grads)`` (its autograd
    registration, with the backward kernels called directly)."""

    def fwd(ctx, *inputs):
        output = forward(*inputs)
        setup_context(ctx, inputs, output)
        if non_differentiable:
            ctx.mark_non_differentiable(*(output[i] for i in non_differentiable))
        return output

    def bwd(ctx, *grads):
        return backward(ctx, *grads)

    return type(
        name,
        (torch.autograd.Function,),
        {"forward": staticmethod(fwd), "backward": staticmethod(bwd)},
    )


def call_fused(op: Callable, eager: type[torch.autograd.Function], *args):
    """Run a fused op: the registered ``op`` under ``torch.compile``, else ``eager``."""
    if use_custom_op():
        return op(*args)
    return eager.apply(*args)
