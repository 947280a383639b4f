"""Local grids: a K x K grid of extra points around every explicit query (``local_grid_size``), tracked beside the
queries and dropped from the outputs; the evaluation and tuning options that reach it."""
from __future__ import annotations

import argparse

import pytest
import torch
from test_predictor import MODEL_HW, QUERIES, FakeTracker, expected_tracks, marker_video

from cotracker.commands.evaluate import add_inference_args, inference_kwargs
from cotracker.geometry import rescale_queries
from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor, _local_grids


@pytest.fixture
def fake():
    return FakeTracker()


def test_local_grids_by_hand():
    q = torch.tensor([[[3.0, 50.0, 30.0], [1.0, 2.0, 62.0]]])  # (1, 2, 3) model pixels of a 64 x 96 frame
    out = _local_grids(q, 3, 10.0, MODEL_HW)
    assert out.shape == (1, 18, 3)
    # query 0: offsets -5, 0, 5 on each axis, row-major (y outer, x inner), at its query frame
    xs = torch.tensor([45.0, 50.0, 55.0]).repeat(3)
    ys = torch.tensor([25.0, 30.0, 35.0]).repeat_interleave(3)
    assert torch.equal(out[0, :9, 0], torch.full((9,), 3.0))
    assert torch.equal(out[0, :9, 1], xs) and torch.equal(out[0, :9, 2], ys)
    # query 1 sits near the left and bottom borders: its points are clamped into the frame
    assert torch.equal(out[0, 9:, 0], torch.full((9,), 1.0))
    assert torch.equal(out[0, 9:, 1], torch.tensor([0.0, 2.0, 7.0]).repeat(3))
    assert torch.equal(out[0, 9:, 2], torch.tensor([57.0, 62.0, 63.0]).repeat_interleave(3))


def test_local_grids_batched_rows_follow_the_queries():
    q = torch.tensor([[[0.0, 10.0, 10.0]], [[2.0, 40.0, 20.0]]])  # (2, 1, 3)
    out = _local_grids(q, 2, 4.0, MODEL_HW)
    assert out.shape == (2, 4, 3)
    assert torch.equal(out[1, :, 0], torch.full((4,), 2.0))
    assert torch.equal(out[1, :, 1:], torch.tensor([[38.0, 18.0], [42.0, 18.0], [38.0, 22.0], [42.0, 22.0]]))


def test_offline_appends_local_grids_then_support_and_drops_both(fake):
    hw = (30, 40)
    video = marker_video(6, hw=hw)
    tracks, vis = CoTrackerPredictor(model=fake, local_grid_size=3, local_grid_extent=0.25)(video, queries=QUERIES)
    q = fake.calls[-1]["queries"]
    assert q.shape == (1, 4 + 4 * 9 + 36, 3)  # queries, their local grids, the support grid
    qm = rescale_queries(QUERIES, hw, MODEL_HW)
    assert torch.allclose(q[:, :4], qm)
    assert torch.allclose(q[:, 4:40], _local_grids(qm, 3, 0.25 * MODEL_HW[1], MODEL_HW))
    assert torch.equal(q[0, 40:, 0], torch.zeros(36))
    # the queries' own tracks are those of the plain predictor (the fake moves each point alone)
    assert tracks.shape == (1, 6, 4, 2) and vis.shape == (1, 6, 4)
    assert torch.allclose(tracks, expected_tracks(video, QUERIES, (0.5, -0.25), hw, backward=False), atol=1e-4)
    plain = CoTrackerPredictor(model=fake)(video, queries=QUERIES)
    assert torch.equal(tracks, plain.tracks) and torch.equal(vis, plain.visibility)


def test_offline_backward_tracking_with_local_grids(fake):
    hw = (30, 40)
    video = marker_video(7, hw=hw)
    pred = CoTrackerPredictor(model=fake, local_grid_size=2)
    tracks, _ = pred(video, queries=QUERIES, backward_tracking=True)
    back = fake.calls[-1]["queries"]
    assert back.shape == (1, 4 + 16 + 36, 3)
    # the reversed pass queries the local points at the reversed query frame of their query
    assert torch.equal(back[0, 4:20, 0], (6 - QUERIES[0, :, 0]).repeat_interleave(4))
    assert torch.allclose(tracks, expected_tracks(video, QUERIES, (0.5, -0.25), hw, backward=True), atol=1e-4)


def test_grids_and_dense_tracking_get_no_local_grid(fake):
    pred = CoTrackerPredictor(model=fake, local_grid_size=4, dense_grid_size=2)
    pred(marker_video(5), grid_size=3)
    assert fake.calls[-1]["queries"].shape == (1, 9, 3)
    pred(marker_video(5, hw=(4, 6)))  # dense: every pass is a lattice plus the support grid
    assert all(c["queries"].shape[1] <= 6 * 4 + 36 for c in fake.calls[1:])


def test_keypoint_ids_of_local_points_are_minus_one():
    fake = FakeTracker(num_keypoints=17)
    ids = torch.arange(4)[None]
    CoTrackerPredictor(model=fake, local_grid_size=2)(marker_video(5), queries=QUERIES, keypoint_ids=ids,
                                                      add_support_grid=False)
    kp = fake.calls[-1]["keypoint_ids"]
    assert torch.equal(kp, torch.cat([ids, torch.full((1, 16), -1)], dim=1))


def test_online_state_holds_the_local_grids(fake):
    hw = (30, 40)
    pred = CoTrackerOnlinePredictor(model=fake, local_grid_size=3)
    state = pred.init(QUERIES, video_hw=hw)
    assert state.queries.shape == (1, 4 + 36, 3) and state.num_points == 4
    grid_state = pred.init(grid_size=2, video_hw=hw)
    assert grid_state.queries.shape == (1, 4, 3)
    video = marker_video(8, hw=hw)
    result, _ = pred.step_chunk(video[:, :8], state)
    assert result.tracks.shape == (1, 8, 4, 2)
    plain_pred = CoTrackerOnlinePredictor(model=fake)
    plain, _ = plain_pred.step_chunk(video[:, :8], plain_pred.init(QUERIES, video_hw=hw))
    assert torch.equal(result.tracks, plain.tracks)


@pytest.mark.parametrize("kw, match", [
    (dict(local_grid_size=1), "0 .no local grid. or at least 2"),
    (dict(local_grid_size=-2), "local_grid_size"),
    (dict(local_grid_size=2.5), "local_grid_size"),
    (dict(local_grid_size=3, local_grid_extent=0.0), r"fraction of the model-resolution width, in \(0, 1\]"),
    (dict(local_grid_size=3, local_grid_extent=1.5), "in \\(0, 1\\]"),
    (dict(local_grid_size=3, local_grid_extent=True), "in \\(0, 1\\]"),
    (dict(local_grid_size=3, local_grid_extent="0.1"), "in \\(0, 1\\]"),
])
def test_bad_local_grid_settings(fake, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CoTrackerPredictor(model=fake, **kw)


def _inference_args(argv):
    ap = argparse.ArgumentParser()
    add_inference_args(ap)
    return inference_kwargs(ap.parse_args(argv))


def test_evaluate_options_reach_the_predictor():
    assert "local_grid_size" not in _inference_args([])
    assert _inference_args(["--local-grid", "3"])["local_grid_size"] == 3
    kw = _inference_args(["--local-grid", "5", "--local-grid-extent", "0.2"])
    assert kw["local_grid_size"] == 5 and kw["local_grid_extent"] == 0.2
    assert _inference_args(["--local-grid", "0"])["local_grid_size"] == 0
    with pytest.raises(ValueError, match="at least 2"):
        _inference_args(["--local-grid", "1"])
    with pytest.raises(ValueError, match="pass --local-grid K with it"):
        _inference_args(["--local-grid-extent", "0.2"])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        _inference_args(["--local-grid", "3", "--local-grid-extent", "2"])


def test_tune_inference_candidates_with_local_grids(load_script):
    tune = load_script("tune_inference")
    c = tune.parse_candidate("4:384x512:flip:fb:lg3")
    assert (c.iters, c.refine, c.flip, c.feedback, c.local_grid, c.local_extent) == (4, (384, 512), True, True, 3, 0.1)
    c = tune.parse_candidate("6:none:lg5x0.2")
    assert (c.refine, c.flip, c.local_grid, c.local_extent) == (False, False, 5, 0.2)
    assert c.local_label == "5x5 @ 0.2" and tune.parse_candidate("4:none").local_label == "-"
    for bad in ["4:none:lg1", "4:none:lg", "4:none:lg3x0", "4:none:lg3x2", "4:none:lg3:flip"]:
        with pytest.raises(argparse.ArgumentTypeError, match="lgK"):
            tune.parse_candidate(bad)


def test_weights_config_carries_the_default(fake):
    fake.config = fake.config.replace(local_grid_size=2, local_grid_extent=0.2)
    pred = CoTrackerPredictor(model=fake)
    assert (pred.local_grid_size, pred.local_grid_extent) == (2, 0.2)
    pred(marker_video(5), queries=QUERIES, add_support_grid=False)
    assert fake.calls[-1]["queries"].shape == (1, 4 + 16, 3)
    off = CoTrackerPredictor(model=fake, local_grid_size=0)  # the caller wins over the weights
    off(marker_video(5), queries=QUERIES, add_support_grid=False)
    assert fake.calls[-1]["queries"].shape == (1, 4, 3)
    assert CoTrackerOnlinePredictor(model=fake).init(QUERIES, video_hw=(30, 40)).queries.shape == (1, 4 + 16, 3)


@pytest.mark.parametrize("changes", [dict(local_grid_size=1), dict(local_grid_size=-1), dict(local_grid_size=True),
                                     dict(local_grid_extent=0.0), dict(local_grid_extent=3.0),
                                     dict(local_grid_extent=False)])
def test_bad_config_values(changes):
    from cotracker.models.config import TrackerConfig

    with pytest.raises(ValueError, match="local_grid"):
        TrackerConfig(**changes)


def test_export_stores_the_local_grid_and_loading_restores_it(tmp_path, monkeypatch, load_script):
    from test_flip_ensemble import tiny_model

    from cotracker.hub import build_cotracker, save_checkpoint

    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    save_checkpoint(tiny_model(), tmp_path / "src.safetensors")
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--local-grid", "3",
                        "--local-grid-extent", "0.15"]) == 0
    config = build_cotracker(tmp_path / "cotracker2-synth.safetensors").config
    assert (config.local_grid_size, config.local_grid_extent) == (3, 0.15)
    with pytest.raises(SystemExit, match="local_grid_size"):
        export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--local-grid", "1"])
    assert build_cotracker(tmp_path / "src.safetensors").config.local_grid_size == 0
    # configs written before the setting existed (our shipped files of sessions 1-7) load with none
    from cotracker.models.config import TrackerConfig

    old = {k: v for k, v in config.to_dict().items() if not k.startswith("local_grid")}
    assert TrackerConfig.from_dict(old).local_grid_size == 0


def test_calibration_script_calibrates_with_the_local_grid(tmp_path, monkeypatch, capsys, load_script):
    from test_feedback import tiny_model

    from cotracker.hub import save_checkpoint

    calibrate = load_script("calibrate_visibility")
    save_checkpoint(tiny_model(), tmp_path / "m.safetensors")
    seen = []
    original = calibrate._ProbabilityPredictor._finalize

    def spy(self, coords, vis, num_points, *args):
        out = original(self, coords, vis, num_points, *args)
        # the probabilities kept are the queries' own, not their local grids'
        seen.append((self.local_grid_size, coords.shape[2] // num_points, self.last_probabilities.shape[2] == num_points))
        return out

    monkeypatch.setattr(calibrate._ProbabilityPredictor, "_finalize", spy)
    base = [str(tmp_path / "m.safetensors"), "--clips", "1", "--iters", "1"]
    for extra, per_query in [(["--local-grid", "3"], 10), ([], 1)]:
        seen.clear()
        assert calibrate.main(base + extra) == 0
        assert seen == [(3 if extra else 0, per_query, True)]
        assert "best threshold" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--local-grid must be 0"):
        calibrate.main(base + ["--local-grid", "1"])
    with pytest.raises(SystemExit, match="--local-grid-extent"):
        calibrate.main(base + ["--local-grid", "3", "--local-grid-extent", "0"])


def test_track_command_and_api_pass_the_local_grid(tmp_path, monkeypatch, fake):
    import cotracker.api as api
    from cotracker.cli import main

    fake.config = fake.config.replace(local_grid_size=3)
    assert api._build_predictor(None, fake, "cpu").local_grid_size == 3  # the weights' setting
    assert api._build_predictor(None, fake, "cpu", local_grid=0).local_grid_size == 0
    assert api._build_predictor(None, fake, "cpu", local_grid=2).local_grid_size == 2
    with pytest.raises(ValueError, match="local_grid must be 0"):
        api._build_predictor(None, fake, "cpu", local_grid=1)
    seen = {}

    def fake_track_video(video, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(api, "track_video", fake_track_video)
    for extra, expected in [(["--local-grid", "0"], 0), (["--local-grid", "4"], 4), ([], None)]:
        with pytest.raises(SystemExit):
            main(["track", "--out", str(tmp_path / "o")] + extra)
        assert seen["local_grid"] == expected
    with pytest.raises(SystemExit) as exc:
        main(["track", "--local-grid", "-1"])
    assert exc.value.code == 2
