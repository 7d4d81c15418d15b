"""FA and DFA: the hidden gradients are the fixed random projections of the error, by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikeforge.learning import (
    DirectFeedbackAlignment,
    FALinear,
    SpikingDense,
    to_feedback_alignment,
)

F64 = torch.float64


def _two_layer(feedback: torch.Tensor):
    """x [1, 2] -> W1 [3, 2] -> h -> FA W2 [2, 3] (feedback B) -> y [1, 2]."""
    w1 = torch.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], dtype=F64, requires_grad=True)
    fa = FALinear(3, 2, bias=True, feedback=feedback).double()
    with torch.no_grad():
        fa.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], dtype=F64))
        fa.bias.zero_()
    return w1, fa


def test_fa_hidden_gradient_is_feedback_times_error():
    b = torch.tensor([[0.2, -0.1, 0.4], [0.3, 0.5, -0.6]], dtype=F64)
    w1, fa = _two_layer(b)
    x = torch.tensor([[1.0, 2.0]], dtype=F64)
    h = x @ w1.t()
    y = fa(h)
    delta = torch.tensor([[0.7, -0.3]], dtype=F64)  # dL/dy with L = <y, δ>
    (y * delta).sum().backward()
    # ∂L/∂h := δ B = [0.7·0.2 − 0.3·0.3, 0.7·(−0.1) − 0.3·0.5, 0.7·0.4 + 0.3·0.6]
    dh = torch.tensor([[0.05, -0.22, 0.46]], dtype=F64)
    assert torch.allclose(w1.grad, dh.t() @ x)
    # the FA layer's own gradients are the true ones: δᵀ h and δ
    assert torch.allclose(fa.weight.grad, delta.t() @ h.detach())
    assert torch.allclose(fa.bias.grad, delta[0])


def test_fa_forward_equals_linear_and_feedback_is_fixed_buffer():
    layer = FALinear(4, 3, seed=7)
    ref = nn.Linear(4, 3)
    ref.load_state_dict({"weight": layer.weight, "bias": layer.bias})
    x = torch.randn(5, 4)
    assert torch.equal(layer(x), ref(x))
    assert "feedback" in dict(layer.named_buffers())
    assert not any(p is layer.feedback for p in layer.parameters())
    again = FALinear(4, 3, seed=7)
    assert torch.equal(again.feedback, layer.feedback)


def test_fa_handles_time_major_input():
    layer = FALinear(3, 2, seed=0)
    x = torch.randn(4, 5, 3, requires_grad=True)
    out = layer(x)
    grad = torch.randn_like(out)
    out.backward(grad)
    assert torch.allclose(x.grad, grad @ layer.feedback)
    expected_w = grad.reshape(-1, 2).t() @ x.detach().reshape(-1, 3)
    assert torch.allclose(layer.weight.grad, expected_w, atol=1e-6)


def test_to_feedback_alignment_swaps_linears_and_keeps_weights():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = torch.randn(2, 4)
    before = net(x)
    to_feedback_alignment(net, seed=1)
    assert isinstance(net[0], FALinear)
    assert isinstance(net[2], FALinear)
    assert torch.allclose(net(x), before)
    with pytest.raises(TypeError):
        to_feedback_alignment(nn.Linear(2, 2))


def test_fa_rejects_feedback_of_wrong_shape():
    with pytest.raises(ValueError, match="feedback must have shape"):
        FALinear(3, 2, feedback=torch.zeros(3, 2))


def test_dfa_hidden_gradients_are_projected_output_error():
    # x -> W1 -> h1 -> W2 -> h2 -> W3 -> y; taps on h1, h2; e = ∂L/∂y = δ.
    x = torch.tensor([[1.0, -1.0]], dtype=F64)
    w1 = torch.tensor([[0.5, 0.1], [0.2, -0.3]], dtype=F64, requires_grad=True)
    w2 = torch.tensor([[1.0, 0.0, 0.5], [0.3, 0.2, 0.1]], dtype=F64).t().clone()
    w2.requires_grad_(True)  # [3, 2]
    w3 = torch.tensor([[0.4, -0.2, 0.1], [0.0, 0.3, 0.2]], dtype=F64, requires_grad=True)
    b1 = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=F64)  # [C=2, H1=2]
    b2 = torch.tensor([[0.1, 0.2, 0.3], [-0.4, 0.5, 0.6]], dtype=F64)  # [C=2, H2=3]
    dfa = DirectFeedbackAlignment(2, [2, 3], feedback=[b1, b2])
    h1 = dfa.hidden(x @ w1.t(), 0)
    h2 = dfa.hidden(h1 @ w2.t(), 1)
    y = dfa.output(h2 @ w3.t())
    delta = torch.tensor([[0.6, -0.2]], dtype=F64)
    (y * delta).sum().backward()
    assert torch.allclose(w1.grad, (delta @ b1).t() @ x)
    assert torch.allclose(w2.grad, (delta @ b2).t() @ h1.detach())
    assert torch.allclose(w3.grad, delta.t() @ h2.detach())  # the output layer is exact


def test_dfa_per_step_taps_use_that_steps_error():
    torch.manual_seed(0)
    layer = SpikingDense(3, 4, beta=0.5)
    readout = nn.Linear(4, 2)
    dfa = DirectFeedbackAlignment(2, [4], seed=3)
    x = torch.rand(3, 2, 3) * 2
    current = layer.fc(x)
    taps = []
    state = None
    outs = []
    for t in range(3):
        spk, state = layer.lif.step(current[t], state)
        spk.retain_grad()
        taps.append(spk)
        outs.append(readout(dfa.hidden(spk, 0, step=t)))
    y = dfa.output(torch.stack(outs))
    grad_y = torch.randn_like(y)
    y.backward(grad_y)
    for t in range(3):
        assert torch.allclose(taps[t].grad, grad_y[t] @ dfa.matrix(0), atol=1e-6)


def test_dfa_errors_are_clear():
    dfa = DirectFeedbackAlignment(2, [3], seed=0)
    with pytest.raises(ValueError, match="layer must be in"):
        dfa.hidden(torch.zeros(1, 3), 1)
    h = dfa.hidden(torch.zeros(1, 3, requires_grad=True), 0)
    with pytest.raises(RuntimeError, match="no output error recorded"):
        h.sum().backward()
    with pytest.raises(ValueError, match="feedback"):
        DirectFeedbackAlignment(2, [3], feedback=[torch.zeros(3, 2)])
