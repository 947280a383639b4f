"""Tests of the online predictor (`cotracker.predictor.CoTrackerOnlinePredictor`).

Uses the ``FakeTracker`` of ``test_predictor.py`` (a known motion driven by per-frame colours) and,
when the real ``CoTracker2`` is importable, its tiny config for the online == offline equivalence.
"""
from __future__ import annotations

import pytest
import torch

from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor, OnlineState
from cotracker.types import TrackResult
from test_predictor import MODEL_HW, QUERIES, FakeTracker, expected_tracks, marker_video, tiny_cotracker


def stream(predictor: CoTrackerOnlinePredictor, video: torch.Tensor, state: OnlineState):
    """The README loop with the explicit-state API; returns the final result and state."""
    T, step = video.shape[1], predictor.step
    result = None
    for ind in range(0, T - step, step):
        result, state = predictor.step(video[:, ind : ind + 2 * step], state)
    return result, state


def stream_official(predictor: CoTrackerOnlinePredictor, video: torch.Tensor, **first_kwargs) -> TrackResult:
    """The official protocol: a first call with the queries, then chunks of 2 * step frames."""
    assert predictor(video_chunk=video, is_first_step=True, **first_kwargs) == (None, None)
    T, step = video.shape[1], predictor.step
    result = None
    for ind in range(0, T - step, step):
        result = predictor(video_chunk=video[:, ind : ind + 2 * step])
    return result


@pytest.fixture
def fake():
    return FakeTracker()


def test_step_is_an_int_and_callable(fake):
    pred = CoTrackerOnlinePredictor(model=fake)
    assert pred.step == 4 and isinstance(pred.step, int) and 2 * pred.step == 8
    assert list(range(0, 12 - pred.step, pred.step)) == [0, 4]
    assert pred.window_len == 8


def test_official_protocol_with_queries(fake):
    hw = (30, 40)
    video = marker_video(12, hw=hw)
    pred = CoTrackerOnlinePredictor(model=fake)
    tracks, vis = stream_official(pred, video, queries=QUERIES)
    assert tracks.shape == (1, 12, 4, 2) and vis.dtype == torch.bool
    # the fake's exact motion, query frames pinned, garbage before the query (no backward tracking online)
    assert torch.allclose(tracks, expected_tracks(video, QUERIES, (0.5, -0.25), hw, backward=False), atol=1e-4)
    # online threshold 0.6: the odd points (0.7) are visible from their query frame on
    t = torch.arange(12)[:, None]
    assert torch.equal(vis[0], t >= QUERIES[0, :, 0].long()[None])
    # chunks of 2 * step frames reached the model, 6 iterations, starting at ind = 0, 4
    chunk_calls = [c for c in fake.calls if "ind" in c]
    assert [c["ind"] for c in chunk_calls] == [0, 4]
    assert all(c["shape"] == (1, 8, 3, *MODEL_HW) and c["iters"] == 6 for c in chunk_calls)


def test_results_grow_with_each_chunk(fake):
    video = marker_video(13)
    pred = CoTrackerOnlinePredictor(model=fake)
    state = pred.init(queries=QUERIES, video_hw=(30, 40))
    seen = []
    for ind in range(0, 13 - pred.step, pred.step):
        result, state = pred.step(video[:, ind : ind + 8], state)
        seen.append(result.tracks.shape[1])
    assert seen == [8, 12, 13]
    assert state.frames_seen == 13
    assert pred.finish(state) is result


def test_official_protocol_with_grid(fake):
    pred = CoTrackerOnlinePredictor(model=fake)
    tracks, vis = stream_official(pred, marker_video(9, B=2), grid_size=3, grid_query_frame=1)
    assert tracks.shape == (2, 9, 9, 2)
    q = fake.calls and pred._default_state.queries
    assert q.shape == (2, 9, 3) and torch.equal(q[..., 0], torch.ones(2, 9))


def test_support_grid_is_off_by_default_and_removed_when_on(fake):
    pred = CoTrackerOnlinePredictor(model=fake)
    state = pred.init(queries=QUERIES, video_hw=(30, 40))
    assert state.queries.shape == (1, 4, 3)
    state = pred.init(queries=QUERIES, video_hw=(30, 40), add_support_grid=True)
    assert state.queries.shape == (1, 40, 3) and state.num_points == 4
    result, _ = stream(pred, marker_video(8), state)
    assert result.tracks.shape == (1, 8, 4, 2)


@pytest.mark.parametrize("T", [24, 21, 9])
@pytest.mark.parametrize("support", [False, True])
def test_online_equals_offline_fake(fake, T, support):
    video = marker_video(T, hw=(30, 40))
    offline = CoTrackerPredictor(model=fake, vis_threshold=0.6)(video, queries=QUERIES, add_support_grid=support)
    pred = CoTrackerOnlinePredictor(model=fake)
    online, _ = stream(pred, video, pred.init(queries=QUERIES, video_hw=(30, 40), add_support_grid=support))
    assert torch.allclose(online.tracks, offline.tracks, atol=1e-4)
    assert torch.equal(online.visibility, offline.visibility)


def test_two_videos_at_once(fake):
    """Interleaving two streams through one predictor gives each stream's own result."""
    pred = CoTrackerOnlinePredictor(model=fake)
    va, vb = marker_video(12, offset=10.0), marker_video(12, offset=50.0)
    qa, qb = QUERIES, QUERIES.flip(1)
    alone_a, _ = stream(pred, va, pred.init(queries=qa, video_hw=(30, 40)))
    alone_b, _ = stream(pred, vb, pred.init(queries=qb, video_hw=(30, 40)))
    sa, sb = pred.init(queries=qa, video_hw=(30, 40)), pred.init(queries=qb, video_hw=(30, 40))
    for ind in range(0, 12 - 4, 4):
        ra, sa = pred.step(va[:, ind : ind + 8], sa)
        rb, sb = pred.step(vb[:, ind : ind + 8], sb)
    assert torch.equal(ra.tracks, alone_a.tracks) and torch.equal(rb.tracks, alone_b.tracks)
    assert not torch.equal(ra.tracks, rb.tracks)


def test_pre_resized_chunks(fake):
    hw = (30, 40)
    video = marker_video(12, hw=hw)
    pred = CoTrackerOnlinePredictor(model=fake)
    full, _ = stream(pred, video, pred.init(queries=QUERIES, video_hw=hw))
    small = torch.nn.functional.interpolate(video[0], MODEL_HW, mode="bilinear", align_corners=True)[None]
    pre, _ = stream(pred, small, pred.init(queries=QUERIES, video_hw=hw))
    assert torch.allclose(full.tracks, pre.tracks, atol=1e-4)


def test_keypoint_ids_online():
    model = FakeTracker(num_keypoints=17)
    pred = CoTrackerOnlinePredictor(model=model)
    q = torch.cat([torch.zeros(1, 17, 1), torch.rand(1, 17, 2) * 20], dim=-1)
    state = pred.init(queries=q, video_hw=(30, 40), add_support_grid=True)
    assert torch.equal(state.keypoint_ids[0, :17], torch.arange(17))
    assert torch.equal(state.keypoint_ids[0, 17:], torch.full((36,), -1))
    _, state = pred.step(marker_video(8), state)
    assert torch.equal(state.stream.keypoint_ids, state.keypoint_ids)


def test_online_errors(fake):
    pred = CoTrackerOnlinePredictor(model=fake)
    with pytest.raises(ValueError, match="is_first_step=True"):
        pred(marker_video(8))
    with pytest.raises(ValueError, match="video_hw=\\(H, W\\) is required"):
        pred.init(queries=QUERIES)
    with pytest.raises(ValueError, match="queries or grid_size > 0"):
        pred.init(video_hw=(30, 40))
    with pytest.raises(ValueError, match=r"query x = 50 lies outside"):
        pred.init(queries=torch.tensor([[[0.0, 50.0, 1.0]]]), video_hw=(30, 40))
    with pytest.raises(ValueError, match="batch size 2 does not match"):
        pred(marker_video(8), is_first_step=True, queries=QUERIES.expand(2, -1, -1))
    state = pred.init(queries=QUERIES, video_hw=(30, 40))
    with pytest.raises(ValueError, match=r"12 frames, more than the window \(8\)"):
        pred.step(marker_video(12), state)
    with pytest.raises(ValueError, match=r"frames are \(20, 20\), expected the stream's size \(30, 40\)"):
        pred.step(marker_video(8, hw=(20, 20)), state)
    with pytest.raises(ValueError, match="batch size 2 but the tracking state was set up for 1"):
        pred.step(marker_video(8, B=2), state)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        pred.step(marker_video(8) / 255, state)
    with pytest.raises(TypeError, match="OnlineState"):
        pred.step(marker_video(8), None)
    with pytest.raises(ValueError, match="no chunk has been tracked yet"):
        pred.finish(state)


def test_real_tiny_online_equals_offline():
    """The real model: streaming the official chunks gives the offline tracks (no backward tracking)."""
    model = tiny_cotracker()
    g = torch.Generator().manual_seed(3)
    q = torch.tensor([[[0.0, 10.0, 12.0], [0.0, 40.0, 30.0], [5.0, 25.0, 5.0], [13.0, 2.0, 38.0]]])
    for T in (24, 21):
        video = (torch.rand(1, T, 3, 40, 50, generator=g) * 255).to(torch.uint8)
        for support in (False, True):
            offline = CoTrackerPredictor(model=model, vis_threshold=0.6)(video, queries=q, add_support_grid=support)
            pred = CoTrackerOnlinePredictor(model=model)
            online, _ = stream(pred, video, pred.init(queries=q, video_hw=(40, 50), add_support_grid=support))
            assert online.tracks.shape == offline.tracks.shape == (1, T, 4, 2)
            assert torch.allclose(online.tracks, offline.tracks, atol=1e-4), (T, support)
            assert torch.equal(online.visibility, offline.visibility)


@pytest.mark.parametrize("T", [1, 3])
def test_real_tiny_short_clip_in_one_chunk(T):
    """A clip shorter than a step is streamed as a single chunk and matches offline."""
    model = tiny_cotracker()
    video = (torch.rand(1, T, 3, 40, 50, generator=torch.Generator().manual_seed(4)) * 255).round()
    q = torch.tensor([[[0.0, 10.0, 12.0], [T - 1.0, 40.0, 30.0]]])
    pred = CoTrackerOnlinePredictor(model=model)
    online, state = pred.step(video, pred.init(queries=q, video_hw=(40, 50)))
    offline = CoTrackerPredictor(model=model, vis_threshold=0.6)(video, queries=q, add_support_grid=False)
    assert online.tracks.shape == (1, T, 2, 2) and state.frames_seen == T
    assert torch.allclose(online.tracks, offline.tracks, atol=1e-4)
