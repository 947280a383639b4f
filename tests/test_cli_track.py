"""End-to-end tests of ``cotracker track`` and ``cotracker.track_video``.

Two kinds of model are used: a tiny random CoTracker2 saved to a checkpoint file (the real path a user
takes: ``--checkpoint PATH``), and ``DriftModel``, a stand-in whose output is known in closed form, so
that the numbers written to tracks.npz / tracks.csv / overlay.mp4 can be checked exactly.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn

from cotracker import track_video
from cotracker.cli import main
from cotracker.io.queries import grid_queries
from cotracker.io.tracks import load_tracks, load_tracks_csv
from cotracker.io.video import probe_video, read_video, sample_video_path, write_video


class DriftModel(nn.Module):
    """Every point moves ``velocity`` model pixels per frame from its query; visible except odd frames after it.

    Follows the predictor's model contract: ``config.model_resolution`` and
    ``forward(video, queries, iters) -> (coords (B,T,N,2), vis (B,T,N) probabilities, ...)`` in model pixels.
    """

    def __init__(self, velocity=(1.0, 0.5), model_resolution=(64, 96)):
        super().__init__()
        self.config = SimpleNamespace(model_resolution=model_resolution, num_keypoints=0)
        self.register_buffer("velocity", torch.tensor(velocity))
        self.calls = []

    def forward(self, video, queries, iters=4, **kwargs):
        self.calls.append((tuple(video.shape), video.dtype, tuple(queries.shape)))
        T = video.shape[1]
        dt = torch.arange(T, dtype=torch.float32)[None, :, None] - queries[:, None, :, 0]  # (B, T, N)
        coords = queries[:, None, :, 1:] + dt[..., None] * self.velocity  # (B, T, N, 2)
        vis = torch.where(dt.long() % 2 == 1, 0.5, 0.95)
        return coords, vis, None


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    from cotracker.hub import save_checkpoint
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(CoTracker2(tiny()), path)
    return path


@pytest.fixture
def small_clip(tmp_path) -> Path:
    """A 10-frame 60x80 clip with a bright square moving right."""
    frames = np.full((10, 60, 80, 3), 40, np.uint8)
    for t in range(10):
        frames[t, 20:36, 5 + 4 * t : 21 + 4 * t] = 220
    path = tmp_path / "square.mp4"
    write_video(path, frames, fps=10)
    return path


def _run(capsys, *argv):
    code = main(["track", "--no-progress", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _no_leftovers(parent: Path, expected: set[str]):
    assert {p.name for p in parent.iterdir()} == expected  # no temporary siblings left behind


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["track", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--checkpoint", "--device", "--grid-size", "--grid-query-frame", "--queries", "--mask", "--dense",
                   "--backward", "--trail", "--out", "--overwrite", "--start", "--end", "--stride", "--max-size", "--no-polish",
                   "VIDEO"):
        assert option in out
    assert "tracks.npz" in out and "overlay.mp4" in out


def test_cli_on_bundled_sample(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "res"
    code, stdout, err = _run(capsys, "--checkpoint", tiny_ckpt, "--grid-size", 3, "--trail", 4, "--out", out, "--device", "cpu")
    assert code == 0, err
    assert "tracked 9 points through 36 frames" in stdout
    info = probe_video(sample_video_path())
    tf = load_tracks(out / "tracks.npz")
    assert tf.tracks.shape == (36, 9, 2) and tf.visibility.shape == (36, 9)
    assert tf.frame_size == (info.height, info.width) and tf.fps == pytest.approx(info.fps)
    assert tf.model_name == "tiny.safetensors"
    np.testing.assert_allclose(tf.queries, grid_queries(3, (info.height, info.width), 0, (64, 96)), atol=1e-4)
    np.testing.assert_allclose(tf.tracks[0], tf.queries[:, 1:], atol=1e-3)  # query frame pinned to the query
    assert np.isfinite(tf.tracks).all()
    frames, tracks_csv, vis_csv = load_tracks_csv(out / "tracks.csv")
    assert len((out / "tracks.csv").read_text().splitlines()) == 1 + 36 * 9
    np.testing.assert_allclose(tracks_csv, tf.tracks, atol=1e-3)
    np.testing.assert_array_equal(vis_csv, tf.visibility)
    overlay = read_video(out / "overlay.mp4")
    assert overlay.frames.shape == (36, info.height, info.width, 3)
    assert overlay.fps == pytest.approx(info.fps)
    _no_leftovers(tmp_path, {"res"})


def test_cli_on_real_clip_with_queries_and_range(shared_dir, tiny_ckpt, tmp_path, capsys):
    video = shared_dir / "data" / "videos" / "cat.mp4"  # 368x480, 20 fps
    queries = tmp_path / "q.json"
    queries.write_text(json.dumps([{"t": 7, "x": 100, "y": 200, "name": "ear"}, [11, 300.5, 50, "paw"], [5, 0, 0]]))
    out = tmp_path / "cat"
    code, _, err = _run(capsys, video, "--checkpoint", tiny_ckpt, "--queries", queries, "--start", 5, "--end", 17,
                        "--stride", 2, "--backward", "--max-size", 240, "--out", out)
    assert code == 0, err
    tf = load_tracks(out / "tracks.npz")
    np.testing.assert_array_equal(tf.frame_indices, [5, 7, 9, 11, 13, 15])
    assert tf.frame_size == (480, 368) and tf.fps == pytest.approx(10.0)
    assert tf.point_names == ["ear", "paw", ""]
    np.testing.assert_allclose(tf.queries, [[1, 100, 200], [3, 300.5, 50], [0, 0, 0]])  # t: clip frames
    np.testing.assert_allclose(tf.tracks[[1, 3, 0], [0, 1, 2]], tf.queries[:, 1:], atol=1e-3)
    frames, _, _ = load_tracks_csv(out / "tracks.csv")
    np.testing.assert_array_equal(frames, [5, 7, 9, 11, 13, 15])  # CSV uses source frame numbers
    overlay = read_video(out / "overlay.mp4")
    assert overlay.frames.shape[0] == 6 and max(overlay.frames.shape[1:3]) == 240


def test_cli_mask_on_real_clip(shared_dir, tiny_ckpt, tmp_path, capsys):
    videos = shared_dir / "data" / "videos"
    out = tmp_path / "apple"
    code, _, err = _run(capsys, videos / "apple.mp4", "--checkpoint", tiny_ckpt, "--mask", videos / "apple_mask.png",
                        "--grid-size", 8, "--end", 4, "--max-size", 160, "--out", out, "--no-overlay")
    assert code == 0, err
    tf = load_tracks(out / "tracks.npz")
    from PIL import Image

    mask = np.asarray(Image.open(videos / "apple_mask.png")) > 0
    assert 0 < tf.num_points < 64
    col, row = np.rint(tf.queries[:, 1]).astype(int), np.rint(tf.queries[:, 2]).astype(int)
    assert mask[row, col].mean() > 0.9  # the grid points kept lie on the apple
    assert not (out / "overlay.mp4").exists()


def test_overwrite_replaces_only_with_flag(tiny_ckpt, small_clip, tmp_path, capsys):
    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("old")
    code, _, err = _run(capsys, small_clip, "--checkpoint", tiny_ckpt, "--grid-size", 2, "--out", out)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    code, _, err = _run(capsys, small_clip, "--checkpoint", tiny_ckpt, "--grid-size", 2, "--out", out, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["overlay.mp4", "tracks.csv", "tracks.npz"]
    _no_leftovers(tmp_path, {"res", "square.mp4"})


def _bad_inputs(tmp_path: Path, small_clip: Path):
    (tmp_path / "notavideo.mp4").write_text("hello")
    from PIL import Image

    Image.fromarray(np.full((30, 40), 255, np.uint8)).save(tmp_path / "small_mask.png")
    (tmp_path / "outside.csv").write_text("t,x,y\n0,10,10\n0,80,10\n")
    (tmp_path / "late.csv").write_text("t,x,y\n12,10,10\n")
    return [
        ([tmp_path / "missing.mp4"], r"video not found: .*missing.mp4"),
        ([tmp_path / "notavideo.mp4"], r"cannot read video .*notavideo.mp4"),
        ([small_clip, "--mask", tmp_path / "small_mask.png"], r"mask .*small_mask.png is 40x30 but the video is 80x60"),
        ([small_clip, "--queries", tmp_path / "outside.csv"], r"query 1 \(t=0, x=80, y=10\) is outside"),
        ([small_clip, "--queries", tmp_path / "late.csv"], r"query 0 is at frame 12, which is not among the decoded frames"),
        ([small_clip, "--queries", tmp_path / "none.csv"], r"query file not found"),
        ([small_clip, "--checkpoint", tmp_path / "none.pth"], r"checkpoint file not found: .*none.pth"),
        ([small_clip, "--queries", tmp_path / "late.csv", "--dense"], r"cannot be combined"),
    ]


def test_bad_inputs_fail_cleanly(tiny_ckpt, small_clip, tmp_path, capsys):
    import re

    for argv, message in _bad_inputs(tmp_path, small_clip):
        out = tmp_path / "out"
        ckpt = [] if "--checkpoint" in argv else ["--checkpoint", tiny_ckpt]
        code, _, err = _run(capsys, *argv, *ckpt, "--out", out)
        assert code == 2, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cotracker track: error:"), err
        assert re.search(message, lines[0]), (message, lines[0])
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary folder left


def test_verbose_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="video not found"):
        main(["--verbose", "track", str(tmp_path / "missing.mp4")])


def test_missing_default_checkpoint_names_the_option(small_clip, tmp_path, capsys, monkeypatch):
    from cotracker import hub

    monkeypatch.setattr(hub, "_WEIGHTS_DIR", tmp_path / "no_weights")  # as if the package lost its weights
    code, _, err = _run(capsys, small_clip, "--out", tmp_path / "out")
    assert code == 2 and "--checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ track_video (API)


def test_track_video_exact_numbers(small_clip, tmp_path):
    model = DriftModel()
    queries = np.array([[0, 10, 20], [3, 40, 30]], np.float32)
    res = track_video(small_clip, queries=queries, model=model, out=tmp_path / "o", device="cpu")
    # the model saw a uint8 clip already at its resolution, with the 6x6 support grid appended to the 2 queries
    assert model.calls == [((1, 10, 3, 64, 96), torch.uint8, (1, 2 + 36, 3))]
    H, W = 60, 80
    sx, sy = (96 - 1) / (W - 1), (64 - 1) / (H - 1)  # source -> model pixels (align-corners)
    t = np.arange(10)[:, None]
    expected_x = queries[:, 1] + (t - queries[:, 0]) * 1.0 / sx  # drift of (1, 0.5) model px per frame
    expected_y = queries[:, 2] + (t - queries[:, 0]) * 0.5 / sy
    tf = load_tracks(res.tracks_npz)
    np.testing.assert_allclose(tf.tracks[..., 0], expected_x, atol=1e-3)
    np.testing.assert_allclose(tf.tracks[..., 1], expected_y, atol=1e-3)
    dt = t - queries[:, 0]
    np.testing.assert_array_equal(tf.visibility, (dt % 2 == 0))  # prob 0.5 on odd frames after the query
    np.testing.assert_allclose(res.tracks.tracks[0].numpy(), tf.tracks)
    assert res.overlay == tmp_path / "o" / "overlay.mp4" and res.out_dir == tmp_path / "o"
    # the overlay shows each visible point in its colour at its tracked position
    overlay = read_video(res.overlay).frames
    from cotracker.viz.colors import query_colors

    c = query_colors(tf.queries[:, 2]).astype(int)
    for frame in (4, 6):
        for n in range(2):
            if frame < queries[n, 0] or not tf.visibility[frame, n]:
                continue
            x, y = np.rint(tf.tracks[frame, n]).astype(int)
            assert np.abs(overlay[frame, y, x].astype(int) - c[n]).max() < 60


class SteadyModel(DriftModel):
    """DriftModel, every point visible, drifting (1.83, 1.12) source pixels per frame on 60x80 frames, with the
    Lucas-Kanade polish in its config."""

    def __init__(self):
        super().__init__(velocity=(2.2, 1.2))
        from cotracker.polish import PolishConfig

        self.config.polish = PolishConfig(radius=0.1)

    def forward(self, video, queries, iters=4, **kwargs):
        coords, vis, extra = super().forward(video, queries, iters, **kwargs)
        return coords, torch.full_like(vis, 0.95), extra


@pytest.fixture
def texture_clip(tmp_path) -> Path:
    """A 10-frame 60x80 clip of a smooth texture translating (2, 1) pixels per frame."""
    yy, xx = np.meshgrid(np.arange(60.0), np.arange(80.0), indexing="ij")
    frames = []
    for t in range(10):
        x, y = xx - 2.0 * t, yy - 1.0 * t
        img = 128 + 50 * np.sin(0.41 * x + 0.23 * y) + 50 * np.cos(0.29 * y - 0.17 * x)
        frames.append(np.repeat(img[..., None], 3, axis=2).clip(0, 255).astype(np.uint8))
    path = tmp_path / "texture.mp4"
    write_video(path, np.stack(frames), fps=10)
    return path


@pytest.mark.parametrize("max_size", [None, 40])
def test_track_video_polishes_on_the_video_frames_not_the_model_ones(texture_clip, max_size):
    from cotracker.geometry import rescale_points
    from cotracker.polish import PolishConfig, polish_tracks

    queries = np.array([[0, 20, 25], [0, 30, 30], [2, 40, 20]], np.float32)
    plain = track_video(texture_clip, queries=queries, model=SteadyModel(), polish=False, write=False,
                        max_size=max_size).track_file
    model = SteadyModel()
    res = track_video(texture_clip, queries=queries, model=model, write=False, max_size=max_size)
    assert model.calls[0][:2] == ((1, 10, 3, 64, 96), torch.uint8)  # the model saw its own resolution only
    # the polish ran on the frames as decoded for the overlay (the video's own size, or max_size's), one at a time
    clip = read_video(texture_clip, max_size=max_size).frames
    hw = clip.shape[1:3]
    xy = rescale_points(torch.from_numpy(plain.tracks), (60, 80), hw)
    want = polish_tracks(torch.from_numpy(clip).permute(0, 3, 1, 2), xy, torch.from_numpy(plain.visibility),
                         torch.from_numpy(queries[:, 0]).long(), PolishConfig(radius=0.1))
    want = rescale_points(want, hw, (60, 80)).numpy()
    want[queries[:, 0].astype(int), np.arange(3)] = queries[:, 1:]
    np.testing.assert_allclose(res.track_file.tracks, want, atol=1e-4)
    np.testing.assert_allclose(res.tracks.tracks[0].numpy(), res.track_file.tracks)
    # and it followed the texture, which moves (2, 1) pixels per frame: the model's drift is (0.17, 0.12) off
    if max_size is None:
        truth = queries[:, 1:] + (9 - queries[:, :1]) * np.array([2.0, 1.0], np.float32)
        assert np.abs(plain.tracks[9] - truth).max() > 1.0
        assert np.abs(res.track_file.tracks[9] - truth).max() < 0.3


def test_track_video_polish_pass_that_does_not_match_the_first_fails_clearly(texture_clip, monkeypatch):
    import cotracker.api as api

    real, passes = api.iter_frames, []

    def shorter_second_pass(*args, **kwargs):  # the file "changes" between the two decoding passes
        passes.append(1)
        frames = list(real(*args, **kwargs))
        return iter(frames if len(passes) == 1 else frames[:7])

    monkeypatch.setattr(api, "iter_frames", shorter_second_pass)
    with pytest.raises(ValueError, match="second decoding pass .*the frames ended after 7 of the tracks' 10.*"
                                         "--no-polish"):
        track_video(texture_clip, grid_size=2, model=SteadyModel(), write=False)


def test_track_video_without_writing_and_grid_default(small_clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = track_video(small_clip, model=DriftModel(), write=False)
    assert res.out_dir is None and res.tracks_npz is None
    assert res.track_file.num_points == 100  # the default 10 x 10 grid
    assert not (tmp_path / "cotracker_out").exists()
    res = track_video(small_clip, model=DriftModel(), grid_size=2, end=4)
    assert res.out_dir == Path("cotracker_out") / "square"  # default output folder
    assert (tmp_path / "cotracker_out" / "square" / "tracks.npz").is_file()


def test_track_video_dense_and_image_folder(small_clip, tmp_path):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in enumerate(read_video(small_clip, end=4).frames):
        Image.fromarray(f).save(folder / f"{t:02d}.png")
    predictor_kw = DriftModel()
    res = track_video(folder, model=predictor_kw, dense=True, write=False)
    tf = res.track_file
    assert tf.num_frames == 4 and tf.num_points > 100
    np.testing.assert_allclose(tf.tracks[0], tf.queries[:, 1:])
    assert (tf.queries[:, 0] == 0).all()


def test_track_video_rejects_conflicting_options(small_clip):
    with pytest.raises(ValueError, match="either queries or a mask"):
        track_video(small_clip, queries=np.zeros((1, 3)), dense=True, model=DriftModel(), write=False)
    with pytest.raises(ValueError, match="trail must be >= 0"):
        track_video(small_clip, trail=-1, model=DriftModel(), write=False)
    with pytest.raises(ValueError, match="device must be auto, cpu or cuda"):
        track_video(small_clip, device="tpu", model=DriftModel(), write=False)
