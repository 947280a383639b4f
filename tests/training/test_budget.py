# SPDX-License-Identifier: Apache-2.0
"""cotracker.training.budget: the step count that fits a wall-clock budget, from a probe's log."""
import json

import pytest

from cotracker.training.budget import main, probe_sec_per_step, steps_for_budget


def _records():
    return [
        {"step": 0, "kind": "start"},
        {"step": 8, "kind": "train", "sec_per_step": 5.0},  # the start: workers filling their first batches
        {"step": 16, "kind": "train", "sec_per_step": 0.5},
        {"step": 20, "kind": "train", "sec_per_step": 1.1},
        {"step": 20, "kind": "end"},
    ]


def test_probe_leaves_out_the_start_and_weights_by_steps():
    # steps 9-16 at 0.5 s, 17-20 at 1.1 s: (8 * 0.5 + 4 * 1.1) / 12
    assert probe_sec_per_step(_records()) == pytest.approx((4.0 + 4.4) / 12)
    assert probe_sec_per_step(_records(), skip=0) == pytest.approx((40.0 + 4.0 + 4.4) / 20)


def test_steps_for_budget_numbers_and_errors():
    assert steps_for_budget(0.5, 100.0, margin=1.0) == 200
    assert steps_for_budget(0.5, 100.0) == 170
    assert steps_for_budget(10.0, 1.0) == 1  # at least one step
    with pytest.raises(ValueError, match="no time left"):
        steps_for_budget(0.5, -3.0)
    with pytest.raises(ValueError, match="margin"):
        steps_for_budget(0.5, 100.0, margin=0.0)
    with pytest.raises(ValueError, match="skip must be"):
        probe_sec_per_step(_records(), skip=-1)
    with pytest.raises(ValueError, match="need more than 1"):
        probe_sec_per_step(_records()[:2])


def test_cli_prints_the_steps(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    assert main([str(log), "--seconds", "75", "--margin", "1"]) == 0
    assert capsys.readouterr().out.strip() == "107"  # 75 s at 0.7 s per step
    assert main([str(tmp_path / "missing.jsonl"), "--seconds", "70"]) == 2
    assert "no such log" in capsys.readouterr().err
