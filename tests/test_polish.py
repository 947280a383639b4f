"""The Lucas-Kanade polish of the final tracks (cotracker.polish) and its place in the predictors.

* ``PolishConfig`` validation; ``lucas_kanade`` recovers a known sub-pixel shift and refuses flat windows;
* ``polish_tracks`` makes noisy tracks of a moving texture precise, and keeps the model's positions wherever a guard
  says so (not visible, outside the radius, the round trip off), the query frames, and the frames before them
  unless asked to chain backwards;
* the predictors: the weights' setting is the default, False turns it off, offline == online, frames already at the
  model resolution, the export script and the config round trip.
"""
from __future__ import annotations

import pytest
import torch

from cotracker.models.config import TrackerConfig, tiny
from cotracker.models.cotracker2 import CoTracker2
from cotracker.polish import PolishConfig, image_pyramid, lucas_kanade, polish_tracks
from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor, resize_video

H, W = 72, 96


def texture(dx: float = 0.0, dy: float = 0.0, h: int = H, w: int = W) -> torch.Tensor:
    """(h, w) smooth random-looking grey image in 0..1, shifted by (dx, dy) pixels (exact, analytic)."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    x, y = xx - dx, yy - dy
    img = (0.5 + 0.15 * torch.sin(0.41 * x + 0.23 * y) + 0.15 * torch.cos(0.29 * y - 0.17 * x)
           + 0.1 * torch.sin(0.13 * x) * torch.cos(0.19 * y))
    return img.to(torch.float32)


def moving_clip(T: int, velocity=(1.7, -0.9)) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, 3, H, W) RGB 0..255 of the texture translating at ``velocity`` px/frame, and (T, 2) the shift per frame."""
    shifts = torch.tensor([[velocity[0] * t, velocity[1] * t] for t in range(T)])
    frames = torch.stack([texture(float(dx), float(dy)) for dx, dy in shifts])  # (T, H, W)
    return (frames[:, None].expand(T, 3, H, W) * 255.0), shifts


def test_config_validation():
    with pytest.raises(ValueError, match="radius must be in"):
        PolishConfig(radius=0.0)
    with pytest.raises(ValueError, match="fb_threshold must be > 0"):
        PolishConfig(fb_threshold=0)
    with pytest.raises(ValueError, match="window must be an odd number"):
        PolishConfig(window=10)
    with pytest.raises(ValueError, match="levels must be >= 0"):
        PolishConfig(levels=-1)
    with pytest.raises(ValueError, match="iters must be >= 1"):
        PolishConfig(iters=0)


def test_pyramid_levels_halve_the_image():
    pyr = image_pyramid(texture()[None], 2)
    assert [tuple(p.shape) for p in pyr] == [(1, 1, H, W), (1, 1, H // 2, W // 2), (1, 1, H // 4, W // 4)]
    flat = image_pyramid(torch.full((1, 9, 13), 0.25), 2)
    assert all(torch.allclose(p, torch.tensor(0.25)) for p in flat)  # the blur keeps a constant image constant


@pytest.mark.parametrize("shift", [(3.3, -2.6), (-0.4, 0.7), (7.5, 4.0)])
def test_lucas_kanade_recovers_a_known_shift(shift):
    cfg = PolishConfig(iters=20)
    a, b = image_pyramid(texture()[None], cfg.levels), image_pyramid(texture(*shift)[None], cfg.levels)
    pts = torch.tensor([[30.0, 30.0], [50.0, 40.0], [70.0, 25.0]])
    guess = pts + torch.tensor([shift[0] + 1.5, shift[1] - 1.0])  # a first guess 1.8 px off
    out, ok = lucas_kanade(a, b, pts, guess, cfg)
    assert ok.all()
    assert (out - pts - torch.tensor(shift)).abs().max() < 0.1


def test_lucas_kanade_refuses_a_flat_window():
    cfg = PolishConfig()
    img = texture()
    img[:, :40] = 0.5  # the left part has no texture
    a = image_pyramid(img[None], cfg.levels)
    pts = torch.tensor([[15.0, 30.0], [70.0, 30.0]])
    _, ok = lucas_kanade(a, a, pts, pts, cfg)
    assert ok.tolist() == [False, True]
    with pytest.raises(ValueError, match="levels \\+ 1 = 3"):
        lucas_kanade(a[:2], a, pts, pts, cfg)


def noisy_tracks(T: int, seed: int = 0):
    video, shifts = moving_clip(T)
    start = torch.tensor([[30.0, 30.0], [50.0, 40.0], [40.0, 20.0], [25.0, 45.0]])
    truth = start[None] + shifts[:, None]  # (T, N, 2)
    noise = torch.randn(T, 4, 2, generator=torch.Generator().manual_seed(seed)) * 1.5
    noise[0] = 0.0  # the query frame is exact
    return video, truth, truth + noise


def test_polish_makes_noisy_tracks_precise():
    T = 10
    video, truth, model = noisy_tracks(T)
    visible = torch.ones(T, 4, dtype=torch.bool)
    out = polish_tracks(video, model, visible, torch.zeros(4, dtype=torch.int64), PolishConfig(radius=0.1))
    before = (model - truth).norm(dim=-1)[1:].mean()
    after = (out - truth).norm(dim=-1)[1:].mean()
    assert before > 1.0 and after < 0.1, (before, after)
    assert torch.equal(out[0], model[0])


def test_polish_is_stable_under_tiny_changes_of_the_model_tracks():
    # Away from the guards' thresholds a change in the last digits of the model's positions (another thread count,
    # another device) must not move the polished tracks. (At a threshold the chain can switch between LK's point
    # and the model's: NOTES.md, "Session 19".)
    T = 10
    video, truth, model = noisy_tracks(T, seed=3)
    visible = torch.ones(T, 4, dtype=torch.bool)
    q = torch.zeros(4, dtype=torch.int64)
    jitter = torch.randn(T, 4, 2, generator=torch.Generator().manual_seed(4)) * 1e-3
    jitter[0] = 0.0
    out = polish_tracks(video, model, visible, q, PolishConfig(radius=0.1))
    out2 = polish_tracks(video, model + jitter, visible, q, PolishConfig(radius=0.1))
    assert not torch.equal(out, model)
    # LK converges to the same point from either start, so the jitter (about 1e-3 px) does not come through at all
    assert (out2 - out).abs().max() < 1e-4, (out2 - out).abs().max()


def test_polish_guards_keep_the_model_position():
    T = 8
    video, truth, model = noisy_tracks(T, seed=1)
    q = torch.zeros(4, dtype=torch.int64)
    hidden = torch.ones(T, 4, dtype=torch.bool)
    hidden[:, 1] = False  # the model calls point 1 occluded everywhere
    out = polish_tracks(video, model, hidden, q, PolishConfig(radius=0.1))
    assert torch.equal(out[:, 1], model[:, 1]) and not torch.equal(out[:, 0], model[:, 0])
    # a radius of 0.1 px: LK's answer always lies farther than that from the noisy model
    tight = polish_tracks(video, model, torch.ones(T, 4, dtype=torch.bool), q, PolishConfig(radius=0.1 / W))
    assert torch.equal(tight, model)
    # a model 30 px off after the query frame: LK follows the query's point, 30 px from the model, beyond the
    # radius, so frame 1 is the model's; from there on the chain follows the model's (wrong) point
    far = model + 30.0
    far[0] = model[0]
    out = polish_tracks(video, far, torch.ones(T, 4, dtype=torch.bool), q, PolishConfig(radius=0.05))
    assert torch.equal(out[1], far[1]) and (out[2:] - far[2:]).norm(dim=-1).max() < 0.05 * W


def test_polish_starts_at_each_query_frame_and_chains_backwards_only_when_asked():
    T = 9
    video, truth, model = noisy_tracks(T, seed=2)
    q = torch.tensor([0, 4, 4, 8])
    model[4, 1:3], model[8, 3] = truth[4, 1:3], truth[8, 3]  # exact at each point's query frame
    visible = torch.ones(T, 4, dtype=torch.bool)
    out = polish_tracks(video, model, visible, q, PolishConfig(radius=0.1))
    assert torch.equal(out[:5, 1:3], model[:5, 1:3]) and torch.equal(out[:, 3], model[:, 3])
    assert (out[5:, 1:3] - truth[5:, 1:3]).norm(dim=-1).max() < 0.2
    back = polish_tracks(video, model, visible, q, PolishConfig(radius=0.1), backward=True)
    assert torch.equal(back[5:, :3], out[5:, :3]) and torch.equal(back[4, 1:3], model[4, 1:3])
    assert torch.equal(back[8, 3], model[8, 3])
    assert (back[:4, 1:] - truth[:4, 1:]).norm(dim=-1).max() < 0.2


def test_polish_reads_a_one_pass_stream_of_frames_as_it_reads_the_clip():
    T = 9
    video, truth, model = noisy_tracks(T, seed=5)
    q = torch.tensor([0, 3, 5, 8])
    visible = torch.ones(T, 4, dtype=torch.bool)
    cfg = PolishConfig(radius=0.1)
    for backward in (False, True):
        want = polish_tracks(video, model, visible, q, cfg, backward=backward)
        read = []

        def frames():  # a decoder's second pass: each frame once, in order
            for t in range(T):
                read.append(t)
                yield video[t]

        got = polish_tracks(frames(), model, visible, q, cfg, backward=backward)
        assert torch.equal(got, want) and read == list(range(T))
    with pytest.raises(ValueError, match="the frames ended after 5 of the tracks' 9"):
        polish_tracks(iter(video[:5]), model, visible, q, cfg)
    mixed = [video[0], video[1], video[2, :, :-1]] + list(video[3:])
    with pytest.raises(ValueError, match="every frame must have one size"):
        polish_tracks(iter(mixed), model, visible, q, cfg)
    with pytest.raises(ValueError, match=r"frame 0 must be \(3, H, W\)"):
        polish_tracks(iter(video[:, :1]), model, visible, q, cfg)


def test_polish_checks_shapes():
    video, _, model = noisy_tracks(5)
    with pytest.raises(ValueError, match="video must be \\(T, 3, H, W\\) with T = 4"):
        polish_tracks(video, model[:4], torch.ones(4, 4, dtype=torch.bool), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="visible must be"):
        polish_tracks(video, model, torch.ones(5, 3, dtype=torch.bool), torch.zeros(4, dtype=torch.int64))


# -- the predictors ------------------------------------------------------------------------------------------


def tiny_model(**changes) -> CoTracker2:
    torch.manual_seed(0)
    return CoTracker2(tiny().replace(**changes)).eval()


QUERIES = torch.tensor([[[0.0, 30.0, 30.0], [0.0, 60.0, 40.0], [5.0, 40.0, 20.0], [13.0, 25.0, 45.0]]])


def test_config_round_trip_and_predictor_defaults(tmp_path):
    from cotracker.hub import build_cotracker, save_checkpoint

    cfg = tiny().replace(polish=PolishConfig(radius=0.05, window=9))
    assert TrackerConfig.from_dict(cfg.to_dict()) == cfg and tiny().polish is None
    assert TrackerConfig.from_dict(tiny().to_dict()).polish is None
    with pytest.raises(ValueError, match="polish must be None or a PolishConfig"):
        tiny().replace(polish=True)
    save_checkpoint(tiny_model(polish=PolishConfig(radius=0.05, window=9)), tmp_path / "m.safetensors")
    assert build_cotracker(tmp_path / "m.safetensors").config.polish == PolishConfig(radius=0.05, window=9)
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors").polish == PolishConfig(radius=0.05, window=9)
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors", polish=False).polish is None
    assert CoTrackerPredictor(model=tiny_model()).polish is None  # official: no polish
    assert CoTrackerPredictor(model=tiny_model(), polish=True).polish == PolishConfig()
    assert CoTrackerOnlinePredictor(model=tiny_model(), polish=PolishConfig(levels=1)).polish.levels == 1
    with pytest.raises(TypeError, match="polish must be None"):
        CoTrackerPredictor(model=tiny_model(), polish="yes")


def test_offline_polish_changes_tracks_after_the_query_frames_only():
    T = 16
    video, _ = moving_clip(T)
    model = tiny_model()
    plain = CoTrackerPredictor(model=model, vis_threshold=0.0)(video[None], queries=QUERIES)
    polished = CoTrackerPredictor(model=model, vis_threshold=0.0, polish=PolishConfig(radius=0.2))(
        video[None], queries=QUERIES)
    assert torch.equal(polished.visibility, plain.visibility)
    assert polished.tracks.shape == plain.tracks.shape == (1, T, 4, 2)
    for n, t in enumerate(QUERIES[0, :, 0].long().tolist()):
        assert torch.equal(polished.tracks[0, : t + 1, n], plain.tracks[0, : t + 1, n])
    assert not torch.equal(polished.tracks, plain.tracks)
    # within the radius of the model everywhere
    assert (polished.tracks - plain.tracks).norm(dim=-1).max() <= 0.2 * W + 1e-4


def test_online_polish_equals_offline():
    model = tiny_model()
    cfg = PolishConfig(radius=0.2)
    for T in (16, 14):
        video, _ = moving_clip(T)
        video = video[None]
        offline = CoTrackerPredictor(model=model, vis_threshold=0.6, polish=cfg)(video, queries=QUERIES,
                                                                                  add_support_grid=False)
        pred = CoTrackerOnlinePredictor(model=model, polish=cfg)
        state = pred.init(queries=QUERIES, video_hw=(H, W))
        for ind in range(0, T - pred.step, pred.step):
            result, state = pred.step(video[:, ind : ind + pred.window_len], state)
            assert state.polished.shape[1] == min(ind + pred.step, T)
        assert torch.allclose(result.tracks, offline.tracks, atol=1e-4), T
        assert not torch.equal(result.tracks, CoTrackerPredictor(model=model, vis_threshold=0.6)(
            video, queries=QUERIES, add_support_grid=False).tracks)


def test_online_polish_refuses_a_chunk_out_of_order_or_of_another_size():
    model = tiny_model()
    video, _ = moving_clip(16)
    video = video[None]
    pred = CoTrackerOnlinePredictor(model=model, polish=True)
    state = pred.init(queries=QUERIES, video_hw=(H, W))
    _, state = pred.step(video[:, :8], state)
    small = resize_video(video[:, 4:12], pred.interp_shape)
    with pytest.raises(ValueError, match="stream every chunk at one size"):
        pred.step(small, state)


def test_frames_at_model_resolution_polish_there():
    """With ``video_hw`` the frames are the model's; the polish runs on them, outputs stay in video_hw pixels."""
    T = 14
    video, _ = moving_clip(T)
    model = tiny_model()
    pred = CoTrackerPredictor(model=model, vis_threshold=0.0, polish=PolishConfig(radius=0.2))
    video_m = resize_video(video[None], pred.interp_shape)
    res = pred(video_m, queries=QUERIES, video_hw=(H, W))
    plain = CoTrackerPredictor(model=model, vis_threshold=0.0)(video_m, queries=QUERIES, video_hw=(H, W))
    assert res.tracks.shape == (1, T, 4, 2)
    assert torch.equal(res.tracks[0, 0, :2], QUERIES[0, :2, 1:]) and not torch.equal(res.tracks, plain.tracks)


def test_export_script_and_command_line_switches(tmp_path, monkeypatch, load_script):
    from cotracker.api import _build_predictor
    from cotracker.commands import track_pose
    from cotracker.hub import build_cotracker, save_checkpoint

    save_checkpoint(tiny_model(), tmp_path / "src.safetensors")
    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--polish"]) == 0
    assert build_cotracker(tmp_path / "cotracker2-synth.safetensors").config.polish == PolishConfig()
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--polish-radius", "0.06",
                        "--polish-window", "9"]) == 0
    ckpt = tmp_path / "cotracker2-synth.safetensors"
    assert build_cotracker(ckpt).config.polish == PolishConfig(radius=0.06, window=9)
    with pytest.raises(SystemExit, match="window must be an odd number"):
        export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--polish-window", "8"])
    assert _build_predictor(ckpt, None, "cpu").polish == PolishConfig(radius=0.06, window=9)
    assert _build_predictor(ckpt, None, "cpu", polish=False).polish is None
    assert track_pose._build_predictor(str(ckpt), "cpu").polish is not None
    assert track_pose._build_predictor(str(ckpt), "cpu", polish=False).polish is None


def test_track_command_passes_no_polish(monkeypatch):
    import cotracker.api as api
    from cotracker.cli import main

    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(api, "track_video", stop)
    for extra, expected in (([], True), (["--no-polish"], False)):
        with pytest.raises(SystemExit):
            main(["track"] + extra)
        assert seen["polish"] is expected


def test_tune_polish_script(tmp_path, capsys, load_script):
    """One clip, two settings: the model's row first, then one per setting, and the best named for the export."""
    import argparse

    from cotracker.hub import save_checkpoint

    tune = load_script("tune_polish")
    assert tune.parse_setting("0.06,0.25,11") == PolishConfig(radius=0.06, fb_threshold=0.25, window=11)
    for bad in ("0.06,0.25", "0.06,0.25,10", "x,1,11"):
        with pytest.raises(argparse.ArgumentTypeError, match="RADIUS,FB,WINDOW"):
            tune.parse_setting(bad)
    save_checkpoint(tiny_model(), tmp_path / "m.safetensors")
    assert tune.main([str(tmp_path / "m.safetensors"), "--clips", "1", "--frames", "8", "--size", "64", "96",
                      "--settings", "0.06,0.25,11", "0.2,1,9"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 clips of 8 frames at 64x96, seeds 3000000..3000000, 64 queries each"
    rows = [line for line in out if line.startswith("| ") and not line.startswith("| polish")]
    assert [r.split(" | ")[0] for r in rows] == ["| none (the model)", "| 0.06, 0.25, 11", "| 0.2, 1, 9"]
    assert out[-1].startswith("best: --polish-radius ") and "without the polish" in out[-1]
    with pytest.raises(SystemExit, match="held-out"):
        tune.main([str(tmp_path / "m.safetensors"), "--seed", "1000003"])
