"""PNG plots of a training run (matplotlib's Agg canvas; no pyplot, no global state).

``curves.png`` (loss per batch, accuracy per epoch), ``raster_output.png`` and
``raster_hidden.png`` (spikes of one test digit), ``membrane.png`` (output membrane traces),
``spike_counts.png`` (output spikes of that digit, and mean output spikes by true class).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from .data import encode

__all__ = ["write_plots"]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, folder: Path, name: str, files: list[str]) -> None:
    fig.tight_layout()
    fig.savefig(folder / name)
    files.append(name)


def _moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _curves(folder: Path, result, files: list[str]) -> None:
    fig = _figure(10, 3.6)
    ax_loss, ax_acc = fig.subplots(1, 2)
    losses = result.batch_loss
    ax_loss.plot(losses, lw=0.6, alpha=0.4, label="batch")
    ax_loss.plot(_moving_average(losses, 25), lw=1.5, label="moving average (25)")
    ax_loss.set(xlabel="iteration", ylabel="loss", title="training loss")
    ax_loss.legend()
    epochs = [e["epoch"] for e in result.history]
    ax_acc.plot(epochs, [e["train_accuracy"] for e in result.history], "o-", label="train")
    ax_acc.plot(epochs, [e["test_accuracy"] for e in result.history], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_acc.set_xticks(epochs)
    ax_acc.legend()
    _save(fig, folder, "curves.png", files)


def _raster(ax, spikes: torch.Tensor, title: str) -> None:
    times, neurons = torch.nonzero(spikes, as_tuple=True)
    ax.scatter(times.numpy(), neurons.numpy(), s=4 if spikes.shape[1] > 50 else 25, c="k")
    ax.set(xlabel="time step", ylabel="neuron", title=title, xlim=(-0.5, spikes.shape[0] - 0.5))


def _sample(model, test_x, test_y, config, device):
    """The record of the first test digit: spikes and membranes ``[T, N]`` per layer."""
    model.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 2)
        inputs, static = encode(test_x[:1].to(device), config.encoding, config.steps)
        record = model(inputs, config.steps, static)
    spikes = [s[:, 0].reshape(s.shape[0], -1).float().cpu() for s in record.spikes]
    mems = [m[:, 0].reshape(m.shape[0], -1).float().cpu() for m in record.mems]
    return test_x[0, 0].cpu(), int(test_y[0]), spikes, mems


def _digit_rasters(folder, image, label, spikes, files):
    fig = _figure(10, 3.6)
    ax_img, ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
    ax_img.imshow(image.numpy(), cmap="gray")
    ax_img.set(title=f"test digit (label {label})", xticks=[], yticks=[])
    _raster(ax, spikes[-1], f"output layer: {int(spikes[-1].sum())} spikes")
    ax.set_yticks(range(spikes[-1].shape[1]))
    ax.axhline(label, color="tab:red", lw=6, alpha=0.15)
    _save(fig, folder, "raster_output.png", files)

    fig = _figure(10, 4.5)
    ax = fig.subplots()
    hidden = spikes[0]
    title = f"first hidden layer: {int(hidden.sum())} spikes, {hidden.shape[1]} neurons"
    _raster(ax, hidden, title)
    _save(fig, folder, "raster_hidden.png", files)


def _membrane(folder, label, spikes, mems, files):
    fig = _figure(10, 4)
    ax = fig.subplots()
    mem = mems[-1]
    for k in range(mem.shape[1]):
        style = {"lw": 2.5, "color": "tab:red"} if k == label else {"lw": 0.9, "alpha": 0.6}
        ax.plot(mem[:, k].numpy(), label=f"{k}", **style)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="threshold")
    ax.set(xlabel="time step", ylabel="membrane U", title=f"output membranes (label {label} bold)")
    ax.legend(ncol=6, fontsize=7)
    _save(fig, folder, "membrane.png", files)


def _spike_counts(folder, label, spikes, class_counts, files):
    fig = _figure(10, 4)
    ax_bar, ax_map = fig.subplots(1, 2)
    counts = spikes[-1].sum(0).numpy()
    colors = ["tab:red" if k == label else "tab:blue" for k in range(len(counts))]
    ax_bar.bar(range(len(counts)), counts, color=colors)
    ax_bar.set(xlabel="output neuron (class)", ylabel="spikes", title=f"test digit {label}")
    ax_bar.set_xticks(range(len(counts)))
    image = ax_map.imshow(class_counts, cmap="viridis")
    ax_map.set(xlabel="output neuron", ylabel="true class", title="mean output spikes, test set")
    ax_map.set_xticks(range(10))
    ax_map.set_yticks(range(10))
    fig.colorbar(image, ax=ax_map)
    _save(fig, folder, "spike_counts.png", files)


def write_plots(folder: Path, model, test_x, test_y, config, result, device) -> list[str]:
    """Write the PNGs into ``folder``; returns their names (none if matplotlib is missing)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "plots skipped: matplotlib is not installed (pip install matplotlib)", file=sys.stderr
        )
        return []
    files: list[str] = []
    _curves(folder, result, files)
    image, label, spikes, mems = _sample(model, test_x, test_y, config, device)
    _digit_rasters(folder, image, label, spikes, files)
    _membrane(folder, label, spikes, mems, files)
    _spike_counts(folder, label, spikes, result.test.class_counts, files)
    return files
