"""The flip ensemble: three trackers (the frames as they are, mirrored left-right, upside-down), median of their tracks.

* ``geometry.flip_points``: the mirror map of the package's align-corners convention;
* ``TrackerConfig.flip_ensemble``: validation, serialisation, predictor defaults and overrides;
* the predictors: the ensemble equals the median of three single trackers run on flipped videos by hand,
  offline == online, with and without the second pass;
* the command-line options and the export / tuning scripts.
"""
from __future__ import annotations

import re

import pytest
import torch

from cotracker.geometry import flip_points, rescale_points, rescale_queries
from cotracker.models.config import TrackerConfig, tiny
from cotracker.models.cotracker2 import CoTracker2
from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor, inference_overrides, resize_video

HW = (40, 50)
FINE = (96, 144)  # tiny() runs at (64, 96)
QUERIES = torch.tensor([[[0.0, 10.0, 12.0], [0.0, 40.0, 30.0], [5.0, 25.0, 5.0], [13.0, 2.0, 38.0]]])


def tiny_model(**changes) -> CoTracker2:
    torch.manual_seed(0)
    return CoTracker2(tiny().replace(**changes)).eval()


def clip(T: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(1, T, 3, *HW, generator=torch.Generator().manual_seed(seed)) * 255).round()



# -- geometry ---------------------------------------------------------------------------------------------------


def test_flip_points_mirrors_pixel_centres_and_is_an_involution():
    xy = torch.tensor([[0.0, 0.0], [49.0, 39.0], [10.25, 3.5]])
    assert torch.equal(flip_points(xy, HW, "x"), torch.tensor([[49.0, 0.0], [0.0, 39.0], [38.75, 3.5]]))
    assert torch.equal(flip_points(xy, HW, "y"), torch.tensor([[0.0, 39.0], [49.0, 0.0], [10.25, 35.5]]))
    for axis in ("x", "y"):
        assert torch.equal(flip_points(flip_points(xy, HW, axis), HW, axis), xy)
    # mirroring commutes with the align-corners rescaling between resolutions
    big = (64, 96)
    assert torch.allclose(rescale_points(flip_points(xy, HW, "x"), HW, big),
                          flip_points(rescale_points(xy, HW, big), big, "x"), atol=1e-5)
    # a pixel's value moves with its centre under torch.flip
    image = torch.arange(40 * 50.0).reshape(40, 50)
    x, y = 7, 31
    (fx, fy), = flip_points(torch.tensor([[float(x), float(y)]]), HW, "x").long().tolist()
    assert image.flip(-1)[fy, fx] == image[y, x]
    with pytest.raises(ValueError, match="axis must be 'x' or 'y'"):
        flip_points(xy, HW, "z")


# -- config and defaults ----------------------------------------------------------------------------------------


def test_config_field_round_trips_and_validates(tmp_path):
    from cotracker.hub import build_cotracker, save_checkpoint

    cfg = tiny().replace(flip_ensemble=True)
    assert TrackerConfig.from_dict(cfg.to_dict()) == cfg and tiny().flip_ensemble is False
    for bad in [1, "yes", None]:
        with pytest.raises(ValueError, match="flip_ensemble must be True or False"):
            tiny().replace(flip_ensemble=bad)
    save_checkpoint(tiny_model(flip_ensemble=True), tmp_path / "m.safetensors")
    assert build_cotracker(tmp_path / "m.safetensors").config.flip_ensemble is True
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors").flip_ensemble is True


def test_predictor_defaults_and_overrides():
    plain, tuned = tiny_model(), tiny_model(flip_ensemble=True)
    for cls in (CoTrackerPredictor, CoTrackerOnlinePredictor):
        assert cls(model=plain).flip_ensemble is False and cls(model=tuned).flip_ensemble is True
        assert cls(model=tuned, flip_ensemble=False).flip_ensemble is False
        assert cls(model=plain, flip_ensemble=True).flip_ensemble is True
        with pytest.raises(TypeError, match="flip_ensemble must be None .* True or False"):
            cls(model=plain, flip_ensemble=1)
    assert inference_overrides() == {}
    assert inference_overrides(refine=False, flip_ensemble=False) == {"refine_resolution": False, "flip_ensemble": False}
    assert inference_overrides(local_grid=0) == {"local_grid_size": 0}
    assert inference_overrides(local_grid=3) == {"local_grid_size": 3}
    with pytest.raises(ValueError, match="local_grid must be 0"):
        inference_overrides(local_grid=1)


# -- the ensemble -----------------------------------------------------------------------------------------------


def model_inputs(predictor, video, queries):
    """The video resized to the model resolution and the queries in its pixels (what ``_run`` takes)."""
    hw = predictor.interp_shape
    return resize_video(video, hw), rescale_queries(queries, HW, hw)


def by_hand(model, video, queries, **kw):
    """Median of three single trackers run on the (model-resolution) video as it is and flipped by hand, and the
    mean of their visibility probabilities."""
    single = CoTrackerPredictor(model=model, flip_ensemble=False, **kw)
    video_m, queries_m = model_inputs(single, video, queries)
    hw = single.interp_shape
    tracks, probs = [], []
    for axis, dim in ((None, None), ("x", -1), ("y", -2)):
        v = video_m if axis is None else video_m.flip(dim)
        q = queries_m if axis is None else torch.cat([queries_m[..., :1], flip_points(queries_m[..., 1:], hw, axis)], -1)
        coords, vis = single._run(v, q, None)
        tracks.append(coords if axis is None else flip_points(coords, hw, axis))
        probs.append(vis)
    return torch.stack(tracks).median(0).values, torch.stack(probs).mean(0), tracks[0]


@pytest.mark.parametrize("refine", [None, FINE])
def test_ensemble_is_the_median_of_three_flipped_trackers(refine, monkeypatch):
    model = tiny_model()
    video = clip(12, seed=3)
    q = QUERIES[:, :3]
    kw = {} if refine is None else {"refine_resolution": refine}
    ens = CoTrackerPredictor(model=model, flip_ensemble=True, **kw)
    calls = []
    original = ens._window_single
    monkeypatch.setattr(ens, "_window_single", lambda *a: calls.append(a[0]) or original(*a))
    got_c, got_v = ens._run(*model_inputs(ens, video, q), None)
    want_c, want_v, unflipped = by_hand(model, video, q, **kw)
    assert torch.allclose(got_c, want_c, atol=1e-4) and torch.allclose(got_v, want_v, atol=1e-5)
    # 2 windows x 3 members, the members' frames mirrored as asked
    assert len(calls) == 6
    assert torch.equal(calls[1], calls[0].flip(-1)) and torch.equal(calls[2], calls[0].flip(-2))
    # the members disagree on this random model: the median is not just the unflipped tracker
    assert not torch.allclose(got_c, unflipped, atol=1e-2)


@pytest.mark.parametrize("T,refine", [(24, None), (21, FINE), (3, FINE)])
def test_ensemble_offline_equals_online(T, refine):
    model = tiny_model(flip_ensemble=True, **({} if refine is None else {"refine_resolution": refine}))
    video = clip(T, seed=T)
    q = QUERIES.clone()
    q[..., 0] = q[..., 0].clamp(max=T - 1)
    offline = CoTrackerPredictor(model=model, vis_threshold=0.6)(video, queries=q, add_support_grid=False)
    pred = CoTrackerOnlinePredictor(model=model)
    assert pred.flip_ensemble
    state = pred.init(queries=q, video_hw=HW)
    for ind in range(0, max(T - pred.step, 1), pred.step):
        online, state = pred.step(video[:, ind : ind + 2 * pred.step], state)
    assert isinstance(state.stream, tuple) and len(state.stream) == 3
    assert torch.allclose(online.tracks, offline.tracks, atol=1e-4)
    assert torch.equal(online.visibility, offline.visibility)
    n = torch.arange(4)
    assert torch.allclose(offline.tracks[0, q[0, :, 0].long(), n], q[0, :, 1:])  # query frames pinned


def test_ensemble_with_backward_tracking_and_support_grid():
    model = tiny_model()
    video = clip(12, seed=4)
    out = CoTrackerPredictor(model=model, flip_ensemble=True)(video, queries=QUERIES[:, 1:3], backward_tracking=True,
                                                              add_support_grid=True)
    assert out.tracks.shape == (1, 12, 2, 2) and bool(torch.isfinite(out.tracks).all())


# -- command line and scripts -----------------------------------------------------------------------------------


def test_no_ensemble_option_reaches_the_predictor(monkeypatch):
    import cotracker.api as api
    import cotracker.evaluation as evaluation
    from cotracker.cli import main
    from cotracker.commands import track_pose

    tuned = tiny_model(flip_ensemble=True)
    assert api._build_predictor(None, tuned, "cpu").flip_ensemble is True
    assert api._build_predictor(None, tuned, "cpu", ensemble=False).flip_ensemble is False
    seen = {}

    def stop(*args, **kwargs):  # `cotracker track --no-ensemble`: tests/test_refine.py
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(evaluation, "make_tracker", stop)
    for extra, expected in [(["--no-ensemble"], False), ([], None)]:
        seen.clear()
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--checkpoint", "cotracker2-synth"] + extra)
        assert seen.get("flip_ensemble") is expected
    monkeypatch.setattr("cotracker.predictor.CoTrackerPredictor",
                        lambda checkpoint=None, device=None, **kw: CoTrackerPredictor(model=tuned, **kw))
    assert track_pose._build_predictor("x", "cpu", ensemble=False).flip_ensemble is False
    assert track_pose._build_predictor("x", "cpu").flip_ensemble is True
    with pytest.raises(SystemExit):
        main(["track-pose", "--help"])


def test_export_and_tuning_scripts(tmp_path, monkeypatch, load_script):
    from cotracker.hub import build_cotracker, save_checkpoint

    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    save_checkpoint(tiny_model(), tmp_path / "src.safetensors")
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--flip-ensemble"]) == 0
    assert build_cotracker(tmp_path / "cotracker2-synth.safetensors").config.flip_ensemble is True
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth"]) == 0
    assert build_cotracker(tmp_path / "cotracker2-synth.safetensors").config.flip_ensemble is False

    tune = load_script("tune_inference")
    assert tune.parse_candidate("4:384x512:flip")[:4] == (4, (384, 512), True, False)
    assert tune.parse_candidate("6:none") == (6, False, False, False, 0, 0.1)
    assert tune.parse_candidate("4:384x512:flip:fb")[:4] == (4, (384, 512), True, True)
    assert tune.parse_candidate("4:384x512:fb")[:4] == (4, (384, 512), False, True)
    for bad in ["4:384x512:flop", "4", "4:384:flip", "x:none", "4:none:fb:flip"]:
        with pytest.raises(Exception, match="optionally followed by :flip"):
            tune.parse_candidate(bad)


def test_tune_inference_scores_clips_of_the_requested_length(tmp_path, capsys, load_script):
    from cotracker.hub import save_checkpoint

    tune = load_script("tune_inference")
    save_checkpoint(tiny_model(), tmp_path / "m.safetensors")
    assert tune.main([str(tmp_path / "m.safetensors"), "--clips", "1", "--frames", "12", "--candidates", "1:none"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 clips of 12 frames, seeds 3000000..3000000") and "best: --iters 1" in out
    assert re.search(r"\(delta_avg \d+\.\d; unrounded \d+\.\d{3}\)", out)
    with pytest.raises(SystemExit, match="at least 2"):
        tune.main([str(tmp_path / "m.safetensors"), "--frames", "1"])


def test_calibration_script_can_calibrate_the_ensemble(tmp_path, monkeypatch, capsys, load_script):
    from cotracker.hub import save_checkpoint

    calibrate = load_script("calibrate_visibility")
    save_checkpoint(tiny_model(), tmp_path / "m.safetensors")
    seen = []
    original = calibrate._ProbabilityPredictor._finalize

    def spy(self, *args):
        seen.append(self.flip_ensemble)
        return original(self, *args)

    monkeypatch.setattr(calibrate._ProbabilityPredictor, "_finalize", spy)
    for extra, expected in [(["--flip-ensemble"], True), ([], False)]:
        seen.clear()
        assert calibrate.main([str(tmp_path / "m.safetensors"), "--clips", "1", "--iters", "1"] + extra) == 0
        assert seen == [expected]
        assert "best threshold" in capsys.readouterr().out
