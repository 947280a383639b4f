"""The training loop: overfitting, exact resume, fine-tuning with a frozen head, the pose path, DDP."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cotracker.training.config import load_config
from cotracker.training.logging import read_jsonl
from cotracker.training.trainer import train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    # the test machine is shared; more threads than free cores make small models far slower
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny(out, *extra):
    return load_config("tiny", [f"trainer.out_dir={out}", "trainer.tensorboard=false", "trainer.log_every=1",
                                "data.seq_len=8", "data.traj_per_sample=16", *extra])


def _losses(out):
    return {r["step"]: r["loss"] for r in read_jsonl(Path(out) / "log.jsonl") if r["kind"] == "train"}


def test_tiny_overfits_one_batch(tmp_path):
    cfg = _tiny(tmp_path / "run", "trainer.num_steps=20", "trainer.checkpoint_every=100",
                "data.train.0.options={num_sequences: 1}", "loss.query_random_fraction=0", "optim.lr=2e-3",
                "optim.clip_grad_norm=1.0")
    res = train(cfg)
    losses = _losses(tmp_path / "run")
    assert res.step == 20 and sorted(losses) == list(range(1, 21))
    assert losses[20] < 0.5 * losses[1], losses
    assert (tmp_path / "run" / "model_final.safetensors").is_file()
    # the final weights load through the hub
    from cotracker.hub import build_cotracker

    model = build_cotracker(tmp_path / "run" / "model_final.safetensors")
    assert model.config.model_resolution == (64, 96)


def test_resume_gives_the_same_losses(tmp_path):
    extra = ["trainer.num_steps=6", "trainer.checkpoint_every=2", "trainer.keep_last=5", "optim.accumulate=2"]
    train(_tiny(tmp_path / "full", *extra))
    full = _losses(tmp_path / "full")
    # interrupted run: stops after step 5; pretend it crashed after the step-4 checkpoint
    part = _tiny(tmp_path / "part", *extra)
    res = train(part, stop_after=5)
    assert res.stopped_early and res.step == 5
    (tmp_path / "part" / "checkpoints" / "step_00000005.ckpt").unlink()
    assert max(_losses(tmp_path / "part")) == 5  # the log has records beyond the checkpoint...
    res = train(part)  # ...which the resumed run replaces
    assert res.step == 6 and not res.stopped_early
    resumed = _losses(tmp_path / "part")
    assert sorted(resumed) == list(range(1, 7))
    for step in range(1, 7):
        assert resumed[step] == pytest.approx(full[step], rel=1e-6, abs=1e-7), (step, resumed, full)
    kept = sorted(p.name for p in (tmp_path / "part" / "checkpoints").iterdir())
    assert kept == ["step_00000002.ckpt", "step_00000004.ckpt", "step_00000006.ckpt"]



def test_max_minutes_stops_with_a_checkpoint_and_the_same_command_resumes(tmp_path, capsys):
    """A wall-clock budget (for a machine lent for minutes): the run checkpoints the step it reached and stops; the
    same command (here the CLI) resumes to the end."""
    from cotracker.cli import main

    extra = ["trainer.num_steps=3", "trainer.checkpoint_every=100"]
    res = train(_tiny(tmp_path / "run", *extra, "trainer.max_minutes=1e-9"))  # spent after the first step
    assert res.stopped_early and res.step == 1
    assert res.final_checkpoint.name == "step_00000001.ckpt" and res.final_checkpoint.is_file()
    assert not (tmp_path / "run" / "model_final.safetensors").exists()
    assert sorted(_losses(tmp_path / "run")) == [1]
    argv = ["train", "--config", "tiny", f"trainer.out_dir={tmp_path / 'run'}", "trainer.tensorboard=false",
            "trainer.log_every=1", "data.seq_len=8", "data.traj_per_sample=16", *extra]
    assert main(argv + ["--max-minutes", "1e-9"]) == 0
    assert "stopped tiny at step 2 of 3 (trainer.max_minutes)" in capsys.readouterr().out
    assert main(argv) == 0  # no budget: runs to the end
    assert sorted(_losses(tmp_path / "run")) == [1, 2, 3]
    assert (tmp_path / "run" / "model_final.safetensors").is_file()
    with pytest.raises(ValueError, match="trainer.max_minutes must be >= 0"):
        _tiny(tmp_path / "bad", "trainer.max_minutes=-1")

def test_finetune_from_checkpoint_with_frozen_vis_head(tmp_path):
    train(_tiny(tmp_path / "base", "trainer.num_steps=1"))
    weights = tmp_path / "base" / "model_final.safetensors"
    from cotracker.hub import load_state_dict_file

    base_sd, _ = load_state_dict_file(weights)
    cfg = _tiny(tmp_path / "ft", "trainer.num_steps=2", f"model.init_checkpoint={weights}", "model.freeze_vis_head=true",
                "model.num_keypoints=17")
    train(cfg)
    sd, _ = load_state_dict_file(tmp_path / "ft" / "model_final.safetensors")
    assert "kp_emb" in sd and "kp_emb" not in base_sd
    assert torch.equal(sd["vis_predictor.0.weight"], base_sd["vis_predictor.0.weight"])
    assert not torch.equal(sd["fnet.conv1.weight"], base_sd["fnet.conv1.weight"])
    # Meta's layout (a flat state dict in a .pth) and our training checkpoints work as starting points too
    torch.save(base_sd, tmp_path / "flat.pth")
    train(_tiny(tmp_path / "ft_pth", "trainer.num_steps=1", f"model.init_checkpoint={tmp_path / 'flat.pth'}"))
    ckpt = sorted((tmp_path / "base" / "checkpoints").iterdir())[-1]
    train(_tiny(tmp_path / "ft2", "trainer.num_steps=1", f"model.init_checkpoint={ckpt}"))
    bad = _tiny(tmp_path / "bad", "trainer.num_steps=1", f"model.init_checkpoint={weights}", "model.overrides={window_len: 4}")
    with pytest.raises(ValueError, match="does not fit the configured model"):
        train(bad)


def test_finetune_at_another_model_resolution(tmp_path):
    # pos_emb is a fixed sin-cos table of the model resolution's grid: weights trained at 64x96 continue at
    # 128x192 (as the second pass runs them), every learned weight carried over unchanged
    from cotracker.hub import adapt_pos_emb, load_state_dict_file, save_checkpoint
    from cotracker.models.embeddings import sincos_2d_grid
    from cotracker.training.trainer import build_model

    base = build_model(_tiny(tmp_path / "base"))
    weights = tmp_path / "base.safetensors"
    save_checkpoint(base, weights)
    base_sd, _ = load_state_dict_file(weights)
    big = build_model(_tiny(tmp_path / "big", f"model.init_checkpoint={weights}", "data.crop_size=[128, 192]",
                            "model.overrides={model_resolution: [128, 192]}"))
    sd = big.state_dict()
    assert tuple(sd["pos_emb"].shape[2:]) == (32, 48) and tuple(base_sd["pos_emb"].shape[2:]) == (16, 24)
    assert torch.equal(sd["pos_emb"], sincos_2d_grid(sd["pos_emb"].shape[1], (32, 48)))
    assert all(torch.equal(sd[k], v) for k, v in base_sd.items() if k != "pos_emb")
    # a table that is not the sin-cos one (a learned or altered embedding) is not replaced: the strict load refuses
    altered = dict(base_sd, pos_emb=base_sd["pos_emb"] + 0.01)
    assert adapt_pos_emb(altered, sd)["pos_emb"] is altered["pos_emb"]
    altered_file = tmp_path / "altered.pth"
    torch.save(altered, altered_file)
    with pytest.raises(ValueError, match="does not fit the configured model.*pos_emb"):
        build_model(_tiny(tmp_path / "big2", f"model.init_checkpoint={altered_file}", "data.crop_size=[128, 192]",
                          "model.overrides={model_resolution: [128, 192]}"))


def test_pose_mixture_with_validation_and_bf16(tmp_path):
    out = tmp_path / "pose"
    cfg = load_config("tiny_pose", [f"trainer.out_dir={out}", "trainer.num_steps=2", "trainer.val_every=2",
                                    "trainer.video_every=2", "trainer.log_every=1", "data.train.0.weight=0",
                                    "trainer.precision=bf16-mixed", "data.val_samples=1", "data.seq_len=8"])
    train(cfg)
    records = read_jsonl(out / "log.jsonl")
    steps = [r for r in records if r["kind"] == "train"]
    assert all(r["loss_bone"] > 0 and r["loss_continuity"] > 0 and r["loss_occlusion_vis"] > 0 for r in steps)
    val = [r for r in records if r["kind"] == "val"][0]
    for key in ("people_val/average_jaccard", "people_val/occlusion_accuracy", "people_val/pck@0.2", "people_val/oks"):
        assert 0.0 <= val[key] <= 1.0
    assert any((out / "tensorboard").iterdir())


def _ddp_env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def test_two_process_ddp_keeps_replicas_identical(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "cotracker.cli",
           "train", "--config", "tiny", "--devices", "2", "--accelerator", "cpu", f"trainer.out_dir={out}",
           "trainer.num_steps=3", "trainer.log_every=1", "data.seq_len=8", "data.traj_per_sample=16",
           "trainer.tensorboard=false"]
    proc = subprocess.run(cmd, env=_ddp_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    end = [r for r in read_jsonl(out / "log.jsonl") if r["kind"] == "end"][0]
    assert end["world_size"] == 2 and end["finished"]
    assert end["replica_weight_spread"] == 0.0


def test_official_format_folders_mixture(tmp_path):
    """Kubric MOVi-F and PoseTrack18 folders (written by the data package) mixed 50/50, validation on both."""
    import numpy as np

    from cotracker.data.synthetic_people import PeopleConfig, generate_people, write_people_sequence

    root = tmp_path / "data"
    for i in range(2):
        clip = generate_people(PeopleConfig(size_hw=(64, 96), num_frames=10, max_people=2, surface_points_per_person=16,
                                            background_points=32), np.random.default_rng(i))
        write_people_sequence(root, f"vid{i}", clip, split="train", video_index=i)
    out = tmp_path / "run"
    cfg = load_config("kubric50_posetrack50_present", [
        "model.preset=tiny", "model.train_iters=1", "data.crop_size=[64, 96]", "data.seq_len=8",
        "data.traj_per_sample=16", "data.num_workers=0", "data.val_samples=1",
        f"data.train.0.root={root / 'kubric'}", f"data.train.1.root={root}",
        f"data.val.0.root={root / 'kubric'}", f"data.val.1.root={root}",
        "data.val.1.options={json_folder: posetrack_data/annotations/train}",
        f"trainer.out_dir={out}", "trainer.num_steps=2", "trainer.val_every=2", "trainer.log_every=1",
        "trainer.accelerator=cpu", "trainer.devices=1", "trainer.tensorboard=false", "trainer.video_every=0",
        "data.train.0.options={use_augs: false}",
    ])
    train(cfg)
    val = [r for r in read_jsonl(out / "log.jsonl") if r["kind"] == "val"][0]
    assert "kubric_val/average_jaccard" in val and "posetrack_val/pck@0.2" in val
    bad = load_config("kubric50_posetrack50_present", [f"data.train.1.root={root}", f"data.train.0.root={root / 'kubric'}",
                                                       "data.val=[]", "data.train.1.options={json_folder: nowhere}",
                                                       "model.preset=tiny", "data.crop_size=[64, 96]",
                                                       f"trainer.out_dir={tmp_path / 'bad'}", "trainer.accelerator=cpu"])
    with pytest.raises(FileNotFoundError, match="PoseTrack annotation folder .*nowhere does not exist"):
        train(bad, stop_after=0)
    assert not (tmp_path / "bad").exists()  # nothing written before the data is checked


def test_data_workers_run_one_thread_each():
    """The loader's workers set one torch thread (N workers x all cores would oversubscribe the machine)."""
    from cotracker.training.trainer import _make_loader, _one_thread_per_worker

    cfg = load_config("tiny")
    loader, _ = _make_loader(cfg, rank=0, start_micro=0)
    assert loader.worker_init_fn is _one_thread_per_worker
    before = torch.get_num_threads()
    try:
        _one_thread_per_worker(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bf16_on_a_cpu_without_native_bf16_is_flagged(monkeypatch, caplog):
    from cotracker.training import trainer as tr

    avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
    sapphire = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert tr.cpu_lacks_native_bf16(avx2)
    assert not tr.cpu_lacks_native_bf16(sapphire)
    assert not tr.cpu_lacks_native_bf16("no flag lines here")  # unknown: no claim
    assert tr.cpu_lacks_native_bf16("flags\t: avx512_bf16x avx2\n")  # a longer name is not the flag

    cfg = load_config("tiny", ["trainer.precision=bf16-mixed"])
    monkeypatch.setattr(tr, "cpu_lacks_native_bf16", lambda cpuinfo=None: True)
    with caplog.at_level("WARNING", logger="cotracker.training.trainer"):
        tr._warn_slow_precision(cfg, torch.device("cpu"))
    assert "32-true" in caplog.text and "bf16-mixed" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="cotracker.training.trainer"):
        tr._warn_slow_precision(load_config("tiny", ["trainer.precision=32-true"]), torch.device("cpu"))
        tr._warn_slow_precision(cfg, torch.device("meta"))  # not a CPU: nothing to say
    assert caplog.text == ""
