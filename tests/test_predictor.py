"""Tests of the offline predictor (`cotracker.predictor.CoTrackerPredictor`).

Most tests use ``FakeTracker``, a tiny module that follows the model contract and moves points by
a known rule, so exact values can be checked by hand:

* each frame of the test clips is one constant colour, ``m(t)`` = the frame's mean value;
* a point queried at ``(t_q, x, y)`` (model pixels) is at ``(x, y) + v * (m(t) - m(t_q))`` at frame t >= t_q;
* before its query frame the fake "does not know" the point: it answers ``x + GARBAGE`` with a low
  visibility, so only a correct backward pass gives exact values there;
* visibility probability is 0.95 for even points and 0.7 for odd points (from the query frame on).

When the real ``CoTracker2`` is importable, a few tests also run the tiny config end to end.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import pytest
import torch
import torch.nn as nn

from cotracker.geometry import grid_points
from cotracker.models.config import TrackerConfig
from cotracker.predictor import CoTrackerPredictor, resize_video
from cotracker.types import TrackResult

MODEL_HW = (64, 96)
GARBAGE = 100.0  # model pixels added to x before a point's query frame
VIS_HIGH, VIS_MID, VIS_LOW = 0.95, 0.7, 0.3


@dataclass
class FakeStream:
    ind: int
    queries: torch.Tensor
    markers: torch.Tensor  # (B, T_seen)
    keypoint_ids: Optional[torch.Tensor] = None


class FakeTracker(nn.Module):
    """Follows the CoTracker2 contract (forward / init_stream / stream_step) with a known motion."""

    def __init__(self, velocity=(0.5, -0.25), num_keypoints: int = 0, window_len: int = 8, model_hw=MODEL_HW):
        super().__init__()
        self.config = TrackerConfig(model_resolution=model_hw, window_len=window_len, num_keypoints=num_keypoints)
        self.register_buffer("velocity", torch.tensor(velocity, dtype=torch.float32))
        self.calls: list[dict] = []

    def predict(self, markers: torch.Tensor, queries: torch.Tensor):
        """markers (B, T) -> coords (B, T, N, 2), vis (B, T, N)."""
        B, T = markers.shape
        N = queries.shape[1]
        t_q = queries[..., 0].long()  # (B, N)
        m_q = markers.gather(1, t_q.clamp(max=T - 1))  # (B, N)
        dm = markers[:, :, None] - m_q[:, None, :]  # (B, T, N)
        coords = queries[:, None, :, 1:] + dm[..., None] * self.velocity  # (B, T, N, 2)
        before = torch.arange(T)[None, :, None] < t_q[:, None, :]  # (B, T, N)
        coords = coords + torch.stack([before.float() * GARBAGE, torch.zeros_like(dm)], dim=-1)
        prob_after = torch.where(torch.arange(N) % 2 == 0, VIS_HIGH, VIS_MID)[None, None, :].expand(B, T, N)
        vis = torch.where(before, torch.full_like(dm, VIS_LOW), prob_after)
        return coords, vis

    def forward(self, video, queries, iters=4, is_train=False, keypoint_ids=None):
        assert video.shape[-2:] == self.config.model_resolution
        self.calls.append(dict(shape=tuple(video.shape), dtype=video.dtype, queries=queries.clone(),
                               keypoint_ids=None if keypoint_ids is None else keypoint_ids.clone(), iters=iters))
        markers = video.float().mean(dim=(2, 3, 4))  # (B, T)
        coords, vis = self.predict(markers, queries)
        return coords, vis, None

    def init_stream(self, queries, keypoint_ids=None):
        return FakeStream(0, queries.clone(), queries.new_zeros(queries.shape[0], 0), keypoint_ids)

    def stream_step(self, chunk, state, iters=6):
        assert chunk.shape[1] <= self.config.window_len
        self.calls.append(dict(shape=tuple(chunk.shape), ind=state.ind, iters=iters))
        markers = torch.cat([state.markers[:, : state.ind], chunk.float().mean(dim=(2, 3, 4))], dim=1)
        coords, vis = self.predict(markers, state.queries)
        return (coords, vis, None), FakeStream(state.ind + self.config.step, state.queries, markers, state.keypoint_ids)


def marker_video(T: int, hw=(30, 40), B: int = 1, dtype=torch.float32, offset: float = 10.0) -> torch.Tensor:
    """(B, T, 3, H, W): frame t of clip b is the constant ``offset + 5 t + 20 b``."""
    values = offset + 5.0 * torch.arange(T)[None, :] + 20.0 * torch.arange(B)[:, None]  # (B, T)
    return values[:, :, None, None, None].expand(B, T, 3, *hw).to(dtype).contiguous()


def markers_of(video: torch.Tensor) -> torch.Tensor:
    return video.float().mean(dim=(2, 3, 4))


def scale_xy(hw) -> torch.Tensor:
    """Input pixels per model pixel, by hand: ((W-1)/(w-1), (H-1)/(h-1))."""
    return torch.tensor([(hw[1] - 1) / (MODEL_HW[1] - 1), (hw[0] - 1) / (MODEL_HW[0] - 1)])


def expected_tracks(video, queries, velocity, hw, backward: bool):
    """Hand model of the fake + predictor in input pixels: q + v * dm * scale (+ garbage before t_q)."""
    m = markers_of(video)
    s = scale_xy(hw)
    B, T = m.shape
    t_q = queries[..., 0].long()
    dm = m[:, :, None] - m.gather(1, t_q)[:, None, :]  # (B, T, N)
    out = queries[:, None, :, 1:] + dm[..., None] * torch.tensor(velocity) * s  # (B, T, N, 2)
    if not backward:
        before = torch.arange(T)[None, :, None] < t_q[:, None, :]
        out[..., 0] += before.float() * GARBAGE * s[0]
        # the query frame itself is pinned to the query
        out[torch.arange(B)[:, None], t_q, torch.arange(queries.shape[1])[None]] = queries[..., 1:]
    return out


@pytest.fixture
def fake():
    return FakeTracker()


def make(model, **kw) -> CoTrackerPredictor:
    return CoTrackerPredictor(model=model, **kw)


QUERIES = torch.tensor([[[0.0, 5.0, 7.0], [2.0, 39.0, 29.0], [4.0, 20.5, 0.0], [3.0, 0.0, 14.25]]])


# ---------------------------------------------------------------------------------------------------------
# Shapes, scaling, exact values
# ---------------------------------------------------------------------------------------------------------


def test_queries_shapes_and_dtypes(fake):
    video = marker_video(6)
    res = make(fake)(video=video, queries=QUERIES)
    assert isinstance(res, TrackResult)
    tracks, vis = res
    assert tracks.shape == (1, 6, 4, 2) and tracks.dtype == torch.float32
    assert vis.shape == (1, 6, 4) and vis.dtype == torch.bool
    # the model saw the model-resolution clip, 6 iterations, and 4 + 36 support queries
    call = fake.calls[-1]
    assert call["shape"] == (1, 6, 3, *MODEL_HW) and call["iters"] == 6
    assert call["queries"].shape == (1, 40, 3)


def test_scaling_round_trip_static_points():
    """A fake that returns the query positions must give back the input pixels exactly."""
    model = FakeTracker(velocity=(0.0, 0.0))
    hw = (37, 53)
    video = marker_video(5, hw=hw)
    queries = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 52.0, 36.0], [0.0, 17.3, 9.9]]])
    tracks, vis = make(model)(video, queries=queries)
    assert torch.allclose(tracks, queries[:, None, :, 1:].expand(1, 5, 3, 2), atol=1e-4)
    # and the model got x * (w-1)/(W-1), y * (h-1)/(H-1)
    q_model = model.calls[-1]["queries"][0, :3]
    assert torch.allclose(q_model[:, 1], queries[0, :, 1] * 95 / 52, atol=1e-5)
    assert torch.allclose(q_model[:, 2], queries[0, :, 2] * 63 / 36, atol=1e-5)


@pytest.mark.parametrize("backward", [False, True])
def test_exact_motion_forward_and_backward(fake, backward):
    hw = (30, 40)
    video = marker_video(7, hw=hw)
    tracks, vis = make(fake)(video, queries=QUERIES, backward_tracking=backward)
    expected = expected_tracks(video, QUERIES, (0.5, -0.25), hw, backward)
    assert torch.allclose(tracks, expected, atol=1e-4)
    t = torch.arange(7)[:, None]
    t_q = QUERIES[0, :, 0].long()[None, :]
    even = (torch.arange(4) % 2 == 0)[None, :]
    # visible: from the query frame on for even points (0.95 > 0.9), before it only with the backward pass;
    # odd points (0.7) only at their pinned query frame
    after_ok = (t >= t_q) if not backward else torch.ones(7, 4, dtype=torch.bool)
    expected_vis = (after_ok & even) | (t == t_q)
    assert torch.equal(vis[0], expected_vis)


def test_backward_uses_time_flipped_video_and_queries(fake):
    video = marker_video(6)
    make(fake)(video, queries=QUERIES, backward_tracking=True)
    fwd, bwd = fake.calls[-2], fake.calls[-1]
    assert torch.equal(bwd["queries"][..., 0], 5 - fwd["queries"][..., 0])
    assert torch.equal(bwd["queries"][..., 1:], fwd["queries"][..., 1:])


def test_backward_does_not_modify_the_input_or_its_resized_copy(fake):
    video = marker_video(5, hw=MODEL_HW)  # already at model resolution: no copy is made
    before = video.clone()
    pred = make(fake)
    r1 = pred(video, queries=QUERIES, backward_tracking=True)
    assert torch.equal(video, before)
    video2 = marker_video(5)  # resized copy, flipped in place and back
    r2a = pred(video2, queries=QUERIES, backward_tracking=True)
    r2b = pred(video2, queries=QUERIES, backward_tracking=True)
    assert torch.equal(r2a.tracks, r2b.tracks)
    assert r1.tracks.shape == r2a.tracks.shape


def test_query_frame_is_pinned_to_the_query(fake):
    video = marker_video(6)
    tracks, vis = make(fake)(video, queries=QUERIES)
    for n in range(4):
        t_q = int(QUERIES[0, n, 0])
        assert torch.equal(tracks[0, t_q, n], QUERIES[0, n, 1:])
        assert bool(vis[0, t_q, n])


def test_fractional_query_frame_is_truncated(fake):
    video = marker_video(5)
    q = torch.tensor([[[2.7, 10.0, 11.0]]])
    tracks, vis = make(fake)(video, queries=q)
    assert torch.equal(tracks[0, 2, 0], q[0, 0, 1:]) and bool(vis[0, 2, 0])


def test_integer_queries_as_in_the_pose_example(fake):
    video = marker_video(5)
    q = torch.tensor([[0, 12, 9], [0, 30, 20]]).unsqueeze(0)  # int64, as torch.tensor infers
    tracks, _ = make(fake)(video=video, queries=q)
    assert torch.equal(tracks[0, 0], q[0, :, 1:].float())


def test_vis_threshold_parameter(fake):
    video = marker_video(5)
    q = torch.tensor([[[0.0, 3.0, 3.0], [0.0, 5.0, 5.0]]])
    _, vis = make(fake, vis_threshold=0.6)(video, queries=q)
    assert bool(vis[0, 1:].all())  # 0.95 and 0.7 both above 0.6
    _, vis = make(fake)(video, queries=q)
    assert bool(vis[0, 1:, 0].all()) and not bool(vis[0, 1:, 1].any())


def test_uint8_video_equals_float_video(fake):
    q = QUERIES
    r_f = make(fake)(marker_video(5), queries=q)
    r_u = make(fake)(marker_video(5, dtype=torch.uint8), queries=q)
    assert torch.allclose(r_f.tracks, r_u.tracks, atol=1e-4) and torch.equal(r_f.visibility, r_u.visibility)


def test_resize_video_matches_whole_clip_interpolation():
    torch.manual_seed(0)
    video = torch.rand(2, 5, 3, 9, 13) * 255
    out = resize_video(video, (7, 11), chunk_frames=2)
    ref = torch.nn.functional.interpolate(video.reshape(10, 3, 9, 13), (7, 11), mode="bilinear", align_corners=True)
    assert torch.allclose(out, ref.reshape(2, 5, 3, 7, 11), atol=1e-5)
    out8 = resize_video(video.to(torch.uint8), (7, 11), dtype=torch.uint8)
    assert out8.dtype == torch.uint8


def test_uint8_resize_dtype_option(fake):
    res = make(fake, resize_dtype=torch.uint8)(marker_video(5, dtype=torch.uint8), queries=QUERIES[:, :1])
    assert fake.calls[-1]["dtype"] == torch.uint8
    assert res.tracks.shape == (1, 5, 1, 2)


def test_video_hw_for_a_pre_resized_video(fake):
    hw = (30, 40)
    full = make(fake)(marker_video(6, hw=hw), queries=QUERIES)
    pre = resize_video(marker_video(6, hw=hw), MODEL_HW)
    via_hw = make(fake)(pre, queries=QUERIES, video_hw=hw)
    assert torch.allclose(full.tracks, via_hw.tracks, atol=1e-4)
    assert torch.equal(full.visibility, via_hw.visibility)


def test_batch_of_two(fake):
    hw = (30, 40)
    video = marker_video(6, hw=hw, B=2)
    queries = torch.cat([QUERIES, QUERIES.flip(1)])
    tracks, vis = make(fake)(video, queries=queries, backward_tracking=True)
    assert tracks.shape == (2, 6, 4, 2) and vis.shape == (2, 6, 4)
    assert torch.allclose(tracks, expected_tracks(video, queries, (0.5, -0.25), hw, True), atol=1e-4)


# ---------------------------------------------------------------------------------------------------------
# Support grid, grids, masks, dense
# ---------------------------------------------------------------------------------------------------------


def test_support_grid_appended_and_removed(fake):
    pred = make(fake)
    tracks, _ = pred(marker_video(5), queries=QUERIES)
    q = fake.calls[-1]["queries"]
    assert q.shape == (1, 4 + 36, 3) and tracks.shape[2] == 4
    support = grid_points(6, MODEL_HW)[0]
    assert torch.equal(q[0, 4:, 1:], support) and torch.equal(q[0, 4:, 0], torch.zeros(36))
    pred(marker_video(5), queries=QUERIES, add_support_grid=False)
    assert fake.calls[-1]["queries"].shape == (1, 4, 3)
    make(fake, support_grid_size=3)(marker_video(5), queries=QUERIES)
    assert fake.calls[-1]["queries"].shape == (1, 4 + 9, 3)


def test_grid_tracking(fake):
    hw = (30, 40)
    tracks, vis = make(fake)(marker_video(6, hw=hw), grid_size=3, grid_query_frame=2)
    q = fake.calls[-1]["queries"]
    assert q.shape == (1, 9, 3)  # a plain grid gets no support grid (official)
    assert torch.equal(q[0, :, 0], torch.full((9,), 2.0))
    # margin w/64 = 1.5 model px: x = linspace(1.5, 94.5, 3), y = linspace(1.5, 62.5, 3), row-major
    xs = torch.tensor([1.5, 48.0, 94.5]).repeat(3)
    ys = torch.tensor([1.5, 32.0, 62.5]).repeat_interleave(3)
    assert torch.allclose(q[0, :, 1], xs) and torch.allclose(q[0, :, 2], ys)
    assert tracks.shape == (1, 6, 9, 2)
    s = scale_xy(hw)
    assert torch.allclose(tracks[0, 2], torch.stack([xs * s[0], ys * s[1]], -1), atol=1e-4)
    assert bool(vis[0, 2].all())


def test_grid_with_backward_tracking_as_in_the_spec(fake):
    video = marker_video(6)
    tracks, vis = make(fake)(video=video, grid_size=4, grid_query_frame=3, backward_tracking=True)
    assert tracks.shape == (1, 6, 16, 2)
    # before the grid frame the backward pass answers (no garbage): exact motion on every frame
    queries = torch.cat([torch.full((1, 16, 1), 3.0), tracks[:, 3]], dim=-1)
    assert torch.allclose(tracks, expected_tracks(video, queries, (0.5, -0.25), (30, 40), True), atol=1e-4)
    assert bool(vis[0, :, ::2].all())  # even points: 0.95 on both sides of the query frame


def test_queries_win_over_grid(fake, caplog):
    with caplog.at_level(logging.WARNING, logger="cotracker.predictor"):
        tracks, _ = make(fake)(marker_video(5), queries=QUERIES, grid_size=5)
    assert tracks.shape[2] == 4 and "ignoring the grid" in caplog.text
    # official rule: add_support_grid = (grid_size == 0 or segm_mask is not None) -> no support here
    assert fake.calls[-1]["queries"].shape == (1, 4, 3)


def test_segm_mask_keeps_points_on_the_mask(fake):
    hw = (30, 40)
    mask = torch.zeros(1, 1, *hw)
    mask[..., :, :20] = 1  # left half of the input frame
    tracks, _ = make(fake)(marker_video(5, hw=hw), grid_size=4, segm_mask=mask)
    q = fake.calls[-1]["queries"]
    # 4x4 grid x = linspace(1.5, 94.5, 4) = 1.5, 32.5, 63.5, 94.5; the mask resized to 96 wide is set for
    # columns whose nearest source column is < 20, i.e. col * 40/96 < 20 -> col < 48: x = 1.5, 32.5 kept
    assert tracks.shape == (1, 5, 8, 2)
    assert q.shape == (1, 8 + 36, 3)  # segm grids get the support grid
    assert set(q[0, :8, 1].tolist()) == {1.5, 32.5}


def test_segm_mask_per_batch_item(fake):
    hw = (30, 40)
    mask = torch.zeros(2, 1, *hw)
    mask[0, :, :, :20] = 1
    mask[1, :, :, 20:] = 1
    make(fake)(marker_video(5, hw=hw, B=2), grid_size=4, segm_mask=mask)
    q = fake.calls[-1]["queries"][:, :8]
    assert set(q[0, :, 1].tolist()) == {1.5, 32.5} and set(q[1, :, 1].tolist()) == {63.5, 94.5}


def test_dense_tracking(fake, caplog):
    hw = (12, 16)
    pred = make(fake, dense_grid_size=8)  # step 16 // 8 = 2 px, lattice 8 x 6, 4 passes
    with caplog.at_level(logging.INFO, logger="cotracker.predictor"):
        tracks, vis = pred(marker_video(5, hw=hw), grid_query_frame=1)
    assert tracks.shape == (1, 5, 4 * 48, 2) and vis.shape == (1, 5, 192)
    calls = fake.calls[-4:]
    assert all(c["queries"].shape == (1, 48, 3) for c in calls)  # no support grid
    assert "pass 4 / 4" in caplog.text
    # pass k = 3 has offsets (1, 1): points (2i + 1, 2j + 1) in input pixels, x fastest
    pass3 = tracks[0, 1, 144:]
    assert torch.allclose(pass3[:3], torch.tensor([[1.0, 1.0], [3.0, 1.0], [5.0, 1.0]]))
    assert torch.allclose(pass3[8], torch.tensor([1.0, 3.0]))
    assert torch.allclose(tracks[0, 1, 48 + 1], torch.tensor([3.0, 0.0]))  # pass 1: offsets (1, 0)


# ---------------------------------------------------------------------------------------------------------
# Keypoint ids
# ---------------------------------------------------------------------------------------------------------


def _people_queries(n_people: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(1, 17 * n_people, 2, generator=g) * torch.tensor([39.0, 29.0])
    return torch.cat([torch.zeros(1, 17 * n_people, 1), xy], dim=-1)


def test_keypoint_ids_assigned_for_consecutive_people(caplog):
    model = FakeTracker(num_keypoints=17)
    with caplog.at_level(logging.INFO, logger="cotracker.predictor"):
        make(model)(marker_video(5), queries=_people_queries(2))
    kp = model.calls[-1]["keypoint_ids"]
    assert kp.shape == (1, 34 + 36) and kp.dtype == torch.int64
    assert torch.equal(kp[0, :34], torch.arange(34) % 17)
    assert torch.equal(kp[0, 34:], torch.full((36,), -1))
    assert "2 people" in caplog.text


def test_keypoint_ids_not_assigned_otherwise():
    model = FakeTracker(num_keypoints=17)
    make(model)(marker_video(5), queries=QUERIES)  # 4 points: not whole people
    assert model.calls[-1]["keypoint_ids"] is None
    make(model)(marker_video(5), grid_size=17)  # 289 grid points: grids carry no ids
    assert model.calls[-1]["keypoint_ids"] is None
    plain = FakeTracker()
    make(plain)(marker_video(5), queries=_people_queries(1))  # no kp embedding
    assert plain.calls[-1]["keypoint_ids"] is None


def test_explicit_keypoint_ids():
    model = FakeTracker(num_keypoints=17)
    ids = torch.tensor([[16, -1, 3, 0]])
    make(model)(marker_video(5), queries=QUERIES, keypoint_ids=ids, add_support_grid=False)
    assert torch.equal(model.calls[-1]["keypoint_ids"], ids)
    with pytest.raises(ValueError, match=r"keypoint_ids must lie in \[-1, 16\]"):
        make(model)(marker_video(5), queries=QUERIES, keypoint_ids=torch.tensor([[17, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"keypoint_ids must have shape \(B, N\) = \(1, 4\)"):
        make(model)(marker_video(5), queries=QUERIES, keypoint_ids=torch.tensor([[1, 2]]))
    with pytest.raises(TypeError, match="keypoint_ids must hold integers"):
        make(model)(marker_video(5), queries=QUERIES, keypoint_ids=torch.zeros(1, 4))
    with pytest.raises(ValueError, match="keypoint_ids need explicit queries"):
        make(model)(marker_video(5), grid_size=3, keypoint_ids=torch.zeros(1, 9, dtype=torch.long))


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------

V = marker_video(5)  # (1, 5, 3, 30, 40)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(video=V.numpy()), TypeError, "must be a torch.Tensor"),
        (dict(video=V[0]), ValueError, r"5 dimensions.*video\[None\]"),
        (dict(video=V.permute(0, 1, 3, 4, 2)), ValueError, r"permute\(0, 1, 4, 2, 3\)"),
        (dict(video=V[:, :, :1]), ValueError, "3 \\(RGB\\) channels"),
        (dict(video=V / 255.0), ValueError, r"0\.\.1.*video \* 255"),
        (dict(video=V - 100), ValueError, "negative values"),
        (dict(video=V * 10), ValueError, "above 255"),
        (dict(video=V.long()), TypeError, r"uint8 or floating point.*video.float\(\)"),
        (dict(video=V[:, :0]), ValueError, "empty"),
        (dict(queries=QUERIES.tolist()), TypeError, "queries must be a torch.Tensor"),
        (dict(queries=QUERIES[0]), ValueError, r"\(B, N, 3\).*queries\[None\]"),
        (dict(queries=QUERIES[..., :2]), ValueError, r"\(B, N, 3\)"),
        (dict(queries=QUERIES.expand(2, -1, -1)), ValueError, "batch size 2 does not match"),
        (dict(queries=QUERIES[:, :0]), ValueError, "N = 0"),
        (dict(queries=torch.tensor([[[5.0, 1.0, 1.0]]])), ValueError, r"t must be in \[0, 4\].*t = 5"),
        (dict(queries=torch.tensor([[[-1.0, 1.0, 1.0]]])), ValueError, r"t = -1"),
        (dict(queries=torch.tensor([[[0.0, 39.6, 1.0]]])), ValueError, r"query x = 39.6 lies outside.*\[0, 39\]"),
        (dict(queries=torch.tensor([[[0.0, 1.0, -0.7]]])), ValueError, r"query y = -0.7 lies outside"),
        (dict(queries=torch.tensor([[[0.0, float("nan"), 1.0]]])), ValueError, "NaN or inf"),
        (dict(grid_size=3, grid_query_frame=5), ValueError, r"grid_query_frame must be in \[0, 4\]"),
        (dict(grid_size=-1), ValueError, "grid_size must be >= 0"),
        (dict(grid_size=2.5), TypeError, "grid_size must be an int"),
        (dict(grid_size=3, segm_mask=torch.ones(1, 1, 10, 10)), ValueError, r"segm_mask size \(10, 10\)"),
        (dict(grid_size=3, segm_mask=torch.ones(30, 40)), ValueError, r"segm_mask\[None, None\]"),
        (dict(grid_size=3, segm_mask=torch.zeros(1, 1, 30, 40)), ValueError, "selects none"),
        (dict(segm_mask=torch.ones(1, 1, 30, 40)), ValueError, "grid_size > 0"),
        (dict(queries=QUERIES, video_hw=(30, 40)), ValueError, "already be at the model resolution"),
    ],
)
def test_bad_input(fake, kwargs, exc, pattern):
    kwargs = dict(kwargs)
    video = kwargs.pop("video", V)
    if "queries" not in kwargs and "grid_size" not in kwargs and "segm_mask" not in kwargs:
        kwargs["queries"] = QUERIES
    with pytest.raises(exc, match=pattern):
        make(fake)(video, **kwargs)


def test_bad_input_nan_video_and_tolerance(fake):
    video = marker_video(3).clone()
    video[0, 2, 1, 3, 3] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        make(fake)(video, queries=QUERIES[:, :1])
    # half a pixel outside the frame is accepted (rounding slack)
    make(fake)(marker_video(3), queries=torch.tensor([[[0.0, -0.4, 29.4]]]))


def test_segm_mask_counts_differ_across_batch(fake):
    mask = torch.zeros(2, 1, 30, 40)
    mask[0, :, :, :20] = 1
    mask[1] = 1
    with pytest.raises(ValueError, match=r"different number of grid points per clip \(\[8, 16\]\)"):
        make(fake)(marker_video(5, B=2), grid_size=4, segm_mask=mask)


def test_constructor_errors(fake):
    with pytest.raises(ValueError, match="either checkpoint= or model="):
        CoTrackerPredictor("x.pth", model=fake)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        CoTrackerPredictor(model=object())
    with pytest.raises(ValueError, match="vis_threshold"):
        CoTrackerPredictor(model=fake, vis_threshold=2.0)


# ---------------------------------------------------------------------------------------------------------
# Short clips
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [1, 2, 3, 4])
def test_short_clips(fake, T):
    q = torch.tensor([[[0.0, 4.0, 5.0], [T - 1.0, 30.0, 20.0]]])
    tracks, vis = make(fake)(marker_video(T), queries=q, backward_tracking=True)
    assert tracks.shape == (1, T, 2, 2)
    assert torch.equal(tracks[0, 0, 0], q[0, 0, 1:]) and torch.equal(tracks[0, T - 1, 1], q[0, 1, 1:])


# ---------------------------------------------------------------------------------------------------------
# The real model (tiny config), when its code is present
# ---------------------------------------------------------------------------------------------------------


def tiny_cotracker(num_keypoints: int = 0, window_len: int = 8):
    mod = pytest.importorskip("cotracker.models.cotracker2")
    from cotracker.models.config import tiny

    torch.manual_seed(0)
    return mod.CoTracker2(tiny(window_len=window_len, num_keypoints=num_keypoints)).eval()


@pytest.mark.parametrize("T", [1, 3, 4, 5, 9])
def test_real_tiny_model_end_to_end(T):
    model = tiny_cotracker()
    g = torch.Generator().manual_seed(1)
    video = (torch.rand(2, T, 3, 40, 50, generator=g) * 255).to(torch.uint8)
    q = torch.tensor([[0.0, 10.0, 12.0], [T - 1.0, 40.0, 30.0], [0.0, 49.0, 39.0]])[None].expand(2, -1, -1)
    tracks, vis = CoTrackerPredictor(model=model)(video, queries=q, backward_tracking=True)
    assert tracks.shape == (2, T, 3, 2) and vis.shape == (2, T, 3)
    assert bool(torch.isfinite(tracks).all())
    assert torch.equal(tracks[:, 0, 0], q[:, 0, 1:]) and torch.equal(tracks[:, T - 1, 1], q[:, 1, 1:])
    tracks_g, _ = CoTrackerPredictor(model=model)(video, grid_size=3, grid_query_frame=T // 2)
    assert tracks_g.shape == (2, T, 9, 2)


def test_real_tiny_pose_model_receives_keypoint_ids():
    model = tiny_cotracker(num_keypoints=17)
    tracks, vis = CoTrackerPredictor(model=model)(marker_video(6), queries=_people_queries(1))
    assert tracks.shape == (1, 6, 17, 2)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_checkpoint_path_loads_through_the_hub(tmp_path, suffix):
    hub = pytest.importorskip("cotracker.hub")
    model = tiny_cotracker()
    path = tmp_path / f"tiny{suffix}"
    hub.save_checkpoint(model, path)
    video = (torch.rand(1, 6, 3, 40, 50, generator=torch.Generator().manual_seed(2)) * 255).round()
    q = torch.tensor([[[0.0, 10.0, 12.0], [2.0, 40.0, 30.0]]])
    expected = CoTrackerPredictor(model=model)(video, queries=q)
    loaded = CoTrackerPredictor(checkpoint=str(path))
    assert loaded.interp_shape == MODEL_HW and not loaded.model.training
    got = loaded(video, queries=q)
    assert torch.equal(got.tracks, expected.tracks) and torch.equal(got.visibility, expected.visibility)


def test_missing_default_checkpoint_says_where_to_put_it(monkeypatch, tmp_path):
    hub = pytest.importorskip("cotracker.hub")
    monkeypatch.setattr(hub, "_WEIGHTS_DIR", tmp_path / "no_weights")  # as if the package lost its weights
    with pytest.raises(FileNotFoundError, match=hub.DEFAULT_CHECKPOINT):
        CoTrackerPredictor()
    with pytest.raises(FileNotFoundError):
        CoTrackerPredictor(checkpoint="./checkpoints/does-not-exist.pth")


def test_passed_model_runs_in_eval_mode_and_keeps_its_own_mode():
    class ModeRecorder(FakeTracker):
        def forward(self, *args, **kwargs):
            self.seen_training = self.training
            return super().forward(*args, **kwargs)

    model = ModeRecorder().train()
    make(model)(marker_video(5), queries=QUERIES)
    assert model.seen_training is False and model.training is True


def test_dense_tracking_of_a_pre_resized_video(fake):
    hw = (12, 16)
    pre = resize_video(marker_video(4, hw=hw), MODEL_HW, dtype=torch.uint8)
    direct = make(fake, dense_grid_size=8)(marker_video(4, hw=hw, dtype=torch.uint8))
    via_hw = make(fake, dense_grid_size=8)(pre, video_hw=hw)
    assert via_hw.tracks.shape == (1, 4, 192, 2)
    assert torch.allclose(via_hw.tracks, direct.tracks, atol=1e-4)
    assert torch.equal(via_hw.tracks[0, 0, 48 + 8], torch.tensor([1.0, 2.0]))  # pass 1, row 1, column 0


def test_vis_threshold_defaults_to_the_weights_calibration():
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2
    from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor

    torch.manual_seed(0)
    plain = CoTracker2(tiny())
    assert CoTrackerPredictor(model=plain).vis_threshold == 0.9  # official defaults without a calibration
    assert CoTrackerOnlinePredictor(model=plain).vis_threshold == 0.6
    calibrated = CoTracker2(tiny().replace(vis_threshold=0.35))
    assert CoTrackerPredictor(model=calibrated).vis_threshold == 0.35
    assert CoTrackerOnlinePredictor(model=calibrated).vis_threshold == 0.35
    assert CoTrackerPredictor(model=calibrated, vis_threshold=0.7).vis_threshold == 0.7  # the caller wins
    with pytest.raises(ValueError, match="vis_threshold must be a probability"):
        tiny().replace(vis_threshold=1.5)


def test_calibrated_threshold_travels_in_the_safetensors(tmp_path):
    from cotracker.hub import build_cotracker, save_checkpoint
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2
    from cotracker.predictor import CoTrackerPredictor

    torch.manual_seed(0)
    save_checkpoint(CoTracker2(tiny().replace(vis_threshold=0.4)), tmp_path / "m.safetensors")
    assert build_cotracker(tmp_path / "m.safetensors").config.vis_threshold == 0.4
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors").vis_threshold == 0.4
