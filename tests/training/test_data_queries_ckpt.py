"""Query sampling, sample fitting, mixture sampling and checkpoint files."""
import random

import numpy as np
import pytest
import torch

from cotracker.training.checkpointing import (
    capture_rng_state,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_training_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint_atomic,
    CHECKPOINT_FORMAT,
)
from cotracker.training.data import MixtureBatchSampler, SourceMixture, fit_sample, source_counts
from cotracker.training.queries import sample_training_queries
from cotracker.types import CoTrackerData


def _tracks(T, N):
    t = torch.arange(T, dtype=torch.float32)[:, None, None]
    n = torch.arange(N, dtype=torch.float32)[None, :, None]
    return torch.cat([t * 10 + n.expand(T, N, 1), t.expand(T, N, 1) + 100 * n], -1)  # (T, N, 2) unique per (t, n)


def test_queries_first_visible_and_random_quarter():
    T, N = 6, 8
    traj = _tracks(T, N)[None]
    vis = torch.zeros(1, T, N, dtype=torch.bool)
    first = [0, 1, 2, 3, 4, 5, 0, 2]
    for n, f in enumerate(first):
        vis[0, f:, n] = True
    vis[0, 3, 0] = False  # a gap
    q = sample_training_queries(traj, vis, random_fraction=0.0)
    assert q[0, :, 0].tolist() == first
    assert torch.equal(q[0, :, 1:], traj[0, q[0, :, 0].long(), torch.arange(N)])
    # with the official quarter: tracks 0, 1 get a random visible frame, the rest the first one
    seen = set()
    for s in range(40):
        q = sample_training_queries(traj, vis, random_fraction=0.25, generator=torch.Generator().manual_seed(s))
        assert q[0, 2:, 0].tolist() == first[2:]
        t0 = int(q[0, 0, 0])
        assert vis[0, t0, 0]
        seen.add(t0)
        assert torch.equal(q[0, 0, 1:], traj[0, t0, 0])
    assert seen == {0, 1, 2, 4, 5}  # every visible frame of track 0 and never the hidden frame 3


def test_queries_respect_valid_and_shape_errors():
    traj = _tracks(4, 2)[None]
    vis = torch.ones(1, 4, 2, dtype=torch.bool)
    valid = torch.ones(1, 4, 2, dtype=torch.bool)
    valid[0, :2, 1] = False
    q = sample_training_queries(traj, vis, valid, random_fraction=0.0)
    assert q[0, :, 0].tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"trajectory must be \(B, T, N, 2\)"):
        sample_training_queries(traj[0], vis)


def _sample(T, N, kp=None):
    return CoTrackerData(video=torch.rand(T, 3, 8, 8) * 255, trajectory=_tracks(T, N),
                         visibility=torch.ones(T, N, dtype=torch.bool), valid=torch.ones(T, N, dtype=torch.bool),
                         keypoint_ids=kp, person_ids=None)


def test_fit_sample_pads_and_subsamples():
    s = _sample(5, 3, kp=torch.tensor([0, 1, 2]))
    s.visibility[:, 1] = False  # never visible: dropped
    out = fit_sample(s, seq_len=7, num_tracks=4)
    assert out.video.shape == (7, 3, 8, 8) and out.trajectory.shape == (7, 4, 2)
    assert torch.equal(out.video[5], s.video[4]) and torch.equal(out.video[6], s.video[4])
    assert out.valid[:5, :2].all() and not out.valid[5:].any() and not out.valid[:, 2:].any()
    assert out.keypoint_ids.tolist() == [0, 2, -1, -1] and out.person_ids.tolist() == [-1, -1, -1, -1]
    assert torch.equal(out.trajectory[:5, 1], s.trajectory[:, 2])
    cut = fit_sample(_sample(9, 10), seq_len=4, num_tracks=6, generator=torch.Generator().manual_seed(0))
    assert cut.trajectory.shape == (4, 6, 2) and cut.valid.all()


class _Const(torch.utils.data.Dataset):
    def __init__(self, n, kp):
        self.n, self.kp = n, kp

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return _sample(4, 3, kp=torch.tensor([5, 6, 7]) if self.kp else None)


def test_mixture_proportions_and_keypoint_tagging():
    sampler = MixtureBatchSampler([10, 3], [0.75, 0.25], batch_size=2, seed=0)
    counts = source_counts(sampler, 2000)
    frac = counts[1] / sum(counts)
    assert abs(frac - 0.25) < 0.025  # 4000 draws: std ~0.007
    # deterministic per (seed, rank, k); ranks differ
    assert sampler.batch(17) == MixtureBatchSampler([10, 3], [0.75, 0.25], 2, seed=0).batch(17)
    other = MixtureBatchSampler([10, 3], [0.75, 0.25], 2, seed=0, rank=1)
    assert [sampler.batch(k) for k in range(20)] != [other.batch(k) for k in range(20)]
    # resuming at k continues the same stream
    it = iter(MixtureBatchSampler([10, 3], [0.75, 0.25], 2, seed=0, start=5))
    assert next(it) == sampler.batch(5)
    # keypoint ids survive only for sources that enable them
    mix = SourceMixture([_Const(2, True), _Const(2, True)], ["kubric", "people"], [False, True])
    assert mix[(0, 1)].keypoint_ids.tolist() == [-1, -1, -1] and mix[(0, 1)].extra["source"] == "kubric"
    assert mix[(1, 0)].keypoint_ids.tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="weights must be >= 0"):
        MixtureBatchSampler([1, 1], [0, 0], 1, 0)


def test_checkpoint_files(tmp_path):
    folder = tmp_path / "ckpt"
    for step in (5, 10, 15, 20):
        save_checkpoint_atomic({"format": CHECKPOINT_FORMAT, "step": step, "x": torch.tensor([step])},
                               checkpoint_path(folder, step))
    (folder / ".step_00000025.tmp.ckpt").write_bytes(b"partial")  # a torn temporary file is ignored
    assert [s for s, _ in list_checkpoints(folder)] == [5, 10, 15, 20]
    removed = prune_checkpoints(folder, keep_last=2)
    assert [p.name for p in removed] == ["step_00000005.ckpt", "step_00000010.ckpt"]
    assert latest_checkpoint(folder).name == "step_00000020.ckpt"
    assert load_training_checkpoint(latest_checkpoint(folder))["x"].item() == 20
    torch.save({"model": {}}, folder / "step_00000030.ckpt")
    with pytest.raises(ValueError, match="not a cotracker training checkpoint"):
        load_training_checkpoint(folder / "step_00000030.ckpt")
    assert latest_checkpoint(tmp_path / "none") is None


def test_rng_state_round_trip():
    state = capture_rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
