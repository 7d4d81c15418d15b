"""Eager mode runs the fused Leaky and Synaptic kernels through a lean ``autograd.Function``; the
registered ``torch.library`` op (what ``torch.compile`` sees) must give the same numbers."""

import pytest
import torch

import spikeforge as snn
from spikeforge.ops.common import eager as _eager


def _run(multi: bool, force_op: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(_eager, "FORCE_CUSTOM_OP", force_op)
    g = torch.Generator().manual_seed(5)
    x = (0.6 * torch.randn(6, 3, 7, generator=g) + 0.4).requires_grad_(True)
    lif = snn.Leaky(beta=0.8, learn_beta=True, learn_threshold=True, backend="cpu")
    lif.step_mode = "multi" if multi else "single"
    if multi:
        spk, mem = lif(x)
    else:
        mem, spikes, mems = lif.init_leaky(), [], []
        for x_t in x:
            spk_t, mem = lif(x_t, mem)
            spikes.append(spk_t)
            mems.append(mem)
        spk, mem = torch.stack(spikes), torch.stack(mems)
    upstream = torch.randn(2, *spk.shape, generator=g)
    (spk * upstream[0] + mem * upstream[1]).sum().backward()
    return spk, mem, x.grad, lif.beta.grad, lif.threshold.grad, spk.grad_fn


@pytest.mark.parametrize("multi", [True, False])
def test_eager_path_equals_registered_op(multi, monkeypatch):
    eager = _run(multi, False, monkeypatch)
    registered = _run(multi, True, monkeypatch)
    assert torch.equal(eager[0], registered[0])
    for a, b in zip(eager[1:5], registered[1:5]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert eager[0].sum() > 0  # the comparison covers spiking steps


def test_eager_mode_skips_the_custom_op_dispatch(monkeypatch):
    x = torch.full((4, 2, 3), 0.7, requires_grad=True)
    lif = snn.Leaky(beta=0.9, init_hidden=True, step_mode="multi", backend="cpu")
    assert "EagerLif" in _kernel_node(lif(x))
    monkeypatch.setattr(_eager, "FORCE_CUSTOM_OP", True)
    lif.reset_mem()
    assert "spikeforge_lif_fwd" in _kernel_node(lif(x))


def _kernel_node(spk: torch.Tensor) -> str:
    """The name of the autograd node under the output's reshaping views."""
    node = spk.grad_fn
    while "View" in type(node).__name__ or "Reshape" in type(node).__name__:
        node = node.next_functions[0][0]
    return type(node).__name__


@pytest.mark.parametrize("multi", [True, False])
def test_synaptic_eager_path_equals_registered_op(multi, monkeypatch):
    def run(force_op: bool) -> list[torch.Tensor]:
        monkeypatch.setattr(_eager, "FORCE_CUSTOM_OP", force_op)
        g = torch.Generator().manual_seed(6)
        x = (0.5 * torch.randn(5, 2, 9, generator=g) + 0.3).requires_grad_(True)
        lif = snn.Synaptic(alpha=0.7, beta=0.8, learn_alpha=True, backend="cpu")
        lif.step_mode = "multi" if multi else "single"
        if multi:
            spk, syn, mem = lif(x)
        else:
            syn, mem = lif.init_synaptic()
            outs = []
            for x_t in x:
                spk_t, syn, mem = lif(x_t, syn, mem)
                outs.append((spk_t, syn, mem))
            spk, syn, mem = (torch.stack(seq) for seq in zip(*outs))
        w = torch.randn(3, *spk.shape, generator=g)
        (spk * w[0] + syn * w[1] + mem * w[2]).sum().backward()
        return [spk, syn, mem, x.grad, lif.alpha.grad]

    eager, registered = run(False), run(True)
    assert eager[0].sum() > 0
    for a, b in zip(eager, registered):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
