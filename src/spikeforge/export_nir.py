"""snnTorch's ``snntorch.export_nir`` module: ``from spikeforge.export_nir import export_to_nir``.

Same signature as snnTorch 1.0.0. NIR node types describe one sample, so spikeforge always
leaves the batch axis out of them (and the time axis of a ``step_mode="multi"`` network):
snnTorch does so only for the axes listed in ``ignore_dims`` (its users pass ``[0]``), and
with ``ignore_dims=[]`` writes a batch axis that current NIR type checks reject.
``ignore_dims`` is therefore checked, not needed: it may list only those leading axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from .nir import _require_nir

__all__ = ["export_to_nir"]


def export_to_nir(
    module: nn.Module,
    sample_data: Tensor,
    model_name: str = "snntorch",
    model_fwd_args: Sequence[Any] = [],  # snnTorch's defaults (never mutated)
    ignore_dims: Sequence[int] = [],
    dt: float = 1e-4,
):
    """``module`` as a ``nir.NIRGraph``; ``sample_data`` is one step's input ``[B, ...]``.

    ``model_fwd_args``: further positional arguments of ``module.forward`` for the tracing
    run. ``ignore_dims``: axes of ``sample_data`` that are not part of a sample (see the
    module docstring). ``dt``: the time step of the discretisation (spikeforge's extra).
    """
    _require_nir()
    from .nir.export import export_to_nir as _export

    if not isinstance(sample_data, Tensor):
        raise TypeError(f"sample_data must be a torch.Tensor, got {type(sample_data).__name__}")
    multi = any(getattr(m, "step_mode", "single") == "multi" for m in module.modules())
    lead = 2 if multi else 1
    for dim in ignore_dims:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"ignore_dims must hold ints, got {dim!r}")
        if dim % max(sample_data.dim(), 1) >= lead:
            raise ValueError(
                f"ignore_dims may list only the batch{' and time' if multi else ''} axis "
                f"(0{', 1' if multi else ''}) of sample_data, which NIR types always leave "
                f"out; got {dim}"
            )
    return _export(
        module, sample_data, dt=dt, model_name=model_name, model_fwd_args=tuple(model_fwd_args)
    )
