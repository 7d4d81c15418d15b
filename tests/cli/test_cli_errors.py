"""Every user or environment failure of ``spikeforge train`` / ``evaluate`` ends in one line
naming the problem and an exit code; a traceback only for a bug and only with ``--debug``.

In-process (``main(argv)``) on a tiny IDX dataset; the real signals and concurrent processes
are in ``test_run_folder.py``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli import train as train_module
from spikeforge.cli.errors import EXIT_BUG, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_USAGE
from spikeforge.cli.runfiles import write_json

from ._tiny import epochs_saved, strict_json, tiny_args


def one_line(text: str) -> str:
    """The error output must be exactly one line, without a traceback."""
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(scope="module")
def done_run(tiny_root, tmp_path_factory):
    """A finished one-epoch tiny run (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("done") / "run"
    assert main(tiny_args(tiny_root, out)) == 0
    return out


@pytest.fixture
def run_copy(done_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(done_run, copy)
    return copy


@pytest.fixture
def no_data_load(monkeypatch):
    """Fail the test if the command reaches the data (its checks must come first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the data loaded before the failing check")

    monkeypatch.setattr(train_module, "load_split", refuse)


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--lr", "inf"], "argument --lr: expected a finite positive number, got inf"),
        (["train", "--lr", "nan"], "argument --lr: expected a finite positive number, got nan"),
        (["train", "--beta", "nan"], "argument --beta"),
        (["evaluate", "runs/x", "--batch-size", "0"], "--batch-size: expected a positive"),
        (["evaluate", "runs/x", "--batch-size", "-1"], "--batch-size: expected a positive"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("device", "needle"),
    [
        ("mps", "--device mps: Apple's MPS is not available here; use --device cpu"),
        ("tpu", "--device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
        ("meta", "--device meta: spikeforge train runs on cpu, cuda or cuda:N"),
    ],
)
def test_an_unusable_device_is_one_line_before_anything_is_written(
    device, needle, tiny_root, tmp_path, capsys, no_data_load
):
    if (
        device == "mps"
        and getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        pytest.skip("this machine has MPS")
    out = tmp_path / "run"
    argv = [a for a in tiny_args(tiny_root, out) if a != "cpu"]
    argv[argv.index("--device") + 1 :] = [device, *argv[argv.index("--device") + 1 :]]
    assert main(argv) == EXIT_USAGE
    assert needle in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_out_that_is_a_file_or_under_a_file_is_refused_before_the_data(
    tiny_root, tmp_path, capsys, no_data_load
):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    assert main(tiny_args(tiny_root, afile)) == EXIT_USAGE
    assert f"--out {afile}: it is a file, not a folder" in one_line(capsys.readouterr().err)
    assert main(tiny_args(tiny_root, afile / "run")) == EXIT_USAGE
    assert f"{afile} is a file, not a folder" in one_line(capsys.readouterr().err)
    assert afile.read_text() == "mine"


def test_out_in_a_read_only_folder_is_refused_before_the_data(
    tiny_root, tmp_path, capsys, no_data_load
):
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        reason = "Permission denied"
    elif Path("/sys/kernel").is_dir():  # root writes anywhere but in sysfs
        locked, reason = Path("/sys"), "Operation not permitted"
    else:
        pytest.skip("running as root without /sys: no folder refuses a write")
    try:
        assert main(tiny_args(tiny_root, locked / "spikeforge-run")) == EXIT_USAGE
        line = one_line(capsys.readouterr().err)
        assert f"--out {locked / 'spikeforge-run'}: cannot create it ({reason})" in line
    finally:
        if locked != Path("/sys"):
            locked.chmod(0o700)


def test_demo_replaces_its_own_run(tiny_root, tmp_path):
    out = tmp_path / "demo"
    argv = ["demo", *tiny_args(tiny_root, out)[1:]]
    assert main(argv) == 0
    assert main(argv) == 0  # `make demo` twice
    assert main(["train", *argv[1:]]) == EXIT_USAGE  # train does not replace it


# -- damaged, foreign and malicious checkpoints -------------------------------------------------


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _a_tensor(path: Path) -> None:
    torch.save(torch.ones(3), path)


def _another_programs_dict(path: Path) -> None:
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, path)


def _malicious(path: Path) -> None:
    torch.save({"model": _RunsCode()}, path)


def _a_zip_of_text(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a checkpoint")


def _damaged_entry(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["generator"] = "not a tensor"
    torch.save(state, path)


DAMAGE = {
    "empty": (_zero, "is empty (0 bytes): it was truncated"),
    "truncated": (_truncated, "is damaged or truncated"),
    "random": (_random, "checkpoint"),
    "a tensor": (_a_tensor, "is not a `spikeforge train` checkpoint: it holds a Tensor"),
    "foreign dict": (_another_programs_dict, "config (it holds epoch, state_dict)"),
    "malicious": (_malicious, "so it was not loaded (unpickling them could run code)"),
    "zip of text": (_a_zip_of_text, "checkpoint"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_damaged_foreign_or_malicious_checkpoint_is_one_clear_line(
    case, command, run_copy, tiny_root, capsys, monkeypatch
):
    monkeypatch.chdir(run_copy)  # where the malicious pickle would `touch PWNED`
    damage, needle = DAMAGE[case]
    checkpoint = run_copy / "checkpoint.pt"
    damage(checkpoint)
    if command == "evaluate":
        argv = ["evaluate", str(run_copy), "--device", "cpu"]
    else:
        argv = tiny_args(tiny_root, run_copy, "--resume", "--epochs", "2")
    assert main(argv) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert str(checkpoint) in line and needle in line
    assert not (run_copy / "PWNED").exists()


def test_a_checkpoint_entry_of_the_wrong_kind_is_named(run_copy, tiny_root, capsys):
    _damaged_entry(run_copy / "checkpoint.pt")
    assert main(tiny_args(tiny_root, run_copy, "--resume", "--epochs", "2")) == EXIT_USAGE
    assert "is damaged: its 'generator' is a str, not a Tensor" in one_line(capsys.readouterr().err)


def test_a_config_of_another_model_is_refused(run_copy, tiny_root, capsys):
    # config.json rewritten by another run (conv) beside this fc run's checkpoint.
    config = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**config, "model": "conv"}))
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert "mixes files of two runs: model 'fc' in checkpoint.pt but 'conv' in config.json" in line


@pytest.mark.slow  # trains a conv net: its cold numba compile takes a minute
def test_a_checkpoint_of_another_run_is_refused(run_copy, tiny_root, tmp_path, capsys):
    # A conv run's checkpoint dropped into an fc run folder: the folder mixes two runs.
    conv = tmp_path / "conv"
    args = tiny_args(tiny_root, conv, "--model", "conv", "--limit", "32")
    assert main(args) == 0
    shutil.copy(conv / "checkpoint.pt", run_copy / "checkpoint.pt")
    capsys.readouterr()
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert "mixes files of two runs: model 'conv' in checkpoint.pt but 'fc' in config.json" in line
    assert main(tiny_args(tiny_root, run_copy, "--resume", "--epochs", "2")) == EXIT_USAGE
    assert "mixes files of two runs" in one_line(capsys.readouterr().err)
    assert json.loads((run_copy / "config.json").read_text())["model"] == "fc"  # not rewritten


def test_a_checkpoint_whose_tensors_do_not_fit_the_config_is_refused(run_copy, capsys):
    path = run_copy / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["model"]["synapses.0.1.weight"] = torch.zeros(5, 784)
    torch.save(state, path)
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == EXIT_USAGE
    assert "synapses.0.1.weight is (5, 784) in the checkpoint but (8, 784) in the network" in (
        one_line(capsys.readouterr().err)
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"model": "fc", ', "config.json is not valid JSON (Expecting"),
        ("[1, 2]", "config.json holds a JSON list, not an object"),
        ('{"hidden": "many"}', "config.json: 'hidden' must be a positive integer, got 'many'"),
        ('{"model": "mlp"}', "config.json: 'model' must be one of fc, conv"),
    ],
)
def test_a_damaged_config_json_is_named(text, needle, run_copy, capsys):
    (run_copy / "config.json").write_text(text)
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == EXIT_USAGE
    assert needle in one_line(capsys.readouterr().err)


def test_evaluate_of_a_file_or_an_empty_folder_is_one_line(tmp_path, capsys):
    afile = tmp_path / "x.pt"
    afile.write_bytes(b"")
    assert main(["evaluate", str(afile)]) == EXIT_USAGE
    assert "is not a folder" in one_line(capsys.readouterr().err)
    assert main(["evaluate", str(tmp_path)]) == EXIT_USAGE
    assert "has no config.json" in one_line(capsys.readouterr().err)


# -- non-finite losses and strict JSON ----------------------------------------------------------


def test_a_diverging_run_stops_naming_the_batch_and_the_learning_rate(tiny_root, tmp_path, capsys):
    out = tmp_path / "run"
    argv = tiny_args(tiny_root, out)
    argv[argv.index("--lr") + 1] = "1e37"
    assert main(argv) == EXIT_DIVERGED
    line = one_line(capsys.readouterr().err)
    assert "training diverged: the loss became" in line
    assert "at epoch 1, batch " in line and "(learning rate 1e+37)" in line
    assert "no checkpoint was saved" in line
    assert not (out / "checkpoint.pt").exists() and not (out / "metrics.json").exists()


def test_nan_in_a_later_epoch_keeps_the_last_good_checkpoint(
    tiny_root, tmp_path, monkeypatch, capsys
):
    real = train_module.make_loss
    calls = {"n": 0}

    def loss_turning_nan(config):
        fn = real(config)

        def wrapped(record, labels):
            value = fn(record, labels)
            if torch.is_grad_enabled():
                calls["n"] += 1
                if calls["n"] == 5:  # epoch 2 (3 batches an epoch), its second batch
                    return value * float("nan")
            return value

        return wrapped

    monkeypatch.setattr(train_module, "make_loss", loss_turning_nan)
    out = tmp_path / "run"
    assert main(tiny_args(tiny_root, out, "--epochs", "3")) == EXIT_DIVERGED
    line = one_line(capsys.readouterr().err)
    assert "the loss became nan at epoch 2, batch 2 (learning rate 0.002)" in line
    assert f"the checkpoint of epoch 1 stays in {out}" in line
    assert epochs_saved(out) == 1
    assert strict_json(out / "metrics.json")["epochs"] == 1
    assert torch.load(out / "checkpoint.pt", weights_only=True)["model"]  # loads


def test_metrics_json_is_strict_with_null_for_non_finite_numbers(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"loss": float("nan"), "rates": [1.0, float("inf")], "deep": {"x": -1e999}})
    assert strict_json(path) == {"loss": None, "rates": [1.0, None], "deep": {"x": None}}


# -- disk full, interrupts, bugs ------------------------------------------------------------------


def test_disk_full_while_saving_keeps_the_previous_checkpoint(
    tiny_root, tmp_path, monkeypatch, capsys
):
    from spikeforge.cli import runfiles

    real_save = torch.save
    saves = {"n": 0}

    def save_then_fill_the_disk(obj, handle):
        saves["n"] += 1
        if saves["n"] < 2:
            return real_save(obj, handle)
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runfiles.torch, "save", save_then_fill_the_disk)
    out = tmp_path / "run"
    assert main(tiny_args(tiny_root, out, "--epochs", "3")) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert f"could not write {out / 'checkpoint.pt'} (No space left on device)" in line
    assert "the checkpoint of epoch 1 is kept" in line and "--resume" in line
    monkeypatch.undo()
    assert epochs_saved(out) == 1
    assert not list(out.glob(".*.tmp"))
    assert main(tiny_args(tiny_root, out, "--resume")) == 0  # continues to the planned 3
    assert epochs_saved(out) == 3


def test_ctrl_c_names_the_last_checkpoint_and_resume_continues(
    tiny_root, tmp_path, monkeypatch, capsys
):
    real_epoch = train_module.train_epoch
    epochs = {"n": 0}

    def interrupted_in_epoch_2(*args, **kwargs):
        epochs["n"] += 1
        if epochs["n"] == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_epoch", interrupted_in_epoch_2)
    out = tmp_path / "run"
    assert main(tiny_args(tiny_root, out, "--epochs", "3")) == EXIT_INTERRUPTED
    line = one_line(capsys.readouterr().err)
    assert line == (
        f"spikeforge train: interrupted; last checkpoint (epoch 1) in {out}; "
        f"continue with `spikeforge train --resume --out {out}`"
    )
    monkeypatch.undo()
    assert main(tiny_args(tiny_root, out, "--resume")) == 0
    assert strict_json(out / "metrics.json")["epochs"] == 3


def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_saved(
    tiny_root, tmp_path, monkeypatch, capsys
):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "load_split", interrupt)
    out = tmp_path / "run"
    assert main(tiny_args(tiny_root, out)) == EXIT_INTERRUPTED
    assert f"interrupted; no checkpoint was saved in {out}" in one_line(capsys.readouterr().err)


def test_a_bug_is_one_line_and_its_traceback_needs_debug(tiny_root, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(train_module, "evaluate_model", broken)
    monkeypatch.delenv("SPIKEFORGE_DEBUG", raising=False)
    assert main(tiny_args(tiny_root, tmp_path / "a")) == EXIT_BUG
    line = one_line(capsys.readouterr().err)
    assert "internal error: ZeroDivisionError: a bug" in line and "--debug" in line
    assert main(tiny_args(tiny_root, tmp_path / "b", "--debug")) == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("SPIKEFORGE_DEBUG", "1")
    assert main(tiny_args(tiny_root, tmp_path / "c")) == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def test_file_permissions_follow_the_umask(tiny_root, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "run"
        assert main(tiny_args(tiny_root, out)) == 0
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.json", "checkpoint.pt"):
        assert (out / name).stat().st_mode & 0o777 == 0o640, name
