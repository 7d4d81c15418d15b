"""Per-layer activity recording and operation counts, with forward hooks (no model edits).

Definitions follow NeuroBench (Yik et al., "NeuroBench", 2024):

* **activation sparsity** of a spiking layer: the fraction of its outputs that are zero,
  ``zeros / (neurons × steps × batch)``; the network's is the same ratio over all spiking
  layers together.
* **firing rate**: ``spikes / (neurons × steps × batch)`` (``= 1 − sparsity`` for 0/1 spikes;
  a graded spike of size g counts g).
* **dense MACs** of a connection layer (Linear, Conv1d, Conv2d): the multiply-accumulates it
  would do if every input were nonzero, i.e. ``Σ_inputs fan-out`` (bias additions are not
  counted).
* **effective ACs**: when the layer's input is binary (every value 0 or 1, i.e. spikes), only
  nonzero inputs cost anything and each costs one accumulate per target:
  ``Σ_{inputs ≠ 0} fan-out``.
* **effective MACs**: the same sum when the input is not binary (analog inputs, graded
  spikes), since each of those operations needs a multiply.

Every count is a total over the calls made while the hooks were installed; divide by the
number of samples for NeuroBench's per-sample figures (``summary(num_samples=N)`` does).

**Energy** is estimated from the counts with a technology table (:class:`EnergyTable`;
default 45 nm CMOS, 32-bit float: 0.9 pJ per accumulate, 4.6 pJ per multiply-accumulate,
Horowitz, ISSCC 2014, the figures most SNN papers cite):

* SNN: ``E = effective ACs · E_AC + effective MACs · E_MAC`` per connection layer;
* ANN: the same network making the same calls with dense activations,
  ``E = dense MACs · E_MAC``.

Only synaptic operations are costed (no neuron updates, memory traffic or data movement),
so both are lower bounds for comparison, not a hardware measurement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .neurons import SpikingNeuron

__all__ = [
    "ENERGY_45NM",
    "ActivityRecorder",
    "ConnectionCounts",
    "EnergyTable",
    "NeuronCounts",
    "OpCounter",
    "format_energy",
    "format_summary",
]

_CONNECTIONS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _spikes(output: Any) -> Tensor:
    """A neuron returns ``spk`` or ``(spk, *states)``."""
    return output[0] if isinstance(output, tuple) else output


class _Hooks:
    """Owns forward hooks; usable as a context manager that removes them on exit."""

    def __init__(self) -> None:
        self._handles: list[Any] = []

    def remove(self) -> None:
        """Uninstall every hook (the counts and records stay)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class ActivityRecorder(_Hooks):
    """Records each spiking layer's spikes (and membrane) at every call.

    ``rec.spikes[name]`` and ``rec.membranes[name]`` are lists with one detached tensor per
    call (names as in ``net.named_modules()``); ``rec.stack(name)`` stacks them into
    ``[T, ...]``. The membrane is the neuron's ``mem`` state after the call.

    Example::

        >>> import torch, spikeforge as snn
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), snn.Leaky(0.5, init_hidden=True))
        >>> with ActivityRecorder(net) as rec:
        ...     _ = [net(torch.ones(4, 2)) for _ in range(5)]
        >>> rec.stack("1").shape
        torch.Size([5, 4, 3])
    """

    def __init__(self, net: nn.Module, record_membrane: bool = True) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
        self.spikes: dict[str, list[Tensor]] = {}
        self.membranes: dict[str, list[Tensor]] = {}
        for name, module in net.named_modules():
            if isinstance(module, SpikingNeuron):
                self.spikes[name] = []
                if record_membrane:
                    self.membranes[name] = []
                self._handles.append(module.register_forward_hook(self._hook(name)))
        if not self.spikes:
            raise ValueError(f"{type(net).__name__} contains no spiking neuron to record")

    def _hook(self, name: str):
        def record(module: nn.Module, args: Any, output: Any) -> None:
            self.spikes[name].append(_spikes(output).detach())
            if name in self.membranes and hasattr(module, "mem"):
                self.membranes[name].append(module.mem.detach())

        return record

    def stack(self, name: str, membrane: bool = False) -> Tensor:
        """All recorded calls of layer ``name`` as one ``[T, ...]`` tensor."""
        store = self.membranes if membrane else self.spikes
        if name not in store:
            raise KeyError(f"no records for layer {name!r}; recorded: {sorted(store)}")
        return torch.stack(store[name])

    def clear(self) -> None:
        for store in (self.spikes, self.membranes):
            for records in store.values():
                records.clear()


@dataclass(frozen=True)
class EnergyTable:
    """Energy of one synaptic operation, in picojoules, for a technology.

    ``pj_per_ac``: an accumulate (a spike arriving: add the weight);
    ``pj_per_mac``: a multiply-accumulate (an analog input: multiply, then add).
    Replace it to cost another technology: ``EnergyTable("my chip", 0.1, 0.5)``.
    """

    name: str = "45 nm"
    pj_per_ac: float = 0.9
    pj_per_mac: float = 4.6

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"EnergyTable name must be a str, got {type(self.name).__name__}")
        for field_name in ("pj_per_ac", "pj_per_mac"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(
                    f"EnergyTable {field_name} must be a number of picojoules, "
                    f"got {type(value).__name__}"
                )
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"EnergyTable {field_name} must be finite and >= 0 pJ, got {value}"
                )

    def snn_pj(self, effective_acs: float, effective_macs: float) -> float:
        """``ACs · E_AC + MACs · E_MAC``: what the spiking network's operations cost."""
        return effective_acs * self.pj_per_ac + effective_macs * self.pj_per_mac

    def ann_pj(self, dense_macs: float) -> float:
        """``dense MACs · E_MAC``: the same calls with every input nonzero and analog."""
        return dense_macs * self.pj_per_mac


ENERGY_45NM = EnergyTable()


def _check_table(energy: Any) -> EnergyTable:
    if not isinstance(energy, EnergyTable):
        raise TypeError(f"energy must be an EnergyTable, got {type(energy).__name__}")
    return energy


@dataclass
class ConnectionCounts:
    """Operation counts of one Linear/Conv layer (totals over the recorded calls)."""

    dense_macs: int = 0
    effective_macs: int = 0
    effective_acs: int = 0
    calls: int = 0


@dataclass
class NeuronCounts:
    """Activity of one spiking layer (totals over the recorded calls)."""

    spikes: float = 0.0
    zeros: int = 0
    activations: int = 0
    calls: int = 0

    @property
    def firing_rate(self) -> float:
        return self.spikes / self.activations if self.activations else 0.0

    @property
    def activation_sparsity(self) -> float:
        return self.zeros / self.activations if self.activations else 0.0


def _ops_per_input(layer: nn.Module, mask: Tensor) -> Tensor:
    """``Σ fan-out`` over the inputs marked in ``mask`` (same shape as the layer input)."""
    if isinstance(layer, nn.Linear):
        return mask.sum() * layer.out_features
    ones = torch.ones_like(layer.weight)
    conv = F.conv1d if isinstance(layer, nn.Conv1d) else F.conv2d
    out = conv(mask, ones, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return out.sum()


class OpCounter(_Hooks):
    """Counts synaptic operations, firing rates and activation sparsity per layer.

    Install, run the network as usual, read the counts::

        with OpCounter(net) as counter:
            for x in batches: net(x)
        print(format_summary(counter.summary(num_samples=len(dataset))))
        print(format_energy(counter.summary(num_samples=len(dataset))))
        counter.energy(EnergyTable("my chip", pj_per_ac=0.1, pj_per_mac=0.5))  # pJ per layer
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
        self.connections: dict[str, ConnectionCounts] = {}
        self.neurons: dict[str, NeuronCounts] = {}
        for name, module in net.named_modules():
            if isinstance(module, _CONNECTIONS):
                self.connections[name] = ConnectionCounts()
                self._handles.append(module.register_forward_hook(self._count_connection(name)))
            elif isinstance(module, SpikingNeuron):
                self.neurons[name] = NeuronCounts()
                self._handles.append(module.register_forward_hook(self._count_neuron(name)))

    def _count_connection(self, name: str):
        @torch.no_grad()
        def count(module: nn.Module, args: Any, output: Any) -> None:
            x = args[0]
            counts = self.connections[name]
            nonzero = (x != 0).to(module.weight.dtype)
            dense = int(_ops_per_input(module, torch.ones_like(nonzero)))
            effective = int(_ops_per_input(module, nonzero))
            counts.dense_macs += dense
            if bool(((x == 0) | (x == 1)).all()):
                counts.effective_acs += effective
            else:
                counts.effective_macs += effective
            counts.calls += 1

        return count

    def _count_neuron(self, name: str):
        @torch.no_grad()
        def count(module: nn.Module, args: Any, output: Any) -> None:
            spk = _spikes(output)
            counts = self.neurons[name]
            counts.spikes += float(spk.sum())
            counts.zeros += int((spk == 0).sum())
            counts.activations += spk.numel()
            counts.calls += 1

        return count

    def totals(self) -> dict[str, float]:
        """Network totals: ops summed over layers, sparsity over all spiking outputs."""
        zeros = sum(c.zeros for c in self.neurons.values())
        acts = sum(c.activations for c in self.neurons.values())
        spikes = sum(c.spikes for c in self.neurons.values())
        return {
            "dense_macs": sum(c.dense_macs for c in self.connections.values()),
            "effective_macs": sum(c.effective_macs for c in self.connections.values()),
            "effective_acs": sum(c.effective_acs for c in self.connections.values()),
            "activation_sparsity": zeros / acts if acts else 0.0,
            "firing_rate": spikes / acts if acts else 0.0,
        }

    def summary(
        self, num_samples: int | None = None, energy: EnergyTable | None = ENERGY_45NM
    ) -> dict[str, Any]:
        """Per-layer and total counts as plain data; ops divided by ``num_samples`` if given.

        With an ``energy`` table (default 45 nm; None leaves energy out), each connection
        layer and the totals also carry ``snn_energy_pj`` and ``ann_energy_pj`` (see the
        module docstring), and ``"energy_table"`` names the table.
        """
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 1):
            raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
        if energy is not None:
            _check_table(energy)
        scale = 1.0 / num_samples if num_samples else 1.0
        ops = ("dense_macs", "effective_macs", "effective_acs")
        layers: dict[str, dict[str, Any]] = {}
        for name, c in self.connections.items():
            row = asdict(c)
            layers[name] = {"kind": "connection", **{k: row[k] * scale for k in ops}}
        for name, n in self.neurons.items():
            layers[name] = {
                "kind": "neuron",
                "firing_rate": n.firing_rate,
                "activation_sparsity": n.activation_sparsity,
            }
        totals = self.totals()
        for key in ops:
            totals[key] *= scale
        out = {"per_sample": num_samples is not None, "layers": layers, "totals": totals}
        if energy is not None:
            for row in (*(r for r in layers.values() if r["kind"] == "connection"), totals):
                row["snn_energy_pj"] = energy.snn_pj(row["effective_acs"], row["effective_macs"])
                row["ann_energy_pj"] = energy.ann_pj(row["dense_macs"])
            out["energy_table"] = asdict(energy)
        return out

    def energy(
        self, table: EnergyTable = ENERGY_45NM, num_samples: int | None = None
    ) -> dict[str, Any]:
        """Estimated energy in pJ: ``{"layers": {name: {"snn_pj", "ann_pj"}}, "totals":
        {"snn_pj", "ann_pj"}}`` for the connection layers, per sample if ``num_samples``."""
        full = self.summary(num_samples, _check_table(table))
        layers = {
            name: {"snn_pj": row["snn_energy_pj"], "ann_pj": row["ann_energy_pj"]}
            for name, row in full["layers"].items()
            if row["kind"] == "connection"
        }
        t = full["totals"]
        return {
            "table": table,
            "per_sample": full["per_sample"],
            "layers": layers,
            "totals": {"snn_pj": t["snn_energy_pj"], "ann_pj": t["ann_energy_pj"]},
        }


def format_summary(summary: dict[str, Any]) -> str:
    """A text table of :meth:`OpCounter.summary` (what ``spikeforge train`` prints)."""
    unit = "per sample" if summary["per_sample"] else "total"
    lines = [
        f"{'layer':<20} {'dense MACs':>14} {'eff. MACs':>14} {'eff. ACs':>14} "
        f"{'rate':>7} {'sparsity':>8}   (ops {unit})"
    ]
    for name, row in summary["layers"].items():
        if row["kind"] == "connection":
            lines.append(
                f"{name:<20} {row['dense_macs']:>14,.0f} {row['effective_macs']:>14,.0f} "
                f"{row['effective_acs']:>14,.0f}"
            )
        else:
            lines.append(
                f"{name:<20} {'':>14} {'':>14} {'':>14} {row['firing_rate']:>7.4f} "
                f"{row['activation_sparsity']:>8.4f}"
            )
    t = summary["totals"]
    lines.append(
        f"{'total':<20} {t['dense_macs']:>14,.0f} {t['effective_macs']:>14,.0f} "
        f"{t['effective_acs']:>14,.0f} {t['firing_rate']:>7.4f} {t['activation_sparsity']:>8.4f}"
    )
    return "\n".join(lines)


def _joules(pj: float) -> str:
    """``1234.5`` pJ -> ``"1.23 nJ"``: three significant figures in the largest fitting unit."""
    for unit, size in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= size:
            return f"{pj / size:.3g} {unit}"
    return f"{pj:.3g} pJ"


def format_energy(summary: dict[str, Any], table: EnergyTable | None = None) -> str:
    """One line: the SNN's and the ANN-equivalent's estimated energy from the counts of
    :meth:`OpCounter.summary` (what ``spikeforge train`` prints). ``table`` defaults to the
    one the summary names, else 45 nm."""
    if table is None:
        stored = summary.get("energy_table")
        table = EnergyTable(**stored) if stored else ENERGY_45NM
    _check_table(table)
    t = summary["totals"]
    snn = table.snn_pj(t["effective_acs"], t["effective_macs"])
    ann = table.ann_pj(t["dense_macs"])
    unit = "per sample" if summary["per_sample"] else "total"
    ratio = f" (ANN/SNN {ann / snn:.3g}x)" if snn > 0 else ""
    return (
        f" energy ({table.name}: {table.pj_per_ac:g} pJ/AC, {table.pj_per_mac:g} pJ/MAC)"
        f"  SNN {_joules(snn)} vs ANN {_joules(ann)} {unit}{ratio}"
    )
