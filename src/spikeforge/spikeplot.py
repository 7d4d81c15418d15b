"""Spike plots with ``snntorch.spikeplot``'s names: ``raster``, ``animator``, ``spike_count``,
``traces``. Only matplotlib is needed (snnTorch's also imports undeclared pandas), and it is
imported inside the functions, so ``import spikeforge`` stays light.

Inputs are time-major tensors (or numpy arrays): ``[T, N]`` for spikes and traces,
``[T, H, W]`` for frames. Unlike snnTorch these functions never change global
``rcParams`` and draw only on the axes or figure they are given (``traces`` uses the
current figure, as snnTorch does).

Example::

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, torch
    >>> from spikeforge import spikeplot as splt
    >>> fig, ax = plt.subplots()
    >>> dots = splt.raster(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), ax, s=4)
    >>> dots.get_offsets().tolist()  # (time step, neuron) of each spike
    [[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [2.0, 1.0]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["animator", "raster", "spike_count", "traces"]

_BAR_COLOR = "#007ACC"
_TEXT_COLOR = "#333F4B"


def _as_tensor(name: str, data: Any) -> Tensor:
    if isinstance(data, Tensor):
        return data.detach().cpu()
    if isinstance(data, np.ndarray):
        return torch.from_numpy(data)
    raise TypeError(f"{name} must be a torch.Tensor or a numpy array, got {type(data).__name__}")


def _steps(num_steps: Any, available: int) -> int:
    """``num_steps=False`` means all ``available`` steps; otherwise 1 <= num_steps <= available."""
    if num_steps is False or num_steps is None:
        return available
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int or False, got {num_steps!r}")
    if num_steps > available:
        raise ValueError(f"num_steps={num_steps} exceeds the {available} steps in data")
    return num_steps


def raster(data: Tensor, ax: Any, **kwargs: Any) -> Any:
    """Scatter a dot at ``(t, n)`` for every non-zero ``data[t, n]``.

    Args:
        data: spikes ``[T, N]`` (or ``[T]`` for one neuron).
        ax: matplotlib axes; ``kwargs`` go to ``ax.scatter`` (e.g. ``s=1.5, c="black"``).

    Returns:
        The ``PathCollection``; its offsets are the spikes' ``(t, n)``.
    """
    spikes = _as_tensor("data", data)
    if spikes.dim() == 1:
        spikes = spikes.unsqueeze(1)
    if spikes.dim() != 2:
        raise ValueError(
            f"data must be [T, N] (or [T]), got shape {tuple(spikes.shape)}; "
            "flatten the neuron dims, e.g. data.reshape(T, -1)"
        )
    times, neurons = torch.nonzero(spikes, as_tuple=True)
    return ax.scatter(times.numpy(), neurons.numpy(), **kwargs)


def animator(
    data: Tensor,
    fig: Any,
    ax: Any,
    num_steps: int | bool = False,
    interval: int = 40,
    cmap: str = "plasma",
) -> Any:
    """Animate frames ``data[t]`` (``[T, H, W]``, ``[T, 1, H, W]`` or ``[T, H, W, 3|4]``).

    Returns a ``matplotlib.animation.ArtistAnimation`` of the first ``num_steps`` frames
    (all by default), ``interval`` milliseconds apart.
    """
    from matplotlib.animation import ArtistAnimation

    frames = _as_tensor("data", data)
    if frames.dim() == 4 and frames.size(1) == 1:
        frames = frames[:, 0]
    rgb = frames.dim() == 4 and frames.size(-1) in (3, 4)
    if frames.dim() != 3 and not rgb:
        raise ValueError(
            f"data must be [T, H, W], [T, 1, H, W] or [T, H, W, 3|4], got {tuple(frames.shape)}"
        )
    steps = _steps(num_steps, frames.size(0))
    ax.axis("off")
    images = [[ax.imshow(frames[t].numpy(), cmap=cmap, animated=True)] for t in range(steps)]
    return ArtistAnimation(fig, images, interval=interval)


def _shade_grid(ax: Any) -> list[Any]:
    """Grey bands between every other pair of x ticks (snnTorch's ``_GridShader`` look)."""
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo < t < hi]
    edges = [lo, *ticks, hi]
    return [
        ax.axvspan(a, b, zorder=0, facecolor="lightgrey", alpha=0.7)
        for a, b in zip(edges[1::2], edges[2::2])
    ]


def _draw_counts(ax: Any, counts: Tensor) -> list[Any]:
    rows = np.arange(1, counts.numel() + 1)
    bars = ax.hlines(rows, 0, counts.numpy(), color=_BAR_COLOR, alpha=0.5, linewidth=8)
    (dots,) = ax.plot(counts.numpy(), rows, "o", markersize=8, color=_BAR_COLOR, alpha=0.6)
    return [bars, dots]


def _style_count_axes(ax: Any, labels: list[Any], xrange: int, time_step: Any) -> None:
    ax.set_xlim(0, xrange)
    ax.set_yticks(np.arange(1, len(labels) + 1), [str(label) for label in labels])
    ax.set_ylabel("Labels", fontsize=15, fontweight="black", color=_TEXT_COLOR)
    ax.tick_params(axis="both", which="major", labelsize=12, colors=_TEXT_COLOR)
    ax.spines["top"].set_color("none")
    ax.spines["right"].set_color("none")
    ax.spines["bottom"].set_position(("axes", -0.04))
    if time_step:
        ticks = ax.get_xticks()
        ax.set_xticks(ticks, [f"{t * time_step:g}" for t in ticks])
        ax.set_xlim(0, xrange)
        ax.set_xlabel("Time [s]", fontsize=15, fontweight="black", color=_TEXT_COLOR)
    else:
        ax.set_xlabel("Time Step", fontsize=15, fontweight="black", color=_TEXT_COLOR)


def spike_count(
    data: Tensor,
    fig: Any,
    ax: Any,
    labels: list[Any],
    num_steps: int | bool = False,
    animate: bool = False,
    interpolate: int = 1,
    gridshader: bool = True,
    interval: int = 25,
    time_step: float | bool = False,
) -> Any:
    """Horizontal bars of each output's spike count ``Σ_{t<k} data[t, n]``.

    Args:
        data: spikes ``[T, N]``; ``labels`` names the N outputs.
        num_steps: x-axis length and steps counted (all of ``T`` by default).
        animate: if true, return an ``ArtistAnimation`` whose frame ``i`` shows the counts
            up to step ``floor(i / interpolate)`` and a time bar at ``i / interpolate``.
        gridshader: shade every other x-tick interval.
        time_step: if given, x ticks are labelled in seconds (``step · time_step``).

    Returns:
        The animation if ``animate``, else the bars' ``LineCollection`` (snnTorch: ``None``).
    """
    from matplotlib.animation import ArtistAnimation

    spikes = _as_tensor("data", data)
    if spikes.dim() != 2:
        raise ValueError(f"data must be [T, N], got shape {tuple(spikes.shape)}")
    if len(labels) != spikes.size(1):
        raise ValueError(f"labels has {len(labels)} entries but data has {spikes.size(1)} outputs")
    if isinstance(interpolate, bool) or not isinstance(interpolate, int) or interpolate < 1:
        raise ValueError(f"interpolate must be a positive int, got {interpolate!r}")
    xrange = _steps(num_steps, spikes.size(0))
    counts_until = torch.cat([torch.zeros(1, spikes.size(1)), spikes[:xrange].float().cumsum(0)])
    _style_count_axes(ax, labels, xrange, time_step)
    if gridshader:
        _shade_grid(ax)
    if not animate:
        return _draw_counts(ax, counts_until[xrange])[0]
    frames = []
    for i in range(xrange * interpolate):
        artists = _draw_counts(ax, counts_until[math.floor(i / interpolate)])
        artists.append(ax.axvline(i / interpolate, color="tab:orange", linewidth=3))
        frames.append(artists)
    return ArtistAnimation(fig, frames, interval=interval)


def traces(
    data: Tensor,
    spk: Tensor | None = None,
    dim: tuple[int, int] = (3, 3),
    spk_height: float = 5,
    titles: list[str] | None = None,
) -> list[Any]:
    """Grid of ``dim[0]×dim[1]`` traces ``data[:, i]`` (e.g. membranes) in the current figure.

    With ``spk`` given, ``spk_height · spk`` is added so spikes stand out on the traces
    (after Zenke's plots). The panels share their y axis and hide their axes. Returns the
    panels' axes (snnTorch: ``None``).
    """
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    values = _as_tensor("data", data)
    if values.dim() != 2:
        raise ValueError(f"data must be [T, N], got shape {tuple(values.shape)}")
    if spk is not None:
        spikes = _as_tensor("spk", spk)
        if spikes.shape != values.shape:
            raise ValueError(
                f"spk must have data's shape {tuple(values.shape)}, got {tuple(spikes.shape)}"
            )
        values = values + spk_height * spikes
    panels = int(np.prod(dim))
    if values.size(1) < panels:
        raise ValueError(f"dim={tuple(dim)} needs {panels} traces but data has {values.size(1)}")
    grid = GridSpec(*dim)
    fig = plt.gcf()
    axes: list[Any] = []
    for i in range(panels):
        ax = fig.add_subplot(grid[i], sharey=axes[0] if axes else None)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
        ax.plot(values[:, i].numpy())
        ax.axis("off")
        axes.append(ax)
    return axes
