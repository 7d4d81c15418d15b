"""Learning-rate schedules of ``spikeforge train`` and the per-model presets that pick them."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from spikeforge.cli import build_parser
from spikeforge.cli.options import PRESETS, config_from_args
from spikeforge.cli.schedule import SCHEDULES, lr_factor, make_scheduler


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        ("constant", 0, 1.0),
        ("constant", 99, 1.0),
        # cosine: (1 + cos(π k/100)) / 2
        ("cosine", 0, 1.0),
        ("cosine", 25, (1 + math.sqrt(0.5)) / 2),  # 0.853553
        ("cosine", 50, 0.5),
        ("cosine", 100, 0.0),
        # onecycle, warm-up over k < 25: 0.04 + 0.96 · k / 25
        ("onecycle", 0, 0.04),
        ("onecycle", 10, 0.424),
        ("onecycle", 25, 1.0),
        # then (1 + cos(π (k − 25) / 75)) / 2
        ("onecycle", 55, (1 + math.cos(0.4 * math.pi)) / 2),  # 0.654508
        ("onecycle", 62, (1 + math.cos(math.pi * 37 / 75)) / 2),
        ("onecycle", 100, 0.0),
        ("onecycle", 150, 0.0),  # past the end it stays at 0
    ],
)
def test_lr_factor_matches_the_hand_computed_values(schedule, step, expected):
    assert lr_factor(schedule, step, 100) == pytest.approx(expected, abs=1e-12)


def test_onecycle_values_worked_out_by_hand():
    assert lr_factor("onecycle", 55, 100) == pytest.approx(0.654508, abs=1e-6)
    assert lr_factor("cosine", 25, 100) == pytest.approx(0.853553, abs=1e-6)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_scheduler_sets_the_optimizers_lr_batch_by_batch(schedule):
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.Adam([weight], lr=5e-3)
    scheduler = make_scheduler(optimizer, schedule, total=8)
    assert (scheduler is None) == (schedule == "constant")
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        weight.sum().backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert seen == pytest.approx([5e-3 * lr_factor(schedule, k, 8) for k in range(8)])
    if schedule == "onecycle":  # warm-up over batches 0, 1 (8 / 4 = 2), peak at batch 2
        assert seen[:3] == pytest.approx([2e-4, 2e-4 + 4.8e-3 / 2, 5e-3])


def test_unknown_schedule_names_the_valid_ones():
    with pytest.raises(ValueError, match="constant, cosine, onecycle; got 'step'"):
        lr_factor("step", 0, 10)
    with pytest.raises(ValueError, match="positive number of batches, got 0"):
        make_scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), "cosine", 0)


def test_bad_schedule_on_the_command_line_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--schedule", "step"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'step'" in err and "'constant', 'cosine', 'onecycle'" in err


def _config(*argv: str):
    args = build_parser().parse_args(["train", *argv])
    assert isinstance(args, argparse.Namespace)
    return config_from_args(args)


def test_fc_defaults_stay_tutorial_5():
    config = _config()
    assert (config.lr, config.schedule, config.batch_size) == (5e-4, "constant", 128)


def test_conv_defaults_come_from_its_preset_and_flags_override_them():
    conv = PRESETS["conv"]
    config = _config("--model", "conv")
    assert config.schedule in SCHEDULES
    assert (config.lr, config.schedule, config.batch_size) == (
        conv["lr"],
        conv["schedule"],
        conv["batch_size"],
    )
    config = _config(
        "--model", "conv", "--schedule", "cosine", "--batch-size", "32", "--lr", "1e-3"
    )
    assert (config.lr, config.schedule, config.batch_size) == (1e-3, "cosine", 32)
