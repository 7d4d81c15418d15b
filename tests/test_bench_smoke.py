"""``bench/run.py --quick`` runs end to end and writes its JSON (slow: it imports peers)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_w3_spikeforge_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--workloads", "W3",
           "--libs", "spikeforge", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(out.read_text())
    (rec,) = data["results"]
    assert (rec["lib"], rec["workload"], rec["status"]) == ("spikeforge", "W3", "ok")
    assert len(rec["train_samples_s"]) == data["repeats"] == 3
    assert rec["train_median_s"] > 0 and rec["fwd_median_s"] > 0
    # Quick W3 is [10, 64, 4096]: forward reads 4 B and writes 4 B per element.
    assert data["floors"]["W3"]["fwd"]["bytes"] == 8 * 10 * 64 * 4096
    assert rec["memory"]["peak_mb"] >= 0
    assert "W3" in done.stdout and "spikeforge" in done.stdout


@pytest.mark.slow
def test_bench_quick_w2_reports_both_peer_programs(tmp_path):
    pytest.importorskip("spikingjelly")
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--workloads", "W2",
           "--libs", "spikeforge,spikingjelly,spikingjelly-fc1once,no-neuron", "--no-memory",
           "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(out.read_text())
    by = {r["lib"]: r for r in data["results"]}
    assert by["spikingjelly"]["note"].startswith("tutorial net, fc1 on every step")
    assert by["spikingjelly-fc1once"]["note"].startswith("fc1 once")
    sf = by["spikeforge"]
    assert sf["train_fastest_peer"] == "spikingjelly"
    assert sf["train_fastest_fc1once_peer"] == "spikingjelly-fc1once"
    targets = [t["target"] for t in data["targets"]]
    assert any("fc1-once peer" in t for t in targets)
    assert data["versions"]["spikingjelly-fc1once"] == data["versions"]["spikingjelly"]


@pytest.mark.slow
def test_bench_quick_w4_w6_report_peers_bound_and_floor(tmp_path):
    pytest.importorskip("spikingjelly")
    pytest.importorskip("snntorch")
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--workloads", "W4,W6",
           "--libs", "spikeforge,snntorch,spikingjelly-conv1once,no-neuron", "--repeats", "2",
           "--warmup", "0", "--no-memory", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(out.read_text())
    by = {(r["workload"], r["lib"]): r for r in data["results"]}
    # The conv1-once peer and the no-neuron bound are W4 cases only.
    assert set(by) == {("W4", "spikeforge"), ("W4", "snntorch"), ("W4", "spikingjelly-conv1once"),
                       ("W4", "no-neuron"), ("W6", "spikeforge"), ("W6", "snntorch")}  # fmt: skip
    assert all(r["status"] == "ok" for r in data["results"]), data["results"]
    assert by[("W4", "snntorch")]["note"] == "tutorial 6 step loop"
    assert by[("W6", "snntorch")]["note"] == "RLeaky step loop"
    assert by[("W4", "spikeforge")]["train_fastest_conv1once_peer"] == "spikingjelly-conv1once"
    assert by[("W6", "spikeforge")]["train_fastest_peer"] == "snntorch"
    # Quick W4 is T=3, B=128: conv1 once on 128 images, conv2 and fc on 3*128 (2 flops a MAC).
    conv1, conv2, fc = 2 * 128 * 12 * 576 * 25, 2 * 3 * 128 * 64 * 64 * 300, 2 * 3 * 128 * 10240
    assert data["floors"]["W4"]["fwd"]["flops"] == conv1 + conv2 + fc
    # Quick W6 is T=10, B=64: the neuron layer has 10*64*256 elements (8 B each forward).
    assert data["floors"]["W6"]["fwd"]["bytes"] == 8 * 10 * 64 * 256 + 10 * 64 * 700 * 4
    targets = [t["target"] for t in data["targets"]]
    assert any(t.startswith("W4 spikeforge train time / no-neuron bound") for t in targets)
    assert any(t.startswith("W6 spikeforge train speed-up vs fastest peer") for t in targets)
