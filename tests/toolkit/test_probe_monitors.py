"""Monitors record exactly the tensors the layers see and produce."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.functional import probe

BETA = 0.5


def make_net() -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(3, 4),
        snn.Leaky(beta=BETA, init_hidden=True),
        nn.Linear(4, 2),
        snn.Leaky(beta=BETA, init_hidden=True, output=True),
    )
    with torch.no_grad():  # large enough weights that both layers spike
        net[0].weight.mul_(4)
        net[2].weight.abs_().mul_(4)
    return net


def leaky_by_hand(currents: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """U_t = β U_{t-1} + I_t − H(U_{t-1} − 1), S_t = H(U_t − 1) (subtract reset, θ = 1)."""
    mem = torch.zeros_like(currents[0])
    spikes, mems = [], []
    for current in currents:
        mem = BETA * mem + current - (mem > 1).float()
        mems.append(mem)
        spikes.append((mem > 1).float())
    return spikes, mems


@pytest.fixture
def inputs() -> list[torch.Tensor]:
    torch.manual_seed(2)
    return [2 * torch.rand(5, 3) for _ in range(4)]


def test_probe_output_and_input_monitors_match_hand_computation(inputs):
    net = make_net()
    out_mon = probe.OutputMonitor(net, instance=snn.Leaky)
    in_mon = probe.InputMonitor(net, instance=nn.Linear)
    with torch.no_grad():
        for x in inputs:
            net(x)
        out_mon.disable()
        in_mon.disable()
        spk1, _ = leaky_by_hand([net[0](x) for x in inputs])
        spk2, mem2 = leaky_by_hand([net[2](s) for s in spk1])
    assert out_mon.monitored_layers == ["1", "3"]
    assert in_mon.monitored_layers == ["0", "2"]
    assert len(out_mon.records) == 8 and len(in_mon.records) == 8
    assert sum(s.sum().item() for s in spk1) > 0  # the test exercises spikes
    assert sum(s.sum().item() for s in spk2) > 0
    for t in range(4):
        torch.testing.assert_close(out_mon["1"][t], spk1[t])  # init_hidden: bare spikes
        got_spk, got_mem = out_mon["3"][t]  # output=True: (spk, mem)
        torch.testing.assert_close(got_spk, spk2[t])
        torch.testing.assert_close(got_mem, mem2[t])
        assert torch.equal(in_mon["0"][t], inputs[t])  # a 1-tuple of inputs is unpacked
        torch.testing.assert_close(in_mon["2"][t], spk1[t])
    # the flat list interleaves layers in call order
    assert out_mon[0] is out_mon["1"][0] and out_mon[1] is out_mon["3"][0]


def test_probe_attribute_monitor_before_and_after_forward(inputs):
    net = make_net()
    pre = probe.AttributeMonitor("mem", True, net, instance=snn.Leaky)
    post = probe.AttributeMonitor(
        "mem", False, net, instance=snn.Leaky, function_on_attribute=lambda m: m.clone()
    )
    with torch.no_grad():
        for x in inputs:
            net(x)
        post.disable()
        pre.disable()
        _, mem1 = leaky_by_hand([net[0](x) for x in inputs])
    for t in range(4):
        torch.testing.assert_close(post["1"][t], mem1[t])
    assert pre["1"][0].numel() == 0  # before the first call the state is empty
    for t in range(1, 4):
        torch.testing.assert_close(pre["1"][t], mem1[t - 1])


def test_probe_grad_monitors_record_exact_gradients():
    torch.manual_seed(3)
    fc = nn.Linear(3, 2)
    net = nn.Sequential(fc)
    grad_in = probe.GradInputMonitor(net, instance=nn.Linear)
    grad_out = probe.GradOutputMonitor(net, instance=nn.Linear)
    x = torch.rand(4, 3, requires_grad=True)
    c = torch.tensor([[1.0, -2.0]]).expand(4, 2)
    (net(x) * c).sum().backward()
    torch.testing.assert_close(grad_out["0"][0], c)  # dL/dy = c
    torch.testing.assert_close(grad_in["0"][0], c @ fc.weight)  # dL/dx = c W
    torch.testing.assert_close(grad_in["0"][0], x.grad)


def test_probe_grad_output_of_a_neuron_is_a_pair():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=BETA))
    mon = probe.GradOutputMonitor(net, instance=snn.Leaky)
    _, mem = net(torch.rand(1, 3))
    (3 * mem).sum().backward()
    grad_spk, grad_mem = mon["1"][0]
    assert grad_spk is None  # the loss does not use the spikes
    torch.testing.assert_close(grad_mem, torch.full((1, 2), 3.0))


def test_probe_enable_disable_clear_remove(inputs):
    net = make_net()
    mon = probe.OutputMonitor(net, instance=snn.Leaky(beta=0.1))  # a module means its type
    net(inputs[0])
    assert len(mon.records) == 2
    mon.disable()
    assert not mon.is_enable()
    net(inputs[1])
    assert len(mon.records) == 2
    mon.enable()
    net(inputs[2])
    assert len(mon.records) == 4 and mon.name_records_index["3"] == [1, 3]
    mon.clear_recorded_data()
    assert mon.records == [] and mon["1"] == []
    mon.remove_hooks()
    net(inputs[3])
    assert mon.records == []


def test_probe_default_instance_is_the_net_type(inputs):
    net = make_net()
    mon = probe.OutputMonitor(net)
    spk, mem = net(inputs[0])
    assert mon.monitored_layers == [""]
    assert mon[""][0][0] is spk and mon[""][0][1] is mem


def test_probe_bad_arguments_raise_clear_errors():
    net = make_net()
    with pytest.raises(TypeError, match="instance"):
        probe.OutputMonitor(net, instance="Leaky")
    with pytest.raises(TypeError, match="net"):
        probe.OutputMonitor([1, 2])
    with pytest.raises(TypeError, match="function_on_output"):
        probe.OutputMonitor(net, function_on_output=3)
    with pytest.raises(AttributeError, match="'syn'"):
        probe.AttributeMonitor("syn", False, net, instance=snn.Leaky)
    mon = probe.OutputMonitor(net, instance=snn.Leaky)
    with pytest.raises(KeyError, match="'0'"):
        mon["0"]
    with pytest.raises(TypeError, match="index"):
        mon[1.5]


def test_probe_unpack_len1_tuple():
    t = torch.ones(1)
    assert probe.unpack_len1_tuple((t,)) is t
    assert probe.unpack_len1_tuple((t, t)) == (t, t)
    assert probe.unpack_len1_tuple(t) is t
