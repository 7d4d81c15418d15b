"""The first seed's walkthrough: one LIF neuron, five neurons, the three encoders, the losses
and the surrogate gradients, printing what the seed's notebook prints.

    python examples/000_lif_walkthrough.py            # everything, seeded
    python examples/000_lif_walkthrough.py --small    # the same (it is already small)

The seed's hand-written neuron is ``U[t] = β U[t-1] + W X[t] − S[t-1] θ`` with
``S[t] = 1 if U[t] > θ``; ``snn.Leaky`` runs the same equation.
"""

from __future__ import annotations

import argparse

import torch

import spikeforge as snn
from spikeforge import functional as SF
from spikeforge import spikegen, surrogate


def lif(X, U, S=0):
    """The seed's neuron, one step of Eq. 4 and Eq. 5 (β = 0.9, W = 0.5, θ = 1).

    The seed set ``S = 0`` inside the function, so it never reset; here the previous spike
    is passed in, which is what Eq. 4 says.
    """
    beta, W, theta = 0.9, 0.5, 1
    U = beta * U + W * X - S * theta
    S = int(U > theta)  # noqa: SIM300 (the seed's Eq. 5)
    return S, U


def one_neuron(iterations: int) -> None:
    print("== one LIF neuron: the seed's function, then snn.Leaky(beta=0.9, threshold=1) ==")
    X, W = 1.0, 0.5  # the seed left X undefined: a constant input, W·X = 0.5
    S, U = 0, 0.0
    for i in range(iterations):
        S, U = lif(X, U, S)
        print(f"hand  Iter {i}: S = {S}, U = {U:.4f}")
    neuron = snn.Leaky(beta=0.9, threshold=1)
    U = neuron.init_leaky()
    for i in range(iterations):
        S, U = neuron(torch.tensor([X * W]), U)  # Eq. 4 and Eq. 5 are recurrently returned
        print(f"Leaky Iter {i}: S = {S}, U = {U}")


def five_neurons(iterations: int) -> None:
    print("\n== 5 inputs, 5 LIF neurons (beta=1.0): each input drives one neuron ==")
    neuron = snn.Leaky(beta=1.0, threshold=1)
    X = torch.rand(5)
    U = torch.zeros(5)
    print("X=", X, end="\n\n")
    # The seed's loop ran `range(0)` times and printed nothing; here it runs.
    for i in range(iterations):
        S, U = neuron(X, U)
        print("Iter:", i)
        print("S:", S)
        print("U:", U)
        print()


def encoders() -> None:
    print("== input encoding ==")
    X = torch.rand(10)
    S = spikegen.rate(X, num_steps=20)  # rate: P(spike) = X at every step
    print("rate:", X.size(), "->", S.size())
    X[0], X[1] = 0.01, 0.02
    S = spikegen.latency(X, num_steps=13)  # latency: large input, early spike
    print("latency:", X.size(), "->", S.size())
    print("first spike step per input:", S.argmax(0).tolist(), "(inputs below 0.01 never fire)")
    print(X.size())
    S = spikegen.delta(X, threshold=0.8)  # delta: spike where X[t] − X[t−1] ≥ 0.8
    print(S.size())
    print(X)
    print(S)


def losses() -> None:
    print("\n== loss functions on a record of 3 output neurons, 4 steps, 2 samples ==")
    spk = torch.tensor(
        [
            [[1, 0, 0], [0, 1, 0]],
            [[1, 0, 1], [0, 1, 0]],
            [[0, 0, 0], [0, 1, 1]],
            [[1, 0, 0], [0, 0, 0]],
        ],
        dtype=torch.float32,
    )  # [T=4, B=2, C=3]
    mem = spk * 1.2 + 0.1
    targets = torch.tensor([0, 1])
    rate_losses = {
        "ce_rate_loss (cross-entropy spike rate)": SF.ce_rate_loss(),
        "mse_rate_loss (mean square spike rate)": SF.mse_rate_loss(),
        "ce_count_loss (cross-entropy spike count)": SF.ce_count_loss(),
        "mse_count_loss(0.8, 0.2)": SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2),
    }
    for name, fn in rate_losses.items():
        print(f"{name:45s} {float(fn(spk, targets)):.4f}")
    print(
        f"{'ce_max_membrane_loss (maximum membrane)':45s} "
        f"{float(SF.ce_max_membrane_loss()(mem, targets)):.4f}"
    )
    print(
        f"{'mse_membrane_loss (mean square membrane)':45s} "
        f"{float(SF.mse_membrane_loss()(mem, targets)):.4f}"
    )
    print(
        f"{'ce_temporal_loss (cross-entropy spike time)':45s} "
        f"{float(SF.ce_temporal_loss()(spk, targets)):.4f}"
    )
    print(
        f"{'mse_temporal_loss (mean square spike time)':45s} "
        f"{float(SF.mse_temporal_loss()(spk, targets)):.4f}"
    )
    print("accuracy_rate:", float(SF.accuracy_rate(spk, targets)))


def surrogates() -> None:
    print("\n== surrogate gradients: forward is H(U − θ), backward dS/dU below ==")
    mem = torch.tensor([0.0, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0])
    print("U:                        ", [f"{v:5.2f}" for v in mem.tolist()])
    for name, grad in [
        ("atan (default)", surrogate.atan()),
        ("fast_sigmoid", surrogate.fast_sigmoid()),
        ("sigmoid", surrogate.sigmoid()),
        ("straight_through_estimator", surrogate.straight_through_estimator()),
        ("triangular", surrogate.triangular()),
    ]:
        neuron = snn.Leaky(beta=0.9, spike_grad=grad)
        u = mem.clone().requires_grad_(True)
        spk = neuron.spike_grad(u - neuron.threshold)  # S = H(U − θ)
        spk.sum().backward()
        print(f"{name:26s} ", [f"{v:5.2f}" for v in u.grad.tolist()])
    print("spikes:                   ", [f"{v:5.0f}" for v in (mem > 1.0).float().tolist()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="(already small; accepted)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    one_neuron(10)
    five_neurons(3)
    encoders()
    losses()
    surrogates()


if __name__ == "__main__":
    main()
