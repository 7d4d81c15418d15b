"""The second seed's simulations: Lapicque's RC neuron, the first-order Leaky and the
Synaptic (current-based) neuron, with their membrane traces and spike rasters as PNGs.

    python examples/001_lapicque_synaptic.py [--out runs/examples/001] [--small]

Lapicque (forward Euler of the RC circuit, τ = RC):
    ``U[t+1] = (1 − Δt/τ) U[t] + (Δt/C) I[t+1]``, minus θ after a spike (subtract reset).
Leaky: ``U[t+1] = β U[t] + W X[t+1] − S[t] θ``.
Synaptic: ``I[t+1] = α I[t] + W X[t+1]``, ``U[t+1] = β U[t] + I[t+1] − R[t]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import spikeforge as snn


def simulate(neuron, inputs: torch.Tensor):
    """Step ``neuron`` over ``inputs [T]``; returns the stacked outputs (spk, *states)."""
    neuron.reset_mem()
    records = [neuron(x.reshape(1)) for x in inputs]
    return [torch.stack([r[k] for r in records]).flatten() for k in range(len(records[0]))]


def figure(rows: int, title: str, height: float = 2.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, height * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].set_title(title)
    return fig, axes


def raster(ax, spikes: torch.Tensor, label: str) -> None:
    times = torch.nonzero(spikes).flatten().numpy()
    ax.vlines(times, 0, 1, color="k")
    ax.set(ylabel=label, yticks=[], ylim=(0, 1))


def save(fig, out: Path, name: str) -> None:
    fig.axes[-1].set_xlabel("time step")
    fig.tight_layout()
    fig.savefig(out / name)
    print(f"wrote {out / name}")


def lapicque(out: Path, steps: int) -> None:
    time_step, R, C = 1e-3, 5, 1e-3  # τ = RC = 5 ms
    # 1. Passive membrane: U(0) = 0.9, no input, no firing (threshold far away).
    cell = snn.Lapicque(R=R, C=C, time_step=time_step, threshold=10.0)
    cell.reset_mem()
    mem = torch.ones(1) * 0.9
    trace = [mem]
    for _ in range(steps):
        _, mem = cell(torch.zeros(1), mem)
        trace.append(mem)
    trace = torch.stack(trace).flatten()
    print(
        f"Lapicque passive: U(0)=0.9 decays by 1 − Δt/τ = {1 - time_step / (R * C):.2f} "
        f"per step; U after 5 steps {trace[5]:.4f}"
    )
    fig, (ax,) = figure(1, "Lapicque: passive membrane, U(0) = 0.9, no input")
    ax.plot(trace.numpy())
    ax.set_ylabel("U")
    save(fig, out, "lapicque_passive.png")

    # 2. Step current: 0 for 10 steps, then 0.15 (steady U = IR = 0.765 > θ), into
    #    Lapicque(R=5.1, C=5e-3, θ=0.5) of snnTorch tutorial 2, with both reset mechanisms.
    current = torch.cat([torch.zeros(10), torch.ones(steps - 10) * 0.15])
    fig, axes = figure(5, "Lapicque: step input 0.15 from step 10 (R=5.1, C=5e-3, θ=0.5)")
    axes[0].plot(current.numpy())
    axes[0].set_ylabel("I in")
    for row, reset in ((1, "subtract"), (3, "zero")):
        cell = snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5, reset_mechanism=reset)
        spk, mem = simulate(cell, current)
        axes[row].plot(mem.numpy())
        axes[row].axhline(0.5, ls="--", color="gray")
        axes[row].set_ylabel(f"U ({reset})")
        raster(axes[row + 1], spk, "spikes")
        print(
            f"Lapicque step input, reset={reset}: {int(spk.sum())} spikes, "
            f"first at step {int(torch.nonzero(spk)[0]) if spk.any() else None}"
        )
    save(fig, out, "lapicque_spiking.png")

    # 3. A larger threshold fires less, a larger input fires more.
    rows = []
    for threshold, gain in ((0.5, 0.15), (0.7, 0.15), (0.5, 0.3)):
        cell = snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, threshold=threshold)
        spk, _ = simulate(cell, current * gain / 0.15)
        rows.append((threshold, gain, spk))
        print(f"Lapicque θ={threshold}, input {gain}: {int(spk.sum())} spikes")
    fig, axes = figure(3, "Lapicque: spike trains for threshold θ and input level", 1.2)
    for ax, (threshold, gain, spk) in zip(axes, rows):
        raster(ax, spk, f"θ={threshold}\nI={gain}")
    save(fig, out, "lapicque_threshold_input.png")


def leaky(out: Path, steps: int) -> None:
    w = 0.21
    current = torch.cat([torch.zeros(10), torch.ones(steps - 10) * w])
    spk, mem = simulate(snn.Leaky(beta=0.8), current)
    print(
        f"Leaky(beta=0.8), step input {w}: {int(spk.sum())} spikes; steady U without "
        f"reset would be w/(1−β) = {w / 0.2:.2f} > θ"
    )
    fig, axes = figure(3, "Leaky (first order), step input 0.21 from step 10")
    axes[0].plot(current.numpy())
    axes[0].set_ylabel("W X")
    axes[1].plot(mem.numpy())
    axes[1].axhline(1.0, ls="--", color="gray")
    axes[1].set_ylabel("U")
    raster(axes[2], spk, "spikes")
    save(fig, out, "leaky_step.png")


def synaptic(out: Path, steps: int) -> None:
    alpha, beta, w = 0.9, 0.8, 0.2
    period = torch.cat([torch.ones(1) * w, torch.zeros(9)])
    spk_in = period.repeat(steps // 10 + 1)[:steps]  # a 0.2 pulse every 10 steps
    lif1 = snn.Synaptic(alpha=alpha, beta=beta)
    syn, mem = lif1.init_synaptic()
    spk_rec, syn_rec, mem_rec = [], [], []
    for step in range(steps):
        spk_out, syn, mem = lif1(spk_in[step].reshape(1), syn, mem)
        spk_rec.append(spk_out)
        syn_rec.append(syn)
        mem_rec.append(mem)
    spk_rec = torch.stack(spk_rec).flatten()
    syn_rec = torch.stack(syn_rec).flatten()
    mem_rec = torch.stack(mem_rec).flatten()
    print(
        f"Synaptic(alpha={alpha}, beta={beta}), pulses of {w} every 10 steps: "
        f"{int(spk_rec.sum())} spikes; peak I_syn {float(syn_rec.max()):.3f}, "
        f"peak U {float(mem_rec.max()):.3f}"
    )
    fig, axes = figure(4, f"Synaptic: α={alpha}, β={beta}, input pulses of {w} every 10 steps")
    raster(axes[0], spk_in, "input")
    axes[1].plot(syn_rec.numpy())
    axes[1].set_ylabel("I syn")
    axes[2].plot(mem_rec.numpy())
    axes[2].axhline(1.0, ls="--", color="gray")
    axes[2].set_ylabel("U")
    raster(axes[3], spk_rec, "spikes")
    save(fig, out, "synaptic.png")

    # With α = 0 the synaptic current is just the input: Synaptic reduces to Leaky.
    spk_syn, _, mem_syn = simulate(snn.Synaptic(alpha=0.0, beta=beta), spk_in * 6)
    spk_leaky, mem_leaky = simulate(snn.Leaky(beta=beta), spk_in * 6)
    same = torch.equal(spk_syn, spk_leaky) and torch.allclose(mem_syn, mem_leaky)
    print(f"Synaptic(alpha=0) == Leaky on the same input: {same}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/examples/001", help="folder for the PNGs")
    parser.add_argument("--small", action="store_true", help="60 steps instead of 200")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = 60 if args.small else 200
    lapicque(out, steps)
    leaky(out, steps)
    synaptic(out, steps)


if __name__ == "__main__":
    main()
