"""The benchmark's workloads, written once per library in that library's natural style.

A *case* is one (library, workload) pair: ``build(lib, workload, sizes)`` returns a
``Case`` whose ``forward()`` runs inference (under ``torch.no_grad``) and whose ``train()``
runs forward, backward (and W2's Adam step). Inputs are built once, outside the timed
calls, in the layout each library expects (sinabs takes ``[B, T, ...]``, the others
``[T, B, ...]``). Every library's neuron is set to the same dynamics as far as its model
allows: decay 0.95 per step, threshold 1, subtractive reset (Norse's LIF has no
subtractive reset and adds a synaptic current: it runs its own model).

Workloads:
    W1  Linear(512 -> 512) + LIF, batch 16, T=500, loss = sum of spikes.
    W2  snnTorch tutorial 5: 784-1000-10 Leaky, T=25, batch 128,
        loss = sum_t CrossEntropy(mem2[t], y), plus an Adam step.
    W3  LIF alone on an input current [T=100, B=64, N=4096], loss = sum of spikes.

Imports of the libraries happen inside the builders, so one that is missing or broken
fails only its own cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import stateleaky_cases
import torch
from torch import Tensor, nn

BETA = 0.95
TAU = 1.0 / (1.0 - BETA)  # SpikingJelly's tau with decay_input=False gives V <- BETA V + X
SINABS_TAU = -1.0 / math.log(BETA)  # sinabs decays by exp(-1/tau_mem)

# Library keys and what they run. "spikeforge-step" is the tutorial's unchanged step loop.
# "<peer>-fc1once" (W2 only): that peer given spikeforge's W2 program (fc1 once), the stricter
# comparison; the plain peer keys run tutorial 5's network as ported to their multi-step APIs.
LIBS = ("spikeforge", "spikeforge-step", "spikeforge-ref", "snntorch", "spikingjelly", "norse",
        "sinabs", "spikingjelly-fc1once", "norse-fc1once", "sinabs-fc1once", "no-neuron",
        "no-neuron-step")  # fmt: skip
PEERS = ("snntorch", "spikingjelly", "norse", "sinabs")
FC1ONCE_PEERS = ("spikingjelly-fc1once", "norse-fc1once", "sinabs-fc1once")
WORKLOADS = ("W1", "W2", "W3")
# Which (lib, workload) pairs exist: the step-loop and fc1-once variants are W2 cases only.
# "no-neuron(-step)": W2 with every neuron replaced by one multiplication, to show what the
# matrix products, loss and Adam cost alone (a bound on any library's time, not a peer).
BASELINES = ("no-neuron", "no-neuron-step")
W2_ONLY = ("spikeforge-step", *FC1ONCE_PEERS, *BASELINES)
SKIP = {(lib, w) for lib in W2_ONLY for w in ("W1", "W3")}
# W4 (conv SNN) and W6 (recurrent SNN), built in cases_conv_rec.py: "<peer>-conv1once" is the peer
# given spikeforge's W4 program (conv1 once); "no-neuron" is W4's bound too.
CONV1ONCE_PEERS = ("spikingjelly-conv1once", "norse-conv1once", "sinabs-conv1once")
LIBS += CONV1ONCE_PEERS
WORKLOADS += ("W4", "W6")
SKIP |= {(lib, w) for lib in (*FC1ONCE_PEERS, "no-neuron-step") for w in ("W4", "W6")}
SKIP |= {(lib, w) for lib in CONV1ONCE_PEERS for w in ("W1", "W2", "W3", "W6")}
SKIP |= {("no-neuron", "W6")}


@dataclass(frozen=True)
class Sizes:
    """Shapes of the three workloads (``quick`` shrinks T for smoke runs)."""

    w1_t: int = 500
    w1_b: int = 16
    w1_n: int = 512
    w2_t: int = 25
    w2_b: int = 128
    w3_t: int = 100
    w3_b: int = 64
    w3_n: int = 4096
    w4_t: int = 25  # W4/W6: cases_conv_rec.py
    w4_b: int = 128
    w6_t: int = 250
    w6_b: int = 64
    s1_t: int = 1000  # StateLeaky workloads (stateleaky_cases.py)
    s1_b: int = 32
    s2_t: int = 4000
    s2_b: int = 8
    s_c: int = 256

    @classmethod
    def quick(cls) -> Sizes:
        return cls(w1_t=50, w2_t=5, w3_t=10, w4_t=3, w6_t=10, s1_t=100, s2_t=200)


@dataclass
class Case:
    forward: Callable[[], None]
    train: Callable[[], None]
    note: str = ""


# -- inputs (seeded, shared by every library) ---------------------------------------------


def w1_input(s: Sizes) -> Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(s.w1_t, s.w1_b, s.w1_n, generator=g)


def w2_input(s: Sizes) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(s.w2_b, 784, generator=g)
    y = torch.randint(0, 10, (s.w2_b,), generator=g)
    return x, y


def w3_input(s: Sizes) -> Tensor:
    g = torch.Generator().manual_seed(3)
    # Mean 0.1, spread 0.3: a firing rate of roughly a tenth with decay 0.95.
    return 0.1 + 0.3 * torch.randn(s.w3_t, s.w3_b, s.w3_n, generator=g)


def _linear(n_in: int, n_out: int, seed: int) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(n_in, n_out)


# -- generic harness: a model returning a loss ----------------------------------------------


def _case(loss_fn: Callable[[], Tensor], params: list[Tensor], adam: bool, note: str = "") -> Case:
    opt = torch.optim.Adam(params, lr=5e-4, betas=(0.9, 0.999)) if adam else None

    def forward() -> None:
        with torch.no_grad():
            loss_fn()

    def train() -> None:
        loss = loss_fn()
        loss.backward()
        if opt is not None:
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:
            for p in params:
                p.grad = None

    return Case(forward, train, note)


def _w2_layer1(
    fc1: nn.Linear, s: Sizes, fc1_once: bool, batch_major: bool = False
) -> tuple[Callable[[], Tensor], Tensor, str]:
    """W2's first-layer current over time for a multi-step API, and the labels.

    Tutorial 5 presents the same image at every step. Ported to a multi-step API as written,
    the image sequence ``[T, B, 784]`` goes through fc1 (T matrix products); since the input
    is constant, fc1 can instead run once and its output be repeated (``fc1_once``), which is
    what spikeforge's W2 does. ``batch_major`` gives ``[B, T, ...]`` (sinabs).
    """
    x, y = w2_input(s)
    T, B = s.w2_t, s.w2_b
    if fc1_once:

        def once() -> Tensor:
            cur1 = fc1(x)
            if batch_major:
                return cur1.unsqueeze(1).expand(B, T, cur1.shape[-1])
            return cur1.expand(T, *cur1.shape)

        return once, y, "fc1 once"
    x_seq = (x.unsqueeze(1).expand(B, T, 784) if batch_major else x.expand(T, B, 784)).contiguous()
    return (lambda: fc1(x_seq)), y, "tutorial net, fc1 on every step"


def _w2_loss(mem2_seq: Tensor, y: Tensor) -> Tensor:
    """sum_t CE(mem2[t], y) for a time-major [T, B, 10] membrane (equal batch per step)."""
    T = mem2_seq.shape[0]
    return nn.functional.cross_entropy(mem2_seq.reshape(-1, 10), y.repeat(T)) * T


# -- spikeforge ---------------------------------------------------------------------------


def _spikeforge(workload: str, s: Sizes, backend: str) -> Case:
    import spikeforge as snn

    if workload == "W1":
        x = w1_input(s)
        fc = _linear(s.w1_n, s.w1_n, 10)
        lif = snn.Leaky(beta=BETA, init_hidden=True, step_mode="multi", backend=backend)

        def loss() -> Tensor:
            lif.reset_mem()
            return lif(fc(x)).sum()

        return _case(loss, list(fc.parameters()), adam=False)
    if workload == "W3":
        x = w3_input(s).requires_grad_(True)
        lif = snn.Leaky(beta=BETA, init_hidden=True, step_mode="multi", backend=backend)

        def loss() -> Tensor:
            lif.reset_mem()
            return lif(x).sum()

        return _case(loss, [x], adam=False)
    x, y = w2_input(s)
    fc1, fc2 = _linear(784, 1000, 20), _linear(1000, 10, 21)
    lif1 = snn.Leaky(beta=BETA, init_hidden=True, step_mode="multi", backend=backend)
    lif2 = snn.Leaky(beta=BETA, step_mode="multi", backend=backend)
    T = s.w2_t

    def loss() -> Tensor:
        lif1.reset_mem()
        lif2.reset_mem()
        cur1 = fc1(x)  # the input is the same at every step: one matrix product
        spk1 = lif1(cur1.expand(T, *cur1.shape))
        _, mem2 = lif2(fc2(spk1))
        return _w2_loss(mem2, y)

    params = [*fc1.parameters(), *fc2.parameters()]
    return _case(loss, params, adam=True, note="fc1 once, neurons step_mode='multi'")


def _tutorial5_step_loop(snn, s: Sizes, note: str = "tutorial step loop") -> Case:
    """snnTorch tutorial 5's network and training step, verbatim in structure."""
    x, y = w2_input(s)
    num_steps = s.w2_t

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = _linear(784, 1000, 20)
            self.lif1 = snn.Leaky(beta=BETA)
            self.fc2 = _linear(1000, 10, 21)
            self.lif2 = snn.Leaky(beta=BETA)

        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for _step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    net = Net()
    ce = nn.CrossEntropyLoss()

    def loss() -> Tensor:
        _, mem_rec = net(x.view(s.w2_b, -1))
        loss_val = torch.zeros(1)
        for step in range(num_steps):
            loss_val += ce(mem_rec[step], y)
        return loss_val

    return _case(loss, list(net.parameters()), adam=True, note=note)


# -- snnTorch (no multi-step API: the neuron is called once per step) -------------------------


def _snntorch(workload: str, s: Sizes) -> Case:
    import snntorch as snt

    if workload == "W2":
        return _tutorial5_step_loop(snt, s)
    lif = snt.Leaky(beta=BETA)
    if workload == "W1":
        x, fc, params = w1_input(s), _linear(s.w1_n, s.w1_n, 10), None
        params = list(fc.parameters())
    else:
        x, fc = w3_input(s).requires_grad_(True), None
        params = [x]

    def loss() -> Tensor:
        cur = fc(x) if fc is not None else x
        mem = lif.init_leaky()
        spikes = []
        for t in range(cur.shape[0]):
            spk, mem = lif(cur[t], mem)
            spikes.append(spk)
        return torch.stack(spikes).sum()

    return _case(loss, params, adam=False, note="step loop (no multi-step API)")


# -- SpikingJelly (multi-step LIFNode; the device picks its CPU implementation) -------------


def _sj_lif(**kwargs):
    from spikingjelly.activation_based import neuron

    return neuron.LIFNode(tau=TAU, decay_input=False, v_reset=None, step_mode="m", **kwargs)


def _spikingjelly(workload: str, s: Sizes, fc1_once: bool = False) -> Case:
    from spikingjelly.activation_based import functional

    if workload in ("W1", "W3"):
        lif = _sj_lif()
        if workload == "W1":
            x, fc = w1_input(s), _linear(s.w1_n, s.w1_n, 10)
            params = list(fc.parameters())
        else:
            x, fc = w3_input(s).requires_grad_(True), None
            params = [x]

        def loss() -> Tensor:
            functional.reset_net(lif)
            return lif(fc(x) if fc is not None else x).sum()

        return _case(loss, params, adam=False)
    fc1, fc2 = _linear(784, 1000, 20), _linear(1000, 10, 21)
    lif1, lif2 = _sj_lif(), _sj_lif(store_v_seq=True)
    layer1_current, y, how = _w2_layer1(fc1, s, fc1_once)

    def loss() -> Tensor:
        functional.reset_net(lif1)
        functional.reset_net(lif2)
        lif2(fc2(lif1(layer1_current())))
        return _w2_loss(lif2.v_seq, y)

    params = [*fc1.parameters(), *fc2.parameters()]
    return _case(loss, params, adam=True, note=f"{how}, step_mode='m'")


# -- Norse (whole-sequence LIF module; its LIF has a synaptic current and resets to zero) -----


def _norse_lif(record: bool = False):
    import norse.torch as nt

    # dt * tau_mem_inv = 1 - BETA: the same membrane decay per step.
    p = nt.LIFParameters(tau_mem_inv=torch.tensor((1.0 - BETA) / 1e-3))
    return nt.LIF(p, record_states=record)


def _norse(workload: str, s: Sizes, fc1_once: bool = False) -> Case:
    if workload in ("W1", "W3"):
        lif = _norse_lif()
        if workload == "W1":
            x, fc = w1_input(s), _linear(s.w1_n, s.w1_n, 10)
            params = list(fc.parameters())
        else:
            x, fc = w3_input(s).requires_grad_(True), None
            params = [x]

        def loss() -> Tensor:
            spk, _ = lif(fc(x) if fc is not None else x)
            return spk.sum()

        return _case(loss, params, adam=False, note="LIF with synaptic current")
    fc1, fc2 = _linear(784, 1000, 20), _linear(1000, 10, 21)
    lif1, lif2 = _norse_lif(), _norse_lif(record=True)
    layer1_current, y, how = _w2_layer1(fc1, s, fc1_once)

    def loss() -> Tensor:
        spk1, _ = lif1(layer1_current())
        _, states = lif2(fc2(spk1))
        return _w2_loss(states.v, y)

    params = [*fc1.parameters(), *fc2.parameters()]
    return _case(loss, params, adam=True, note=f"{how}, LIF with synaptic current")


# -- sinabs (batch-major [B, T, ...] layers) -------------------------------------------------


def _sinabs_lif(record: bool = False):
    import sinabs.activation as sa
    import sinabs.layers as sl

    return sl.LIF(
        tau_mem=SINABS_TAU, spike_fn=sa.SingleSpike, norm_input=False, record_states=record
    )


def _sinabs(workload: str, s: Sizes, fc1_once: bool = False) -> Case:
    if workload in ("W1", "W3"):
        lif = _sinabs_lif()
        if workload == "W1":
            x = w1_input(s).transpose(0, 1).contiguous()
            fc = _linear(s.w1_n, s.w1_n, 10)
            params = list(fc.parameters())
        else:
            x, fc = w3_input(s).transpose(0, 1).contiguous().requires_grad_(True), None
            params = [x]

        def loss() -> Tensor:
            lif.reset_states()
            return lif(fc(x) if fc is not None else x).sum()

        return _case(loss, params, adam=False, note="input [B, T, N]")
    fc1, fc2 = _linear(784, 1000, 20), _linear(1000, 10, 21)
    lif1, lif2 = _sinabs_lif(), _sinabs_lif(record=True)
    layer1_current, y, how = _w2_layer1(fc1, s, fc1_once, batch_major=True)

    def loss() -> Tensor:
        lif1.reset_states()
        lif2.reset_states()
        lif2(fc2(lif1(layer1_current())))
        return _w2_loss(lif2.recordings["v_mem"].transpose(0, 1), y)

    params = [*fc1.parameters(), *fc2.parameters()]
    return _case(loss, params, adam=True, note=f"{how}, input [B, T, N]")


# -- W2 without neurons: the cost of everything else -----------------------------------------


class _NoNeuron(nn.Module):
    """Stands in for a neuron with the step API: one multiplication, no state."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = beta

    def init_leaky(self) -> None:
        return None

    def forward(self, x: Tensor, mem: Tensor | None) -> tuple[Tensor, Tensor]:
        out = x * self.beta
        return out, out


def _no_neuron(workload: str, s: Sizes, step_loop: bool) -> Case:
    if workload != "W2":
        raise ValueError("the no-neuron baselines exist for W2 only")
    if step_loop:
        no_neuron_lib = type("NoNeuronLib", (), {"Leaky": _NoNeuron})
        return _tutorial5_step_loop(
            no_neuron_lib, s, "tutorial step loop, neurons one multiplication"
        )
    x, y = w2_input(s)
    fc1, fc2 = _linear(784, 1000, 20), _linear(1000, 10, 21)
    T = s.w2_t

    def loss() -> Tensor:
        cur1 = fc1(x)
        spk1 = cur1.expand(T, *cur1.shape) * BETA
        return _w2_loss(fc2(spk1) * BETA, y)

    params = [*fc1.parameters(), *fc2.parameters()]
    return _case(loss, params, adam=True, note="fc1 once, each neuron one multiplication")


# -- entry point ------------------------------------------------------------------------------


def build(lib: str, workload: str, sizes: Sizes) -> Case:
    """The case for ``lib`` on ``workload``; raises whatever the library raises."""
    if workload in ("W4", "W6"):
        import cases_conv_rec

        return cases_conv_rec.build(lib, workload, sizes)
    if workload in stateleaky_cases.WORKLOADS:
        return stateleaky_cases.build(lib, workload, sizes, _case)
    if lib == "spikeforge":
        return _spikeforge(workload, sizes, "auto")
    if lib == "spikeforge-ref":
        return _spikeforge(workload, sizes, "reference")
    if lib == "spikeforge-step":
        import spikeforge

        return _tutorial5_step_loop(spikeforge, sizes)
    if lib in BASELINES:
        return _no_neuron(workload, sizes, step_loop=lib == "no-neuron-step")
    builders = {
        "snntorch": _snntorch,
        "spikingjelly": _spikingjelly,
        "norse": _norse,
        "sinabs": _sinabs,
    }
    if lib in FC1ONCE_PEERS:
        if workload != "W2":
            raise ValueError(f"{lib} is a W2 case only")
        return builders[lib.removesuffix("-fc1once")](workload, sizes, fc1_once=True)
    if lib not in builders:
        raise ValueError(f"unknown library {lib!r}; choose from {LIBS}")
    return builders[lib](workload, sizes)


def backend_of(lib: str, workload: str, sizes: Sizes) -> str:
    """Which spikeforge backend ``auto`` resolves to for the workload's neuron input."""
    if not lib.startswith("spikeforge"):
        return ""
    if lib == "spikeforge-ref":
        return "reference"
    import spikeforge as snn

    lif = snn.Leaky(beta=BETA)
    return lif.select_backend(torch.zeros(2, 2), lif.config())


# -- StateLeaky workloads (stateleaky_cases.py): spikeforge against snnTorch only ----------

WORKLOADS = (*WORKLOADS, *stateleaky_cases.WORKLOADS)
SKIP |= {
    (lib, w) for lib in LIBS if lib not in stateleaky_cases.LIBS for w in stateleaky_cases.WORKLOADS
}
