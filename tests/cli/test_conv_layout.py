"""The conv model's channels-last stages compute what the plain [T, B, C, H, W] ones do."""

from __future__ import annotations

import copy

import pytest
import torch

from spikeforge.cli.model import build_model
from spikeforge.cli.options import TrainConfig
from spikeforge.cli.train import make_loss


def _record_loss_grads(net, x, y, static, config):
    record = net(x, config.steps, static)
    loss = make_loss(config)(record, y)
    net.zero_grad(set_to_none=True)
    loss.backward()
    return record, loss, [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("static", [True, False])
def test_channels_last_conv_stages_match_the_contiguous_ones(static):
    torch.manual_seed(3)
    config = TrainConfig(model="conv", steps=4, beta=0.9, surrogate="fast_sigmoid")
    fast = build_model(config)
    plain = copy.deepcopy(fast)
    plain.channels_last = False
    assert fast.channels_last
    x = torch.rand(3, 1, 28, 28)
    if not static:
        x = torch.rand(4, 3, 1, 28, 28).lt(0.3).float()  # rate-coded spikes
    y = torch.tensor([1, 7, 3])
    rec_f, loss_f, grads_f = _record_loss_grads(fast, x, y, static, config)
    rec_p, loss_p, grads_p = _record_loss_grads(plain, x, y, static, config)
    # Conv stages hold channels-last memory behind the same logical [T, B, C, H, W] shape.
    assert rec_f.spikes[1].shape == rec_p.spikes[1].shape == (4, 3, 64, 4, 4)
    assert rec_f.spikes[1].movedim(2, -1).is_contiguous()
    assert rec_f.spikes[0].sum() > 0  # the first layer fires: the comparison is not vacuous
    for a, b in zip(rec_f.spikes + rec_f.mems, rec_p.spikes + rec_p.mems):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss_f, loss_p, rtol=1e-6, atol=1e-6)
    for a, b in zip(grads_f, grads_p):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_recurrent_neurons_keep_the_contiguous_layout():
    # RLeaky's recurrent convolution inside the neuron needs [B, C, H, W] input.
    assert not build_model(TrainConfig(model="conv", neuron="rleaky")).channels_last
    assert not build_model(TrainConfig(model="fc")).channels_last


def test_flat_linear_skips_the_flatten_copy_but_not_the_hooks():
    # The last stage reads the channels-last spikes through a permuted weight; a hook on the
    # Linear (OpCounter's) gets the plain Flatten -> Linear call, with the same result.
    torch.manual_seed(5)
    config = TrainConfig(model="conv", steps=3, beta=0.9, surrogate="fast_sigmoid")
    net = build_model(config)
    x = torch.rand(2, 1, 28, 28)
    free = net(x, config.steps).mems[-1]
    seen = []
    handle = net.synapses[2][1].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    hooked = net(x, config.steps).mems[-1]
    handle.remove()
    assert seen == [(6, 1024)]
    assert free.shape == (3, 2, 10)
    torch.testing.assert_close(free, hooked, rtol=1e-5, atol=1e-5)
