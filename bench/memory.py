"""Peak memory of one training step, measured in a fresh process per case.

torch's CPU tensors are allocated with malloc/mmap, invisible to ``tracemalloc``, and a
process reused across libraries keeps freed memory in its allocator (and spikeforge keeps
a buffer pool), so the figure comes from a child process per (library, workload):

1. import the library and run one step of the same case at tiny sizes (compiles
   numba/JIT kernels without touching full-size memory);
2. read the resident set size (``VmRSS``) as the baseline, then reset the kernel's
   high-water mark (``echo 5 > /proc/self/clear_refs``; where that is not allowed the
   baseline uses ``ru_maxrss`` instead, which is then at least the baseline);
3. build the case at the run's sizes and run two training steps (the second shows
   steady-state reuse);
4. peak = ``VmHWM`` - baseline: the most memory the steps held above the model and data.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def probe(lib: str, workload: str, quick: bool) -> dict:
    """Run in the child: returns {"peak_mb", "baseline_mb", "method"}."""
    import cases

    warm = cases.Sizes(w1_t=2, w2_t=2, w3_t=2, w3_n=64, w4_t=2, w6_t=2, s1_t=2, s2_t=2)
    cases.build(lib, workload, warm).train()
    case = cases.build(lib, workload, cases.Sizes.quick() if quick else cases.Sizes())
    rss = _status_kib("VmRSS")
    if rss is not None and _reset_high_water():
        method, baseline = "VmHWM-VmRSS", rss
    else:
        method, baseline = "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    case.train()
    case.train()
    hwm = _status_kib("VmHWM") if method == "VmHWM-VmRSS" else None
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mb": (hwm - baseline) / 1024, "baseline_mb": baseline / 1024, "method": method}


def measure(lib: str, workload: str, quick: bool, timeout: float = 1200) -> dict:
    """Peak memory of ``lib`` on ``workload`` from a child process, or {"error": ...}."""
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "run.py"), "--memory-probe", f"{lib}:{workload}"]
    if quick:
        cmd.append("--quick")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:200]}
    return json.loads(lines[-1])
