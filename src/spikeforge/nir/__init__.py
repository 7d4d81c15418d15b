"""NIR (Neuromorphic Intermediate Representation) export and import.

The ``nir`` package is optional (``pip install spikeforge[nir]``) and is imported only when
one of these functions runs. See :mod:`spikeforge.nir.export` and
:mod:`spikeforge.nir.import_` for the mapping and the discretisation.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["export_to_nir", "import_from_nir"]

_HINT = "NIR support needs the nir package: pip install 'spikeforge[nir]'"


def _require_nir() -> None:
    try:
        import nir  # noqa: F401
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(_HINT) from err


def export_to_nir(net: nn.Module, sample_data: Tensor, dt: float = 1e-4, **kwargs: Any):
    """``net`` as a ``nir.NIRGraph``; ``sample_data`` is one time step's input ``[B, ...]``.

    ``ignore_dims=`` (snnTorch's keyword, as in its NIR tutorial's top-level import) is
    checked as :func:`spikeforge.export_nir.export_to_nir` checks it.
    """
    _require_nir()
    if "ignore_dims" in kwargs:
        from ..export_nir import export_to_nir as _snntorch_style

        kwargs.setdefault("model_name", "spikeforge")
        return _snntorch_style(net, sample_data, dt=dt, **kwargs)
    from .export import export_to_nir as _export

    return _export(net, sample_data, dt=dt, **kwargs)


def import_from_nir(graph: Any, dt: float | None = None) -> nn.Module:
    """A module running a ``nir.NIRGraph`` (or ``.nir`` file) one time step per call."""
    _require_nir()
    from .import_ import import_from_nir as _import

    return _import(graph, dt=dt)
