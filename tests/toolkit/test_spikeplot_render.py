"""spikeplot: each plot renders a non-blank PNG and draws what the data says."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import ArtistAnimation  # noqa: E402

from spikeforge import spikeplot as splt  # noqa: E402


@pytest.fixture
def fig_ax():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=50)
    yield fig, ax
    plt.close(fig)


def png_pixels(fig) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return plt.imread(buf)


def gif_frames(anim: ArtistAnimation, path) -> list[np.ndarray]:
    """Render ``anim`` to a GIF with the Pillow writer and read its frames back."""
    from PIL import Image, ImageSequence

    anim.save(path, writer="pillow", dpi=30)
    with Image.open(path) as gif:
        return [
            np.asarray(frame.convert("L"), dtype=float) for frame in ImageSequence.Iterator(gif)
        ]


def spikes(steps: int = 20, neurons: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, neurons, generator=g) < 0.3).float()


def test_spikeplot_raster_has_one_dot_per_spike(fig_ax):
    fig, ax = fig_ax
    data = spikes()
    dots = splt.raster(data, ax, s=4, c="black")
    offsets = dots.get_offsets()
    assert len(offsets) == int(data.sum()) > 0
    for t, n in offsets:
        assert data[int(t), int(n)] == 1
    assert png_pixels(fig).var() > 0


def test_spikeplot_raster_one_neuron_and_numpy(fig_ax):
    _, ax = fig_ax
    dots = splt.raster(np.array([0.0, 1.0, 0.0, 1.0]), ax)
    assert dots.get_offsets().tolist() == [[1.0, 0.0], [3.0, 0.0]]
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        splt.raster(torch.ones(2, 3, 4), ax)
    with pytest.raises(TypeError, match="data"):
        splt.raster([[1, 0]], ax)


def test_spikeplot_spike_count_bars_have_the_counts(fig_ax):
    fig, ax = fig_ax
    data = spikes(10, 4)
    bars = splt.spike_count(data, fig, ax, labels=["a", "b", "c", "d"], time_step=1e-3)
    lengths = [seg[1][0] - seg[0][0] for seg in bars.get_segments()]
    assert lengths == data.sum(0).tolist()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c", "d"]
    assert ax.get_xlabel() == "Time [s]"
    assert png_pixels(fig).var() > 0


def test_spikeplot_spike_count_animation_frames(fig_ax, tmp_path):
    fig, ax = fig_ax
    data = spikes(5, 3)
    anim = splt.spike_count(data, fig, ax, ["0", "1", "2"], animate=True, interpolate=2)
    assert isinstance(anim, ArtistAnimation)
    frames = anim._framedata
    assert len(frames) == 10  # T · interpolate
    last_bars = frames[-1][0]  # frame 9 shows counts up to step floor(9 / 2) = 4
    lengths = [seg[1][0] - seg[0][0] for seg in last_bars.get_segments()]
    assert lengths == data[:4].sum(0).tolist()
    assert frames[-1][2].get_xdata()[0] == 4.5  # the time bar
    rendered = gif_frames(anim, tmp_path / "counts.gif")
    assert len(rendered) >= 2 and all(frame.var() > 0 for frame in rendered)
    assert any(np.abs(a - b).sum() > 0 for a, b in itertools.pairwise(rendered))  # it moves
    with pytest.raises(ValueError, match="labels"):
        splt.spike_count(data, fig, ax, ["0"])


def test_spikeplot_animator_one_image_per_step(fig_ax, tmp_path):
    fig, ax = fig_ax
    frames = torch.rand(6, 1, 5, 5)
    anim = splt.animator(frames, fig, ax, num_steps=4, interval=10)
    assert len(anim._framedata) == 4
    np.testing.assert_array_equal(anim._framedata[2][0].get_array(), frames[2, 0].numpy())
    rendered = gif_frames(anim, tmp_path / "frames.gif")
    assert len(rendered) == 4 and all(frame.var() > 0 for frame in rendered)
    with pytest.raises(ValueError, match="num_steps"):
        splt.animator(frames, fig, ax, num_steps=7)


def test_spikeplot_traces_grid_with_spikes():
    plt.figure(figsize=(4, 4), dpi=50)
    mem = torch.linspace(0, 1, 30)[:, None].repeat(1, 5) * torch.arange(1, 6)
    spk = torch.zeros(30, 5)
    spk[10, 0] = 1
    axes = splt.traces(mem, spk=spk, dim=(2, 2), spk_height=5, titles=["n0", "n1"])
    assert len(axes) == 4
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), (mem[:, 0] + 5 * spk[:, 0]).numpy())
    assert axes[0].get_title() == "n0" and axes[3].get_title() == ""
    assert png_pixels(plt.gcf()).var() > 0
    with pytest.raises(ValueError, match="needs 9 traces"):
        splt.traces(mem)
    plt.close("all")


def test_spikeplot_workshop_seed_snn_figures():
    """Seed 004's spiking section: input spikes, membrane and output of an IAF layer."""
    import spikeforge as snn

    g = torch.Generator().manual_seed(0)
    steps, n_in, n_out, threshold = 100, 16, 4, 10.0
    spike_stream = (torch.rand(steps, n_in, generator=g) < 0.2).float()
    weight = torch.rand(n_in, n_out, generator=g) * 3
    iaf = snn.IAF(threshold=threshold, reset_delay=False)
    out = [iaf(x @ weight) for x in spike_stream]
    y = torch.stack([spk for spk, _ in out])
    v_mem = torch.stack([mem for _, mem in out])
    assert y.sum() > 0

    figures = []
    for draw in ("input", "state", "output"):
        fig = plt.figure(figsize=(6, 2), dpi=40)
        if draw == "state":
            axes = splt.traces(v_mem, spk=y, dim=(1, n_out), spk_height=threshold)
            assert len(axes) == n_out
        else:
            data = spike_stream if draw == "input" else y
            dots = splt.raster(data, fig.add_subplot(), s=2, c="black")
            assert len(dots.get_offsets()) == int(data.sum())
        figures.append(png_pixels(fig))
        plt.close(fig)
    assert all(pixels.var() > 0 for pixels in figures)
