"""First run: how long a new user waits for numba on a cold cache.

Usage::

    python bench/first_run.py [--train-model fc|conv] [--limit N] [--out PATH]

Two measurements, each in a fresh Python process (``NUMBA_CACHE_DIR`` set to a new empty
folder, so nothing compiled earlier is reused), then once more in another fresh process on
the now-filled cache (the ``warm`` column: what the second session pays):

- **leaky**: from the start of the process to the end of the first multi-step ``Leaky``
  call (``import torch, spikeforge``; ``Leaky(beta=0.95, step_mode="multi")`` on
  ``[25, 128, 1000]`` float32), then its first backward.
- **train**: from the start of the process to the end of the first training batch (the
  first ``Adam.step``) of ``spikeforge train --limit N --epochs 1``, and the whole command.

Wall and CPU seconds are both reported (CPU time is the steadier figure on a shared machine).
Every numba compilation is recorded through numba's ``numba:compile`` event (it fires only
when a specialisation is compiled, not when one is loaded from the cache): the table counts
them per jitted function, with the seconds they took (nested compilations, a jitted function
compiling a callee, are counted but their time is inside their caller's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

# Run in the child. Times are perf_counter seconds from the child's first line.
_RECORDER = r"""
from numba.core import event as _ev

class _Compiles(_ev.Listener):
    def __init__(self):
        self.open, self.done = [], []

    def on_start(self, event):
        self.open.append((time.perf_counter(), time.process_time()))

    def on_end(self, event):
        wall, cpu = self.open.pop()
        fn = event.data["dispatcher"].py_func
        self.done.append({"fn": f"{fn.__module__}.{fn.__qualname__}",
                          "sig": str(event.data["args"]), "s": time.perf_counter() - wall,
                          "cpu_s": time.process_time() - cpu, "nested": bool(self.open)})

_compiles = _Compiles()
_ev.register("numba:compile", _compiles)
"""

LEAKY_CHILD = (
    "import time\nT0, C0 = time.perf_counter(), time.process_time()\nimport json\nimport torch\n"
    "import spikeforge as snn\nt_import = time.perf_counter() - T0\n"
    + _RECORDER
    + r"""
x = torch.rand(25, 128, 1000, requires_grad=True)
lif = snn.Leaky(beta=0.95, step_mode="multi")
t = time.perf_counter()
spk, mem = lif(x)
t_first_call, c_first_call = time.perf_counter() - T0, time.process_time() - C0
(spk.sum() + mem.sum()).backward()
t_first_backward, c_first_backward = time.perf_counter() - T0, time.process_time() - C0
lif.reset_mem()
t = time.perf_counter()
spk, mem = lif(x)
(spk.sum() + mem.sum()).backward()
print(json.dumps({"import_s": t_import, "first_call_s": t_first_call,
                  "first_call_cpu_s": c_first_call, "first_backward_s": t_first_backward,
                  "first_backward_cpu_s": c_first_backward,
                  "second_call_fwd_bwd_s": time.perf_counter() - t,
                  "compiles": _compiles.done}))
"""
)

TRAIN_CHILD = (
    "import time\nT0, C0 = time.perf_counter(), time.process_time()\nimport json, sys\n"
    "import torch\n"
    + _RECORDER
    + r"""
_first = {}
_adam_step = torch.optim.Adam.step

def _timed_step(self, *args, **kwargs):
    out = _adam_step(self, *args, **kwargs)
    if not _first:
        _first.update(first_batch_s=time.perf_counter() - T0,
                      first_batch_cpu_s=time.process_time() - C0)
    return out

torch.optim.Adam.step = _timed_step
from spikeforge.cli import main
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, **_first, "command_s": time.perf_counter() - T0,
                  "command_cpu_s": time.process_time() - C0,
                  "compiles": _compiles.done}))
"""
)


def run_child(code: str, cache_dir: str, argv: list[str] = (), timeout: float = 900) -> dict:
    """Run ``code`` in a fresh interpreter with numba caching into ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)  # fmt: skip
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"child failed (exit {done.returncode}):\n{tail}")
    return json.loads(lines[-1])


def summarise(compiles: list[dict]) -> dict:
    """Count and seconds of compilations per jitted function (outermost ones timed)."""
    counts = Counter(c["fn"] for c in compiles)
    seconds: Counter = Counter()
    cpu: Counter = Counter()
    for c in compiles:
        if not c["nested"]:
            seconds[c["fn"]] += c["s"]
            cpu[c["fn"]] += c["cpu_s"]
    return {
        "specialisations": len(compiles),
        "outermost": sum(not c["nested"] for c in compiles),
        "compile_s": sum(seconds.values()),
        "compile_cpu_s": sum(cpu.values()),
        "per_function": {fn: {"count": n, "s": seconds[fn], "cpu_s": cpu[fn]}
                         for fn, n in counts.most_common()},
    }  # fmt: skip


def measure(args: argparse.Namespace) -> dict:
    out: dict = {}
    train_argv = ["train", "--model", args.train_model, "--limit", str(args.limit),
                  "--epochs", "1", "--device", "cpu"]  # fmt: skip
    for name, code, extra in (("leaky", LEAKY_CHILD, []), ("train", TRAIN_CHILD, train_argv)):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
            argv = [*extra, "--out", runs] if extra else []
            cold = run_child(code, cache, argv)
            # the second run writes over the first run's folder (the CLI refuses otherwise)
            warm = run_child(code, cache, [*argv, "--overwrite"] if extra else argv)
        out[name] = {"cold": cold, "warm": warm, "cold_compiles": summarise(cold["compiles"]),
                     "warm_compiles": summarise(warm["compiles"])}  # fmt: skip
    return out


def _both(res: dict, key: str) -> str:
    """Cold and warm wall seconds, with the cold run's CPU seconds (less sensitive to a
    shared machine's load than the wall clock)."""
    return (f"{res['cold'][key + '_s']:6.2f} s cold ({res['cold'][key + '_cpu_s']:.2f} s CPU), "
            f"{res['warm'][key + '_s']:6.2f} s warm cache")  # fmt: skip


def report(res: dict, args: argparse.Namespace) -> str:
    lk, tr = res["leaky"], res["train"]
    lines = [
        "first multi-step Leaky call ([25, 128, 1000], from process start):",
        f"  import torch + spikeforge   {lk['cold']['import_s']:6.2f} s",
        f"  first call done            {_both(lk, 'first_call')}",
        f"  first backward done        {_both(lk, 'first_backward')}",
        f"  second call (fwd + bwd)    {lk['cold']['second_call_fwd_bwd_s']:6.2f} s",
        f"spikeforge train --model {args.train_model} --limit {args.limit} (from process start):",
        f"  first batch done           {_both(tr, 'first_batch')}",
        f"  whole command              {_both(tr, 'command')}",
    ]
    for name in ("leaky", "train"):
        for when in ("cold", "warm"):
            s = res[name][f"{when}_compiles"]
            lines.append(
                f"{name} ({when} cache): {s['specialisations']} numba specialisations compiled "
                f"({s['outermost']} outermost), {s['compile_s']:.2f} s "
                f"({s['compile_cpu_s']:.2f} s CPU)"
            )
            if when == "cold":
                lines += [f"    {v['count']:3d}  {v['s']:6.2f} s  {v['cpu_s']:6.2f} s CPU  {fn}"
                          for fn, v in s["per_function"].items()]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-model", choices=("fc", "conv"), default="fc")
    p.add_argument("--limit", type=int, default=256, help="training images (default 256)")
    p.add_argument("--out", default=None, help="write the raw figures as JSON here")
    args = p.parse_args(argv)
    res = measure(args)
    if args.out:  # first, so a run whose report fails still leaves its figures
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {args.out}")
    print(report(res, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
