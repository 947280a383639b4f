"""The static and Lucas-Kanade baselines."""
import numpy as np
import pytest
import torch

from cotracker.evaluation.baselines import LKConfig, LucasKanadeTracker, StaticTracker, Tracker

cv2 = pytest.importorskip("cv2")


def translating_video(T=6, H=64, W=80, dx=2, dy=1, seed=0):
    """A smooth random texture shifted by (dx, dy) integer pixels per frame; (1, T, 3, H, W) float 0..255."""
    rng = np.random.default_rng(seed)
    big = rng.uniform(0, 255, (H + 40, W + 40)).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    frames = [big[20 - dy * t: 20 - dy * t + H, 20 - dx * t: 20 - dx * t + W] for t in range(T)]
    v = torch.from_numpy(np.stack(frames)).float()  # (T, H, W): content moves by +dx, +dy per frame
    return v[None, :, None].expand(1, T, 3, H, W).clone()


def test_static_tracker_returns_the_queries():
    video = torch.zeros(1, 5, 3, 16, 16)
    q = torch.tensor([[[2.0, 3.0, 4.0], [0.0, 10.5, 1.0]]])
    tracks, vis = StaticTracker()(video, queries=q)
    assert tracks.shape == (1, 5, 2, 2) and vis.shape == (1, 5, 2) and vis.dtype == torch.bool
    assert torch.equal(tracks[0, :, 0], torch.tensor([[3.0, 4.0]]).expand(5, 2))
    assert vis.all()
    assert isinstance(StaticTracker(), Tracker)


def test_lk_follows_a_translation_forward_and_backward():
    T, dx, dy = 6, 2, 1
    video = translating_video(T, dx=dx, dy=dy)
    # points queried in the middle (t=2) and at the start
    q = torch.tensor([[[2.0, 40.0, 30.0], [2.0, 30.0, 25.0], [0.0, 35.0, 28.0]]])
    tracks, vis = LucasKanadeTracker()(video, queries=q)
    assert tracks.shape == (1, T, 3, 2)
    t = torch.arange(T, dtype=torch.float32)
    for n in range(3):
        t0, x0, y0 = q[0, n].tolist()
        want = torch.stack([x0 + dx * (t - t0), y0 + dy * (t - t0)], dim=-1)
        assert torch.allclose(tracks[0, :, n], want, atol=0.3), (n, tracks[0, :, n], want)
        assert vis[0, :, n].all()
    assert torch.equal(tracks[0, 2, 0], q[0, 0, 1:])  # the query frame is the query


def test_lk_marks_points_leaving_the_frame_occluded():
    T = 6
    video = translating_video(T, dx=4, dy=0)
    q = torch.tensor([[[0.0, 70.0, 30.0]]])  # moves right by 4 px per frame, out after x > 79
    tracks, vis = LucasKanadeTracker()(video, queries=q)
    x = tracks[0, :, 0, 0]
    assert not vis[0, -1, 0]
    assert vis[0, 0, 0] and abs(x[1].item() - 74.0) < 1.0  # near the border LK is less precise


def test_baselines_reject_bad_inputs():
    with pytest.raises(ValueError, match=r"video must be a \(B, T, 3, H, W\)"):
        StaticTracker()(torch.zeros(5, 3, 8, 8), queries=torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match=r"queries must be a \(B, N, 3\)"):
        StaticTracker()(torch.zeros(1, 5, 3, 8, 8), queries=torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"query frames must lie in \[0, 4\]"):
        StaticTracker()(torch.zeros(1, 5, 3, 8, 8), queries=torch.tensor([[[5.0, 1.0, 1.0]]]))
    with pytest.raises(ValueError, match="win_size must be an odd number"):
        LKConfig(win_size=20)
