"""A run folder is written by one training at a time, never overwritten by accident, and
survives Ctrl-C, SIGTERM and SIGKILL at any moment; ``--resume`` keeps the saved plan and
continues exactly.

The lock and resume rules run in-process; real signals and two real processes run as
subprocesses of ``python -m spikeforge`` (the kill and race cases are marked slow).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli import train as train_module
from spikeforge.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE
from spikeforge.cli.rundir import LOCK_NAME, RunLock

from ._tiny import cli_process, epochs_saved, run_cli, strict_json, tiny_args


def one_line(text: str) -> str:
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# -- the lock ---------------------------------------------------------------------------------


def test_a_locked_folder_is_refused_with_the_holders_pid(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    stale = out / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half")
    with RunLock(out):
        assert main(tiny_args(tiny_root, out)) == EXIT_USAGE
        line = one_line(capsys.readouterr().err)
    assert f"--out {out} is being written by another `spikeforge train` (pid {os.getpid()})" in line
    assert stale.exists()  # the holder's temporaries are not touched
    assert not (out / "config.json").exists()
    assert main(tiny_args(tiny_root, out)) == 0  # released: trains, and cleans the temporary
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == [
        LOCK_NAME,
        "checkpoint.pt",
        "config.json",
        "metrics.json",
    ]


def test_a_lock_held_by_another_process_names_its_pid(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(out / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, str(os.getpid()).encode())\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(tiny_args(tiny_root, out)) == EXIT_USAGE
        assert f"(pid {holder.pid})" in one_line(capsys.readouterr().err)
    finally:
        holder.kill()
        holder.wait()
    assert main(tiny_args(tiny_root, out)) == 0  # the OS released the dead holder's lock


# -- never overwritten by accident; --overwrite -------------------------------------------------


def test_an_existing_run_needs_resume_or_overwrite(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_args(tiny_root, out)) == 0
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(tiny_args(tiny_root, out, "--seed", "5")) == EXIT_USAGE
    assert (
        f"--out {out} already holds a run; continue it with --resume, replace it with "
        "--overwrite, or choose another --out"
    ) in one_line(capsys.readouterr().err)
    assert (out / "checkpoint.pt").read_bytes() == before
    (out / "curves.png").write_bytes(b"old plot")
    (out / "mine.txt").write_text("not a run file")
    assert main(tiny_args(tiny_root, out, "--seed", "5", "--overwrite")) == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 5
    assert not (out / "curves.png").exists()  # the old run's plot went with it
    assert (out / "mine.txt").read_text() == "not a run file"
    assert main(tiny_args(tiny_root, out, "--resume", "--overwrite")) == EXIT_USAGE
    assert "give only one" in one_line(capsys.readouterr().err)


def test_a_start_that_saved_nothing_is_not_a_run(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")  # a start interrupted before its first epoch
    assert main(tiny_args(tiny_root, out, "--resume")) == EXIT_USAGE
    assert "has no checkpoint.pt to continue" in one_line(capsys.readouterr().err)
    assert main(tiny_args(tiny_root, out)) == 0


# -- --resume keeps the plan ----------------------------------------------------------------------


def _interrupt_at_epoch(monkeypatch, n: int) -> None:
    real = train_module.train_epoch
    seen = {"n": 0}

    def epoch(*args, **kwargs):
        seen["n"] += 1
        if seen["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_epoch", epoch)


def test_resume_keeps_the_saved_plan_and_refuses_a_different_one(
    tiny_root, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    _interrupt_at_epoch(monkeypatch, 2)
    assert main(tiny_args(tiny_root, out, "--epochs", "3", "--seed", "4")) == EXIT_INTERRUPTED
    monkeypatch.undo()
    capsys.readouterr()
    # Different options are refused with the saved and the given values.
    given = tiny_args(tiny_root, out, "--resume", "--hidden", "12", "--model", "conv")
    given[given.index("--lr") + 1] = "0.5"
    assert main(given) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert "these differ: --model conv (saved: fc), --lr 0.5 (saved: 0.002)" in line
    assert "--hidden 12 (saved: 8)" in line
    with pytest.raises(SystemExit):  # argparse: --epochs must be positive
        main(tiny_args(tiny_root, out, "--resume", "--epochs", "0"))
    capsys.readouterr()
    # Repeating a saved value is fine; without --epochs the saved 3 epochs are the plan.
    assert main(tiny_args(tiny_root, out, "--resume", "--seed", "4")) == 0
    metrics = strict_json(out / "metrics.json")
    assert [e["epoch"] for e in metrics["history"]] == [1, 2, 3]
    config = json.loads((out / "config.json").read_text())
    assert (config["epochs"], config["seed"], config["lr"]) == (3, 4, 0.002)
    # --epochs extends the plan, but never below what is done.
    assert main(tiny_args(tiny_root, out, "--resume", "--epochs", "2")) == EXIT_USAGE
    assert "has already trained 3 epochs; give --epochs 3 or more" in one_line(
        capsys.readouterr().err
    )
    assert main(tiny_args(tiny_root, out, "--resume", "--epochs", "4")) == 0
    assert epochs_saved(out) == 4


def test_an_interrupted_and_resumed_run_equals_an_uninterrupted_one(
    tiny_root, tmp_path, monkeypatch
):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    extra = ("--epochs", "3", "--schedule", "onecycle", "--encoding", "rate")
    assert main(tiny_args(tiny_root, whole, *extra)) == 0
    _interrupt_at_epoch(monkeypatch, 2)
    assert main(tiny_args(tiny_root, parts, *extra)) == EXIT_INTERRUPTED
    monkeypatch.undo()
    assert main(tiny_args(tiny_root, parts, "--resume")) == 0
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(parts / "checkpoint.pt", weights_only=True)
    assert a["batch_loss"] == b["batch_loss"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


# -- real processes: Ctrl-C, SIGTERM, SIGKILL, two writers, a full disk ----------------------------


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.05)


def _long_run(tiny_root: Path, out: Path, *extra: str) -> list[str]:
    return tiny_args(tiny_root, out, "--epochs", "400", "--batch-size", "8", *extra)


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)],
)
def test_a_signal_after_the_first_checkpoint_ends_in_one_line(tiny_root, tmp_path, sig, code):
    out = tmp_path / "run"
    proc = cli_process(_long_run(tiny_root, out))
    _wait_for(lambda: (out / "checkpoint.pt").exists(), proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code
    line = one_line(err)
    epoch = epochs_saved(out)
    assert line == (
        f"spikeforge train: interrupted; last checkpoint (epoch {epoch}) in {out}; "
        f"continue with `spikeforge train --resume --out {out}`"
    )
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["loading", "first epoch", "saving", "later epoch"])
def test_sigkill_at_any_moment_leaves_a_folder_that_resumes(tiny_root, tmp_path, moment):
    out = tmp_path / "run"
    proc = cli_process(_long_run(tiny_root, out))
    ready = {
        "loading": lambda: (out / LOCK_NAME).exists(),
        "first epoch": lambda: (out / "config.json").exists(),
        "saving": lambda: bool(list(out.glob(".checkpoint.pt.*.tmp"))),
        "later epoch": lambda: (out / "checkpoint.pt").exists() and epochs_saved(out) >= 2,
    }[moment]
    _wait_for(ready, proc)
    proc.kill()
    proc.communicate()
    if (out / "checkpoint.pt").exists():
        done = epochs_saved(out)  # whole and readable, whatever the moment
        config = json.loads((out / "config.json").read_text())
        state = torch.load(out / "checkpoint.pt", weights_only=True)
        assert state["config"]["hidden"] == config["hidden"] == 8
        resume = ("--resume", "--epochs", str(done + 1), "--batch-size", "8")
        result = run_cli(tiny_args(tiny_root, out, *resume))
    else:
        result = run_cli(tiny_args(tiny_root, out, "--epochs", "1"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.glob(".*.tmp"))  # a killed save's temporary is gone
    assert run_cli(["evaluate", str(out), "--device", "cpu"]).returncode == 0


@pytest.mark.slow
def test_two_trainings_into_one_folder_leave_one_consistent_run(tiny_root, tmp_path):
    out = tmp_path / "run"
    first = cli_process(tiny_args(tiny_root, out, "--epochs", "40", "--batch-size", "8"))
    second = cli_process(tiny_args(tiny_root, out, "--epochs", "40", "--seed", "3"))
    results = [(*p.communicate(timeout=600), p.returncode) for p in (first, second)]
    codes = sorted(code for _, _, code in results)
    assert codes == [0, EXIT_USAGE], results
    refused = next(err for _, err, code in results if code == EXIT_USAGE)
    assert "is being written by another `spikeforge train` (pid" in one_line(refused) or (
        "already holds a run" in one_line(refused)
    )
    # One run's config beside the same run's checkpoint, and evaluate works.
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["config"] == json.loads((out / "config.json").read_text())
    assert run_cli(["evaluate", str(out), "--device", "cpu"]).returncode == 0
    # Started mid-run, a second writer is refused and changes nothing.
    third = cli_process(_long_run(tiny_root, tmp_path / "busy"))
    _wait_for(lambda: (tmp_path / "busy" / "config.json").exists(), third)
    late = run_cli(tiny_args(tiny_root, tmp_path / "busy", "--overwrite"))
    third.kill()
    third.communicate()
    assert late.returncode == EXIT_USAGE
    assert f"(pid {third.pid})" in one_line(late.stderr)


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.mark.slow
def test_a_file_size_limit_while_saving_is_one_line_and_keeps_nothing_half_written(
    tiny_root, tmp_path
):
    # RLIMIT_FSIZE makes the kernel refuse the checkpoint's bytes (EFBIG), as a full disk
    # refuses them (ENOSPC): a real failing write, without privileges.
    out = tmp_path / "run"
    result = run_cli(tiny_args(tiny_root, out), preexec_fn=_limit_file_size)
    assert result.returncode == EXIT_USAGE
    line = one_line(result.stderr)
    assert f"could not write {out / 'checkpoint.pt'} (File too large)" in line
    assert not (out / "checkpoint.pt").exists()
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_a_diverging_data_parallel_run_is_one_line_from_the_replicas(tiny_root, tmp_path):
    out = tmp_path / "ddp"
    args = tiny_args(tiny_root, out, "--nproc", "2", "--batch-size", "8")
    args[args.index("--lr") + 1] = "1e37"
    result = run_cli(args)
    assert result.returncode == 3
    line = one_line(result.stderr)
    assert line.startswith("spikeforge train: error: training diverged: the loss became")
    assert not (out / "checkpoint.pt").exists()


def test_a_seed_reproduces_a_run_and_another_seed_does_not(tiny_root, tmp_path):
    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert main(tiny_args(tiny_root, tmp_path / name, "--seed", seed)) == 0
        runs[name] = torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)
    weight = "synapses.0.1.weight"
    assert torch.equal(runs["a"]["model"][weight], runs["b"]["model"][weight])
    assert runs["a"]["batch_loss"] == runs["b"]["batch_loss"]
    assert not torch.equal(runs["a"]["model"][weight], runs["c"]["model"][weight])
