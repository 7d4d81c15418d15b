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
