# SPDX-License-Identifier: Apache-2.0
"""scripts/device_train.sh, dry-run on the CPU: it trains, shards the newest checkpoint into $OUT, and the parts
join back into the very same file."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cotracker.io.shards import join_shards

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "device_train.sh"


def _run(out, run_dir, *extra, env_out=True, env=None):
    env = dict(os.environ, ACCEL="cpu", PYTHON=sys.executable, OMP_NUM_THREADS="1", **(env or {}))
    if env_out:
        env["OUT"] = str(out)
    else:
        env.pop("OUT", None)
    args = ["bash", str(SCRIPT), "tiny", f"trainer.out_dir={run_dir}", "data.seq_len=8", "data.traj_per_sample=16",
            "trainer.tensorboard=false", *extra]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dry_run_on_the_cpu(tmp_path):
    out, run_dir = tmp_path / "out", tmp_path / "run"
    out.mkdir()
    res = _run(out, run_dir, "trainer.num_steps=3", "trainer.checkpoint_every=2")
    assert res.returncode == 0, res.stderr + res.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["log.jsonl", "step_00000003.ckpt.part000", "step_00000003.ckpt.shards.json", "train.log"]
    assert "trained tiny to step 3" in (out / "train.log").read_text()
    joined = join_shards(out / "step_00000003.ckpt.shards.json", tmp_path / "back.ckpt")
    assert joined.read_bytes() == (run_dir / "checkpoints" / "step_00000003.ckpt").read_bytes()
    assert len(out.joinpath("step_00000003.ckpt.part000").read_bytes()) <= 15 * 2**20


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_without_out_it_says_what_to_set(tmp_path):
    res = _run(tmp_path, tmp_path / "run", env_out=False)
    assert res.returncode != 0 and "set OUT" in res.stderr
    res = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=dict(os.environ, OUT=str(tmp_path)))
    assert res.returncode == 2 and "usage:" in res.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_fit_seconds_probes_then_sets_the_steps(tmp_path):
    out, run_dir = tmp_path / "out", tmp_path / "run"
    out.mkdir()
    env = {"FIT_SECONDS": "45", "START_SECONDS": "25", "PROBE_STEPS": "9"}  # a few seconds for the real run
    res = _run(out, run_dir, "trainer.num_steps=1000", env=env)
    assert res.returncode == 0, res.stderr + res.stdout
    probe = (out / "probe.log").read_text()
    assert "trained tiny to step 9" in probe
    line = [ln for ln in probe.splitlines() if ln.startswith("FIT_SECONDS=45")][0]
    steps = int(line.split("trainer.num_steps=")[1].split()[0])
    assert 1 <= steps < 1000  # the probe's count replaced the config's
    assert f"trained tiny to step {steps}" in (out / "train.log").read_text()
    assert not (tmp_path / "run.probe").exists()
