"""The SynSense workshop notebook (the fifth seed): an artificial neuron, a recurrent neuron
and an integrate-and-fire neuron on the same input spike stream, with the plots it asks for.

    python examples/004_workshop.py [--out runs/examples/004] [--small]

ANN:  ``y = ReLU(W·x + b)``, no memory.
RNN:  ``y(t) = ReLU(y(t−1) + W·x(t) + b)``, memory through the activation.
IAF:  ``v(t) = v(t−1) + W·x(t) + b − y(t−1)·θ``, ``y(t) = H(v(t) − θ)``: binary, sparse output.
The notebook's blanks are filled with a Poisson input stream of 16 channels; the IAF layer
is written by hand (as the notebook asks) and checked against ``snn.IAF``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import spikeforge as snn


def forward_ann(x, W, b):
    """Weighted sum of every sample: ``x [time, Nin] @ W [Nin, Nout] + b``."""
    return x @ W + b


def forward_rnn(x, W, b):
    time, _ = x.shape
    y, y_last = [], 0
    for t in range(time):
        v_mem = y_last + x[t] @ W + b  # update the internal state
        y_last = torch.clamp(v_mem, min=0)  # ReLU activation
        y.append(y_last.unsqueeze(0))
    return torch.concat(y)


def forward_snn(x, W, b, threshold=10.0):
    """Integrate-and-fire by hand: the reset subtracts θ after each output spike."""
    time, _ = x.shape
    y, v_mem = [], []
    v_mem_last, y_last = 0, 0
    for t in range(time):
        v_mem_last = v_mem_last + x[t] @ W + b - y_last * threshold  # state update
        y_last = (v_mem_last > threshold).float()  # activation: H(v − θ)
        y.append(y_last)
        v_mem.append(v_mem_last)
    return torch.stack(y), torch.stack(v_mem)


def set_fig(rows: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4 * rows), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    for ax in axes:
        ax.set_xlabel("Time")
        ax.set_ylabel("Data")
    return fig, axes


def save(fig, out: Path, name: str) -> None:
    fig.tight_layout()
    fig.savefig(out / name)
    print(f"wrote {out / name}")


def raster(ax, spikes: torch.Tensor) -> None:
    t, ch = torch.nonzero(spikes, as_tuple=True)
    ax.scatter(t.numpy(), ch.numpy(), marker="|", s=60, c="k")
    ax.set_ylabel("channel")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/examples/004", help="folder for the PNGs")
    parser.add_argument("--small", action="store_true", help="50 time samples instead of 200")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_input_channels, n_out = 16, 4
    n_time_samples = 50 if args.small else 200
    # Our sample data stream (time, channel): Poisson spikes, 10% per sample.
    data_stream = (torch.rand(n_time_samples, n_input_channels) < 0.1).float()
    fig, (ax,) = set_fig()
    raster(ax, data_stream)
    ax.set_title("input spike stream")
    save(fig, out, "input_stream.png")

    W = torch.rand(n_input_channels, n_out)  # a random weight matrix
    b = torch.full((n_out,), -0.2)  # some bias value

    y = forward_ann(data_stream, W, b)
    ann = torch.clamp(y, min=0)  # ReLU
    rnn = forward_rnn(data_stream, W, b)
    spikes, v_mem = forward_snn(data_stream, W, b, threshold=10.0)

    # The library neuron: snn.IAF over the whole stream in one multi-step call.
    iaf = snn.IAF(threshold=10.0)
    iaf.step_mode = "multi"
    lib_spikes, lib_mem = iaf(data_stream @ W + b)
    same = torch.equal(lib_spikes, spikes) and torch.allclose(lib_mem, v_mem, atol=1e-4)
    print(f"hand-written IAF == snn.IAF: {same}")

    fig, axes = set_fig(2)
    axes[0].plot(y.numpy())
    axes[0].set_title("ANN: weighted sum W·x + b")
    axes[1].plot(ann.numpy())
    axes[1].set_title("ANN after ReLU: as uncorrelated in time as the input")
    save(fig, out, "ann.png")

    fig, (ax,) = set_fig()
    ax.plot(rnn.numpy())
    ax.set_title("RNN: the output integrates past inputs")
    save(fig, out, "rnn.png")

    fig, axes = set_fig(3)
    raster(axes[0], data_stream)
    axes[0].set_title("input")
    axes[1].plot(v_mem.numpy())
    axes[1].axhline(10.0, ls="--", color="gray")
    axes[1].set_title("IAF internal state v (threshold 10)")
    raster(axes[2], spikes)
    axes[2].set_title("IAF output spikes")
    save(fig, out, "iaf.png")

    stats = {
        "input nonzero": float((data_stream != 0).float().mean()),
        "ANN nonzero": float((ann != 0).float().mean()),
        "RNN nonzero": float((rnn != 0).float().mean()),
        "IAF nonzero": float((spikes != 0).float().mean()),
    }
    print("fraction of nonzero values (sparsity):")
    for name, value in stats.items():
        print(f"  {name:14s} {value:.3f}")
    print(f"IAF output spikes: {int(spikes.sum())} over {n_time_samples} samples x {n_out} neurons")
    return {"same": same, **stats}


if __name__ == "__main__":
    main()
