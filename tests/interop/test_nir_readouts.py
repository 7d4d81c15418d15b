"""NIR ``LI``, ``I``, ``CubaLI`` and ``Delay``: import by the documented discretisation, export
back to the same node types, exact round trips, and a graph Norse writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import spikeforge as snn
from spikeforge.convert import reset_neurons
from spikeforge.neurons import SynapticDelay
from spikeforge.nir.modules import Integrator, LeakyIntegrator, SynapticIntegrator

nir = pytest.importorskip("nir")

DT = 1e-3


def _graph(node, size: int, weight=None) -> object:
    """``input → Linear(weight, default identity) → node → output`` over ``size`` neurons."""
    w = np.eye(size) if weight is None else np.asarray(weight, dtype=float)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([w.shape[1]])}),
        "w": nir.Linear(weight=w),
        "n": node,
        "output": nir.Output(output_type={"output": np.array([size])}),
    }
    edges = [("input", "w"), ("w", "n"), ("n", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _drive(net: nn.Module, xs: torch.Tensor) -> torch.Tensor:
    reset_neurons(net)
    with torch.no_grad():
        return torch.stack([net(x) for x in xs])


# -- import: the discretisation by hand ---------------------------------------------------------


def test_li_is_a_leaky_readout():
    # τ = 4 ms, dt = 1 ms: β = 1 − 1/4 = 0.75; r = 2: gain r·dt/τ = 0.5. Input 1 each step:
    # v = 0.5, 0.75·0.5 + 0.5 = 0.875, 0.75·0.875 + 0.5 = 1.15625.
    li = nir.LI(tau=np.array([4e-3]), r=np.array([2.0]), v_leak=np.array([0.0]))
    net = snn.import_from_nir(_graph(li, 1), dt=DT)
    assert isinstance(net[-1], LeakyIntegrator)
    out = _drive(net, torch.ones(3, 1, 1))
    torch.testing.assert_close(out.flatten(), torch.tensor([0.5, 0.875, 1.15625]))


def test_i_integrates_without_leak():
    # v_t = v_{t−1} + r x_t with r = [1, 2] and inputs 1, 2, 3: [1, 3, 6] and [2, 6, 12].
    net = snn.import_from_nir(_graph(nir.I(r=np.array([1.0, 2.0])), 2), dt=DT)
    assert isinstance(net[-1], Integrator)
    xs = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1).expand(3, 1, 2)
    assert _drive(net, xs)[:, 0].tolist() == [[1.0, 2.0], [3.0, 6.0], [6.0, 12.0]]


def test_cubali_is_synaptic_without_spikes():
    # τ_syn = 2 ms → α = 0.5; τ_mem = 4 ms → β = 0.75; w_in·dt/τ_syn = 2·0.5 = 1 and
    # r·dt/τ_mem = 4·0.25 = 1, so the gain is 1. Input 1: I = 1, 1.5, 1.75;
    # v = 1, 0.75 + 1.5 = 2.25, 0.75·2.25 + 1.75 = 3.4375.
    node = nir.CubaLI(
        tau_syn=np.array([2e-3]), tau_mem=np.array([4e-3]), r=np.array([4.0]),
        v_leak=np.array([0.0]), w_in=np.array([2.0]),
    )  # fmt: skip
    net = snn.import_from_nir(_graph(node, 1), dt=DT)
    assert isinstance(net[-1], SynapticIntegrator)
    torch.testing.assert_close(
        _drive(net, torch.ones(3, 1, 1)).flatten(), torch.tensor([1.0, 2.25, 3.4375])
    )


def test_delay_shifts_each_neuron_by_its_steps():
    # delays 0, 1 and 3 ms at dt = 1 ms; the input at step t is t + 1 for every neuron.
    net = snn.import_from_nir(_graph(nir.Delay(delay=np.array([0.0, 1e-3, 3e-3])), 3), dt=DT)
    assert isinstance(net[-1], SynapticDelay) and net[-1].delay.tolist() == [0, 1, 3]
    xs = torch.arange(1.0, 6.0).view(5, 1, 1).expand(5, 1, 3)
    assert _drive(net, xs)[:, 0].T.tolist() == [
        [1.0, 2.0, 3.0, 4.0, 5.0],
        [0.0, 1.0, 2.0, 3.0, 4.0],
        [0.0, 0.0, 0.0, 1.0, 2.0],
    ]


def test_import_rejects_what_the_readouts_cannot_represent():
    li = nir.LI(tau=np.array([4e-3]), r=np.array([1.0]), v_leak=np.array([0.5]))
    with pytest.raises(ValueError, match="v_leak"):
        snn.import_from_nir(_graph(li, 1), dt=DT)
    with pytest.raises(ValueError, match="finite delays >= 0"):
        snn.import_from_nir(_graph(nir.Delay(delay=np.array([-1e-3])), 1), dt=DT)
    with pytest.raises(ValueError, match="beta must lie in"):
        LeakyIntegrator(beta=1.5)


# -- export: the same node types, exact round trips -------------------------------------------


def _readout_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5),
        snn.Leaky(beta=0.9, init_hidden=True),
        SynapticDelay(3, torch.tensor([0.0, 1.0, 2.0, 3.0, 1.0]), channels=5),
        nn.Linear(5, 4),
        SynapticIntegrator(alpha=torch.rand(4), beta=0.85, gain=0.7),
        nn.Linear(4, 3),
        Integrator(r=torch.tensor([1.0, 0.5, 2.0])),
        nn.Linear(3, 2),
        LeakyIntegrator(beta=torch.rand(2), gain=0.3),
    )


def test_readouts_export_as_li_i_cubali_delay_and_round_trip_exactly(tmp_path):
    net = _readout_net()
    graph = snn.export_to_nir(net, torch.zeros(1, 3), dt=DT)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert [kinds[k] for k in ("2", "4", "6", "8")] == ["Delay", "CubaLI", "I", "LI"]
    np.testing.assert_allclose(graph.nodes["2"].delay, [0.0, 1e-3, 2e-3, 3e-3, 1e-3])
    nir.write(tmp_path / "readouts.nir", graph)
    again = snn.import_from_nir(nir.read(tmp_path / "readouts.nir"))
    assert [type(m) for m in again] == [type(m) for m in net]
    xs = torch.rand(25, 4, 3) * 2
    ours, theirs = _drive(net, xs), _drive(again, xs)
    assert torch.equal(ours, theirs)
    assert ours.abs().sum() > 0


def test_exported_standard_fields_reproduce_the_readouts_without_metadata():
    # What another tool reads: drop spikeforge's metadata and import the NIR fields alone.
    net = _readout_net()[2:]  # from the Delay on, so the Leaky's subtract reset stays out
    graph = snn.export_to_nir(net, torch.zeros(1, 5), dt=DT)
    for node in graph.nodes.values():
        node.metadata = {}
    plain = snn.import_from_nir(graph, dt=DT)
    xs = torch.rand(25, 4, 5)
    torch.testing.assert_close(_drive(plain, xs), _drive(net, xs), rtol=1e-5, atol=1e-5)


def test_li_with_unit_decay_exports_as_i():
    net = nn.Sequential(LeakyIntegrator(beta=1.0, gain=0.5))
    graph = snn.export_to_nir(net, torch.zeros(1, 2), dt=DT)
    (node,) = [n for n in graph.nodes.values() if not isinstance(n, (nir.Input, nir.Output))]
    assert isinstance(node, nir.I) and node.r.tolist() == [0.5, 0.5]


def test_multi_step_readouts_equal_single_steps_and_round_trip():
    torch.manual_seed(1)
    xs = torch.rand(6, 2, 4)
    for make in (
        lambda **kw: LeakyIntegrator(beta=0.8, gain=0.5, **kw),
        lambda **kw: SynapticIntegrator(alpha=0.5, beta=0.9, **kw),
        lambda **kw: Integrator(r=2.0, **kw),
        lambda **kw: SynapticDelay(5, torch.tensor([0.0, 2.0, 1.0, 5.0]), **kw),
    ):
        single, multi = make(), make(step_mode="multi")
        torch.testing.assert_close(multi(xs), torch.stack([single(x) for x in xs]))
        again = snn.import_from_nir(snn.export_to_nir(nn.Sequential(multi), xs, dt=DT))
        reset_neurons(multi)
        assert again[0].step_mode == "multi"
        assert torch.equal(again(xs), multi(xs))


def test_export_leaves_the_readout_state_untouched():
    li = LeakyIntegrator(beta=0.5)
    li(torch.ones(1, 2))
    snn.export_to_nir(nn.Sequential(nn.Linear(2, 2), li), torch.ones(1, 2))
    assert li.mem.tolist() == [[1.0, 1.0]]


# -- Norse ---------------------------------------------------------------------------------------


def test_graph_exported_by_norse_with_an_li_readout_gives_norse_outputs():
    norse_torch = pytest.importorskip("norse.torch")
    torch.manual_seed(3)
    model = norse_torch.SequentialState(
        nn.Linear(3, 5), norse_torch.LIFBoxCell(), nn.Linear(5, 2), norse_torch.LIBoxCell()
    )
    try:
        graph = norse_torch.to_nir(model, torch.zeros(1, 3))
    except Exception as err:  # Norse's exporter, outside our control
        pytest.skip(f"norse.to_nir failed: {type(err).__name__}: {err}")
    assert any(isinstance(n, nir.LI) for n in graph.nodes.values())
    # Norse 1.1 writes tau = dt / tau_mem_inv (dt = 1 ms): its per-step decay
    # dt · tau_mem_inv is dt_ours / tau for dt_ours = (1 ms)² (see test_nir.py).
    net = snn.import_from_nir(graph, dt=1e-6)
    assert isinstance(net[-1], LeakyIntegrator)
    xs = torch.rand(40, 8, 3) * 40
    state, theirs = None, []
    with torch.no_grad():
        for x in xs:
            out, state = model(x, state)
            theirs.append(out)
    ours = _drive(net, xs)
    theirs = torch.stack(theirs)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    assert theirs.abs().sum() > 1


# -- SynapticDelay: fractional and learnable delays ---------------------------------------------


def test_fractional_nir_delay_interpolates_between_the_two_steps_around_it():
    # τ = 1.5 ms at dt = 1 ms: d = 1.5, so y_t = 0.5·x_{t−1} + 0.5·x_{t−2}; τ = 2 ms shifts.
    # Input 1, 2, 4, 8: [0, 0.5, 1.5, 3] and [0, 0, 1, 2].
    net = snn.import_from_nir(_graph(nir.Delay(delay=np.array([1.5e-3, 2e-3])), 2), dt=DT)
    delay = net[-1]
    assert isinstance(delay, SynapticDelay) and delay.kernel == "linear"
    assert delay.delay.tolist() == [1.5, 2.0] and delay.max_delay == 2
    xs = torch.tensor([1.0, 2.0, 4.0, 8.0]).view(4, 1, 1).expand(4, 1, 2)
    assert _drive(net, xs)[:, 0].T.tolist() == [[0.0, 0.5, 1.5, 3.0], [0.0, 0.0, 1.0, 2.0]]


def test_learnable_fractional_delay_round_trips_exactly_through_a_file(tmp_path):
    torch.manual_seed(4)
    delay = SynapticDelay(6, torch.tensor([0.0, 1.25, 2.5, 5.75]), channels=4, learn_delay=True)
    net = nn.Sequential(nn.Linear(3, 4), delay, nn.Linear(4, 2), LeakyIntegrator(beta=0.8))
    graph = snn.export_to_nir(net, torch.zeros(1, 3), dt=DT)
    node = graph.nodes["1"]
    assert isinstance(node, nir.Delay)
    np.testing.assert_allclose(node.delay, [0.0, 1.25e-3, 2.5e-3, 5.75e-3], rtol=1e-12)
    nir.write(tmp_path / "delay.nir", graph)
    again = snn.import_from_nir(tmp_path / "delay.nir")
    back = again[1]
    assert isinstance(back, SynapticDelay) and isinstance(back.delay, nn.Parameter)
    assert (back.max_delay, back.channels, back.kernel) == (6, 4, "linear")
    assert torch.equal(back.delay, delay.delay) and back.delay.dtype == torch.float32
    xs = torch.rand(20, 3, 3)
    assert torch.equal(_drive(again, xs), _drive(net, xs))
    # the imported delay still learns: its gradient reaches d
    reset_neurons(again)
    torch.stack([again(x) for x in xs]).sum().backward()
    assert back.delay.grad is not None and back.delay.grad.abs().sum() > 0


def test_delay_without_metadata_gives_the_same_outputs_as_exported():
    # What another tool reads: τ = d·dt alone, d fractional, imports to the same outputs.
    delay = SynapticDelay(4, torch.tensor([0.5, 3.25, 2.0]), channels=3, learn_delay=True)
    graph = snn.export_to_nir(nn.Sequential(delay), torch.zeros(2, 3), dt=DT)
    for node in graph.nodes.values():
        node.metadata = {}
    plain = snn.import_from_nir(graph, dt=DT)[0]
    assert plain.delay.tolist() == [0.5, 3.25, 2.0] and plain.max_delay == 4
    xs = torch.rand(12, 2, 3)
    assert torch.equal(_drive(nn.Sequential(plain), xs), _drive(nn.Sequential(delay), xs))


def test_shared_and_gaussian_delays_keep_their_exact_parameters():
    delay = SynapticDelay(3, delay=1.3, kernel="gaussian", sigma=0.3, step_mode="multi")
    graph = snn.export_to_nir(nn.Sequential(delay), torch.zeros(5, 2, 4), dt=DT)
    (back,) = snn.import_from_nir(graph)
    assert back.delay.shape == () and back.delay.item() == delay.delay.item()
    assert (back.kernel, back.sigma, back.step_mode, back.learn_delay) == (
        "gaussian", 0.3, "multi", False,
    )  # fmt: skip
    xs = torch.rand(9, 2, 4)
    assert torch.equal(back(xs), delay(xs))


def test_per_neuron_delays_over_more_than_one_axis_run_on_flattened_neurons():
    # delays (in steps) [[0, 1, 2], [2, 0, 1]] over a [2, 3] neuron map: each neuron shifts
    # its own ramp 1, 2, 3, 4 by its delay.
    steps = np.array([[0, 1, 2], [2, 0, 1]])
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 3])}),
        "d": nir.Delay(delay=steps * DT),
        "output": nir.Output(output_type={"output": np.array([2, 3])}),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "d"), ("d", "output")])
    net = snn.import_from_nir(graph, dt=DT)
    xs = torch.arange(1.0, 5.0).view(4, 1, 1, 1).expand(4, 1, 2, 3)
    out = _drive(net, xs)[:, 0]  # [T, 2, 3]
    ramp = [1.0, 2.0, 3.0, 4.0]
    for i, j in np.ndindex(2, 3):
        d = int(steps[i, j])
        assert out[:, i, j].tolist() == [0.0] * d + ramp[: 4 - d]
    # equal along all but the last axis: one delay per channel, no flattening
    per_channel = nir.Delay(delay=np.array([[0.0, 1e-3, 2e-3]] * 2))
    nodes["d"] = per_channel
    (only,) = snn.import_from_nir(nir.NIRGraph(nodes=nodes, edges=graph.edges), dt=DT)
    assert isinstance(only, SynapticDelay) and only.delay.tolist() == [0.0, 1.0, 2.0]


def test_export_leaves_the_delay_ring_untouched():
    delay = SynapticDelay(2, delay=1.0)
    delay(torch.tensor([[5.0, 6.0]]))
    snn.export_to_nir(nn.Sequential(delay), torch.ones(3, 2))
    assert delay(torch.zeros(1, 2)).tolist() == [[5.0, 6.0]]  # x_{t−1}, kept through export


def test_graph_module_resets_a_delay_inside_it():
    # input → delay → output plus input → output: the graph sums x_t and x_{t−1}.
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1])}),
        "d": nir.Delay(delay=np.array([DT])),
        "output": nir.Output(output_type={"output": np.array([1])}),
    }
    edges = [("input", "d"), ("d", "output"), ("input", "output")]
    net = snn.import_from_nir(nir.NIRGraph(nodes=nodes, edges=edges), dt=DT)
    assert [net(torch.tensor([[v]])).item() for v in (1.0, 2.0)] == [1.0, 3.0]
    net.reset_mem()
    assert net(torch.tensor([[4.0]])).item() == 4.0
