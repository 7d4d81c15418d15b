"""W4 (convolutional SNN) and W6 (recurrent SNN): each library's case, in its natural style.

W4  snnTorch tutorial 6: ``Conv2d(1,12,5) -> MaxPool2 -> Leaky -> Conv2d(12,64,5) -> MaxPool2
    -> Leaky -> Linear(1024,10) -> Leaky``, beta 0.5, T=25, batch 128, a static MNIST-sized
    image, loss = sum_t CrossEntropy(mem3[t], y), plus an Adam step.
W6  SHD-style recurrent SNN: ``Linear(700,256) -> RLeaky(all-to-all Linear(256,256)) ->
    Linear(256,20) -> Leaky``, beta 0.95, T=250, batch 64, binary input with ~2 % ones,
    loss = CrossEntropy(sum_t mem2[t], y), plus an Adam step.

``cases.build`` sends these two workloads here. Time-major ``[T, B, ...]`` everywhere but
sinabs (``[B, T, ...]``); a stateless layer runs on a sequence by folding time into the
batch (``_fold``), the way every multi-step API does it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from cases import BETA, CONV1ONCE_PEERS, Case, Sizes, _case, _linear
from torch import Tensor, nn

W4_BETA = 0.5
W4_SJ_TAU = 1.0 / (1.0 - W4_BETA)  # SpikingJelly, decay_input=False: V <- (1 - 1/tau) V + X
W4_SINABS_TAU = -1.0 / math.log(W4_BETA)
W6_IN, W6_HIDDEN, W6_OUT = 700, 256, 20


# -- inputs and layers (seeded, shared by every library) --------------------------------------


def w4_input(s: Sizes) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(4)
    return torch.rand(s.w4_b, 1, 28, 28, generator=g), torch.randint(0, 10, (s.w4_b,), generator=g)


def w6_input(s: Sizes) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(6)
    x = (torch.rand(s.w6_t, s.w6_b, W6_IN, generator=g) < 0.02).float()
    return x, torch.randint(0, W6_OUT, (s.w6_b,), generator=g)


def _conv(c_in: int, c_out: int, seed: int) -> nn.Conv2d:
    torch.manual_seed(seed)
    return nn.Conv2d(c_in, c_out, 5)


def w4_layers() -> tuple[nn.Conv2d, nn.Conv2d, nn.Linear]:
    return _conv(1, 12, 40), _conv(12, 64, 41), _linear(64 * 4 * 4, 10, 42)


def w6_layers() -> tuple[nn.Linear, nn.Linear]:
    return _linear(W6_IN, W6_HIDDEN, 60), _linear(W6_HIDDEN, W6_OUT, 61)


def _fold(module, seq: Tensor) -> Tensor:
    """A stateless layer over ``[T, B, ...]`` (or ``[B, T, ...]``): one call on the two leading
    axes folded together."""
    a, b = seq.shape[:2]
    out = module(seq.flatten(0, 1))
    return out.view(a, b, *out.shape[1:])


def _conv_pool(conv: nn.Conv2d):
    return lambda x: F.max_pool2d(conv(x), 2)


def _w4_loss(mem_seq: Tensor, y: Tensor) -> Tensor:
    """sum_t CE(mem[t], y) for a time-major ``[T, B, 10]`` membrane."""
    T = mem_seq.shape[0]
    return F.cross_entropy(mem_seq.reshape(-1, 10), y.repeat(T)) * T


def _w6_loss(mem_seq: Tensor, y: Tensor) -> Tensor:
    """CE of the output membrane summed over time (time-major ``[T, B, 20]``)."""
    return F.cross_entropy(mem_seq.sum(0), y)


def _params(*modules: nn.Module) -> list[Tensor]:
    return [p for m in modules for p in m.parameters()]


# -- spikeforge -------------------------------------------------------------------------------


def spikeforge_case(workload: str, s: Sizes, backend: str) -> Case:
    """Multi-step neurons; W4 runs conv1 + pooling once and holds the current for T steps."""
    import spikeforge as snn

    def leaky(beta: float, **kw):
        return snn.Leaky(beta=beta, step_mode="multi", backend=backend, **kw)

    if workload == "W4":
        x, y = w4_input(s)
        conv1, conv2, fc = w4_layers()
        lif1, lif2 = leaky(W4_BETA, init_hidden=True), leaky(W4_BETA, init_hidden=True)
        lif3 = leaky(W4_BETA)
        T = s.w4_t

        def loss() -> Tensor:
            for n in (lif1, lif2, lif3):
                n.reset_mem()
            cur1 = F.max_pool2d(conv1(x), 2)  # the image is static: once, not T times
            spk1 = lif1(cur1.expand(T, *cur1.shape))
            spk2 = lif2(_fold(_conv_pool(conv2), spk1))
            _, mem3 = lif3(fc(spk2.flatten(2)))
            return _w4_loss(mem3, y)

        return _case(loss, _params(conv1, conv2, fc), adam=True,
                     note="conv1 once, neurons step_mode='multi'")  # fmt: skip
    x, y = w6_input(s)
    fc1, fc2 = w6_layers()
    torch.manual_seed(62)
    rlif = snn.RLeaky(beta=BETA, linear_features=W6_HIDDEN, init_hidden=True,
                      step_mode="multi", backend=backend)  # fmt: skip
    lif2 = leaky(BETA)

    def loss() -> Tensor:
        rlif.reset_mem()
        lif2.reset_mem()
        _, mem2 = lif2(fc2(rlif(fc1(x))))
        return _w6_loss(mem2, y)

    return _case(loss, _params(fc1, rlif, fc2), adam=True,
                 note="fc1 over the sequence, RLeaky step_mode='multi'")  # fmt: skip


# -- snnTorch's step loops (also run with spikeforge: "spikeforge-step") -----------------------


def tutorial6_step_loop(snn, s: Sizes) -> Case:
    """snnTorch tutorial 6 as written: an ``nn.Sequential`` of ``init_hidden`` neurons called
    once per step on the same image (conv1 runs every step), ``utils.reset`` per batch."""
    x, y = w4_input(s)
    conv1, conv2, fc = w4_layers()
    net = nn.Sequential(
        conv1, nn.MaxPool2d(2), snn.Leaky(beta=W4_BETA, init_hidden=True),
        conv2, nn.MaxPool2d(2), snn.Leaky(beta=W4_BETA, init_hidden=True),
        nn.Flatten(), fc, snn.Leaky(beta=W4_BETA, init_hidden=True, output=True),
    )  # fmt: skip
    reset = snn.utils.reset

    def loss() -> Tensor:
        reset(net)
        mem_rec = []
        for _step in range(s.w4_t):
            _, mem_out = net(x)
            mem_rec.append(mem_out)
        return _w4_loss(torch.stack(mem_rec), y)

    return _case(loss, list(net.parameters()), adam=True, note="tutorial 6 step loop")


def rleaky_step_loop(snn, s: Sizes) -> Case:
    """snnTorch's ``RLeaky`` step loop: fc1, the recurrent neuron, fc2, Leaky, per step."""
    x, y = w6_input(s)
    fc1, fc2 = w6_layers()
    torch.manual_seed(62)
    rlif = snn.RLeaky(beta=BETA, linear_features=W6_HIDDEN)
    lif2 = snn.Leaky(beta=BETA)

    def loss() -> Tensor:
        spk1, mem1 = rlif.init_rleaky()
        mem2 = lif2.init_leaky()
        mem_rec = []
        for step in range(s.w6_t):
            spk1, mem1 = rlif(fc1(x[step]), spk1, mem1)
            _, mem2 = lif2(fc2(spk1), mem2)
            mem_rec.append(mem2)
        return _w6_loss(torch.stack(mem_rec), y)

    return _case(loss, _params(fc1, rlif, fc2), adam=True, note="RLeaky step loop")


def snntorch_case(workload: str, s: Sizes) -> Case:
    import snntorch
    import snntorch.utils  # tutorial 6 resets through snntorch.utils.reset

    return (tutorial6_step_loop if workload == "W4" else rleaky_step_loop)(snntorch, s)


def spikeforge_step_case(workload: str, s: Sizes) -> Case:
    import spikeforge
    import spikeforge.utils

    return (tutorial6_step_loop if workload == "W4" else rleaky_step_loop)(spikeforge, s)


# -- SpikingJelly (step_mode="m" layers; its recurrent container steps in Python) ----------------


def spikingjelly_case(workload: str, s: Sizes, conv1_once: bool = False) -> Case:
    from spikingjelly.activation_based import functional, layer, neuron

    if workload == "W4":
        x, y = w4_input(s)
        conv1, conv2, fc = w4_layers()

        def lif(**kw):
            return neuron.LIFNode(tau=W4_SJ_TAU, decay_input=False, v_reset=None, **kw)

        head = nn.Sequential(conv1, layer.MaxPool2d(2))
        tail = nn.Sequential(
            lif(), layer.Conv2d(12, 64, 5), layer.MaxPool2d(2), lif(), layer.Flatten(),
            layer.Linear(1024, 10), lif(store_v_seq=True),
        )  # fmt: skip
        tail[1].load_state_dict(conv2.state_dict())
        tail[5].load_state_dict(fc.state_dict())
        functional.set_step_mode(tail, "m")
        out = tail[-1]
        if conv1_once:
            head_seq = lambda: head(x).expand(s.w4_t, -1, -1, -1, -1)  # noqa: E731
            how = "conv1 once"
        else:
            x_seq = x.unsqueeze(0).repeat(s.w4_t, 1, 1, 1, 1)
            head_seq = lambda: _fold(head, x_seq)  # noqa: E731
            how = "image at every step"

        def loss() -> Tensor:
            functional.reset_net(tail)
            tail(head_seq())
            return _w4_loss(out.v_seq, y)

        return _case(loss, _params(head, tail), adam=True, note=f"{how}, step_mode='m'")
    x, y = w6_input(s)
    fc1, fc2 = w6_layers()

    def lif(**kw):
        return neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_reset=None, **kw)

    net = nn.Sequential(
        layer.Linear(W6_IN, W6_HIDDEN),
        layer.LinearRecurrentContainer(lif(), W6_HIDDEN, W6_HIDDEN),
        layer.Linear(W6_HIDDEN, W6_OUT),
        lif(store_v_seq=True),
    )
    net[0].load_state_dict(fc1.state_dict())
    net[2].load_state_dict(fc2.state_dict())
    functional.set_step_mode(net, "m")
    net[1].sub_module.step_mode = "s"  # the container steps its neuron once per time step

    def loss() -> Tensor:
        functional.reset_net(net)
        net(x)
        return _w6_loss(net[-1].v_seq, y)

    note = "LinearRecurrentContainer (cat(x, s) -> Linear(512, 256)), step_mode='m'"
    return _case(loss, list(net.parameters()), adam=True, note=note)


# -- Norse (sequence modules; LIF with a synaptic current, reset to zero) ----------------------


def norse_case(workload: str, s: Sizes, conv1_once: bool = False) -> Case:
    import norse.torch as nt

    if workload == "W4":
        x, y = w4_input(s)
        conv1, conv2, fc = w4_layers()
        p = nt.LIFParameters(tau_mem_inv=torch.tensor((1.0 - W4_BETA) / 1e-3))
        lif1, lif2, lif3 = nt.LIF(p), nt.LIF(p), nt.LIF(p, record_states=True)
        T = s.w4_t
        if conv1_once:
            layer1 = lambda: F.max_pool2d(conv1(x), 2).expand(T, -1, -1, -1, -1)  # noqa: E731
            how = "conv1 once"
        else:
            x_seq = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
            layer1 = lambda: _fold(_conv_pool(conv1), x_seq)  # noqa: E731
            how = "image at every step"

        def loss() -> Tensor:
            spk1, _ = lif1(layer1())
            spk2, _ = lif2(_fold(_conv_pool(conv2), spk1))
            _, states = lif3(fc(spk2.flatten(2)))
            return _w4_loss(states.v, y)

        return _case(loss, _params(conv1, conv2, fc), adam=True,
                     note=f"{how}, LIF with synaptic current")  # fmt: skip
    x, y = w6_input(s)
    _, fc2 = w6_layers()
    p = nt.LIFParameters(tau_mem_inv=torch.tensor((1.0 - BETA) / 1e-3))
    torch.manual_seed(62)
    rec = nt.LIFRecurrent(W6_IN, W6_HIDDEN, p)  # holds the input weights (no bias) itself
    lif2 = nt.LIF(p, record_states=True)

    def loss() -> Tensor:
        spk1, _ = rec(x)
        _, states = lif2(fc2(spk1))
        return _w6_loss(states.v, y)

    note = "LIFRecurrent(700, 256) (input weights inside), synaptic current"
    return _case(loss, _params(rec, fc2), adam=True, note=note)


# -- sinabs (batch-major [B, T, ...]) --------------------------------------------------------


def sinabs_case(workload: str, s: Sizes, conv1_once: bool = False) -> Case:
    import sinabs.activation as sa
    import sinabs.layers as sl

    if workload == "W4":
        x, y = w4_input(s)
        conv1, conv2, fc = w4_layers()
        tau = W4_SINABS_TAU
        lifs = [sl.LIF(tau_mem=tau, spike_fn=sa.SingleSpike, norm_input=False,
                       record_states=i == 2) for i in range(3)]  # fmt: skip
        T = s.w4_t
        if conv1_once:
            layer1 = lambda: F.max_pool2d(conv1(x), 2).unsqueeze(1).expand(-1, T, -1, -1, -1)  # noqa: E731
            how = "conv1 once"
        else:
            x_seq = x.unsqueeze(1).repeat(1, T, 1, 1, 1)
            layer1 = lambda: _fold(_conv_pool(conv1), x_seq)  # noqa: E731
            how = "image at every step"

        def loss() -> Tensor:
            for n in lifs:
                n.reset_states()
            spk1 = lifs[0](layer1())
            spk2 = lifs[1](_fold(_conv_pool(conv2), spk1))
            lifs[2](fc(spk2.flatten(2)))
            return _w4_loss(lifs[2].recordings["v_mem"].transpose(0, 1), y)

        return _case(loss, _params(conv1, conv2, fc), adam=True,
                     note=f"{how}, input [B, T, ...]")  # fmt: skip
    x, y = w6_input(s)
    x = x.transpose(0, 1).contiguous()
    fc1, fc2 = w6_layers()
    torch.manual_seed(62)
    tau = -1.0 / math.log(BETA)
    rec = sl.LIFRecurrent(tau_mem=tau, rec_connect=nn.Linear(W6_HIDDEN, W6_HIDDEN),
                          spike_fn=sa.SingleSpike, norm_input=False)  # fmt: skip
    lif2 = sl.LIF(tau_mem=tau, spike_fn=sa.SingleSpike, norm_input=False, record_states=True)

    def loss() -> Tensor:
        rec.reset_states()
        lif2.reset_states()
        lif2(fc2(rec(fc1(x))))
        return _w6_loss(lif2.recordings["v_mem"].transpose(0, 1), y)

    return _case(loss, _params(fc1, rec, fc2), adam=True,
                 note="LIFRecurrent(rec_connect=Linear(256, 256)), input [B, T, N]")  # fmt: skip


# -- W4 without neurons: what the convolutions, loss and Adam cost alone --------------------------


def no_neuron_case(workload: str, s: Sizes) -> Case:
    if workload != "W4":
        raise ValueError("the W4/W6 no-neuron baseline exists for W4 only")
    x, y = w4_input(s)
    conv1, conv2, fc = w4_layers()
    T = s.w4_t

    def loss() -> Tensor:
        cur1 = F.max_pool2d(conv1(x), 2)
        spk1 = cur1.expand(T, *cur1.shape) * W4_BETA
        spk2 = _fold(_conv_pool(conv2), spk1) * W4_BETA
        return _w4_loss(fc(spk2.flatten(2)) * W4_BETA, y)

    return _case(loss, _params(conv1, conv2, fc), adam=True,
                 note="conv1 once, each neuron one multiplication")  # fmt: skip


def build(lib: str, workload: str, s: Sizes) -> Case:
    """The W4/W6 case of ``lib`` (called by ``cases.build``)."""
    if lib in ("spikeforge", "spikeforge-ref"):
        return spikeforge_case(workload, s, "reference" if lib == "spikeforge-ref" else "auto")
    if lib == "spikeforge-step":
        return spikeforge_step_case(workload, s)
    if lib == "no-neuron":
        return no_neuron_case(workload, s)
    peers = {"snntorch": snntorch_case, "spikingjelly": spikingjelly_case,
             "norse": norse_case, "sinabs": sinabs_case}  # fmt: skip
    if lib in CONV1ONCE_PEERS:
        if workload != "W4":
            raise ValueError(f"{lib} is a W4 case only")
        return peers[lib.removesuffix("-conv1once")](workload, s, conv1_once=True)
    if lib not in peers:
        raise ValueError(f"{lib!r} has no {workload} case")
    return peers[lib](workload, s)
