"""Feedback: each window's final positions (second pass, ensemble median) handed back to every pass.

* ``TrackerConfig.feedback``: validation, serialisation, predictor defaults and overrides;
* the mechanism: after a window every pass's streaming state holds the final positions of that window's frames
  (in its own resolution and, for an ensemble member, its own mirrored frames);
* no effect without a second pass or an ensemble; an effect with them; offline == online;
* the export, tuning and calibration scripts.
"""
from __future__ import annotations

import pytest
import torch

from cotracker.geometry import flip_points, rescale_points
from cotracker.models.config import TrackerConfig, tiny
from cotracker.models.cotracker2 import CoTracker2
from cotracker.predictor import _FLIPS, CoTrackerOnlinePredictor, CoTrackerPredictor, resize_video

HW = (40, 50)
FINE = (96, 144)  # tiny() runs at (64, 96)
QUERIES = torch.tensor([[[0.0, 10.0, 12.0], [0.0, 40.0, 30.0], [5.0, 25.0, 5.0], [13.0, 2.0, 38.0]]])



def tiny_model(**changes) -> CoTracker2:
    torch.manual_seed(0)
    return CoTracker2(tiny().replace(**changes)).eval()


def clip(T: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(1, T, 3, *HW, generator=torch.Generator().manual_seed(seed)) * 255).round()


def queries_for(T: int) -> torch.Tensor:
    q = QUERIES.clone()
    q[..., 0] = q[..., 0].clamp(max=T - 1)
    return q


def test_config_field_round_trips_validates_and_sets_the_predictor_default(tmp_path):
    from cotracker.hub import build_cotracker, save_checkpoint

    cfg = tiny().replace(feedback=True)
    assert TrackerConfig.from_dict(cfg.to_dict()) == cfg and tiny().feedback is False
    with pytest.raises(ValueError, match="feedback must be True or False"):
        tiny().replace(feedback=1)
    save_checkpoint(tiny_model(feedback=True), tmp_path / "m.safetensors")
    assert build_cotracker(tmp_path / "m.safetensors").config.feedback is True
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors").feedback is True
    assert CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors", feedback=False).feedback is False
    assert CoTrackerPredictor(model=tiny_model()).feedback is False  # official: each pass hands off its own
    assert CoTrackerOnlinePredictor(model=tiny_model(), feedback=True).feedback is True
    with pytest.raises(TypeError, match="feedback must be None"):
        CoTrackerPredictor(model=tiny_model(), feedback="yes")


def _first_window(predictor, video, q):
    """Run the first window through ``predictor._window`` and return its outputs and states."""
    video_m = resize_video(video, predictor.interp_shape)
    from cotracker.geometry import rescale_queries

    qm = rescale_queries(q, HW, predictor.interp_shape)
    S = predictor.model.config.window_len
    return predictor._window(video_m[:, :S], None, None, qm, None), S


def test_the_second_pass_positions_reach_the_first_pass_state():
    model = tiny_model()
    video, q = clip(12, seed=1), queries_for(12)
    for feedback in (False, True):
        pred = CoTrackerPredictor(model=model, refine_resolution=FINE, feedback=feedback)
        (coords, _, stream, refine), S = _first_window(pred, video, q)
        assert torch.allclose(rescale_points(refine.coords, FINE, pred.interp_shape), coords, atol=1e-4)
        # with feedback the first pass holds the refined positions; without, its own (different) ones
        assert torch.allclose(stream.coords, coords, atol=1e-4) is feedback


def test_every_ensemble_member_holds_the_median_in_its_own_frames():
    model = tiny_model()
    video, q = clip(12, seed=2), queries_for(12)
    pred = CoTrackerPredictor(model=model, refine_resolution=FINE, flip_ensemble=True, feedback=True)
    (median, _, streams, refines), S = _first_window(pred, video, q)
    hw = pred.interp_shape
    for axis, stream, refine in zip(_FLIPS, streams, refines):
        mine = median if axis is None else flip_points(median, hw, axis)
        assert torch.allclose(stream.coords, mine, atol=1e-4)
        assert torch.allclose(refine.coords, rescale_points(mine, hw, FINE), atol=1e-4)


def test_no_effect_on_one_pass_of_one_tracker_and_an_effect_with_a_second_pass():
    model = tiny_model()
    video, q = clip(24, seed=3), queries_for(24)
    one = [CoTrackerPredictor(model=model, feedback=fb)(video, queries=q) for fb in (False, True)]
    assert torch.equal(one[0].tracks, one[1].tracks) and torch.equal(one[0].visibility, one[1].visibility)
    two = [CoTrackerPredictor(model=model, refine_resolution=FINE, feedback=fb)(video, queries=q) for fb in (False, True)]
    # the frames only the first window tracks are the same; later windows start from other positions
    step = model.config.step
    assert torch.allclose(two[0].tracks[:, :step], two[1].tracks[:, :step], atol=1e-4)
    assert not torch.allclose(two[0].tracks[:, step:], two[1].tracks[:, step:], atol=1e-3)


@pytest.mark.parametrize("T,flip", [(21, False), (24, True), (3, True)])
def test_offline_equals_online_with_feedback(T, flip):
    model = tiny_model(refine_resolution=FINE, flip_ensemble=flip, feedback=True)
    video, q = clip(T, seed=T), queries_for(T)
    offline = CoTrackerPredictor(model=model, vis_threshold=0.6)(video, queries=q, add_support_grid=False)
    pred = CoTrackerOnlinePredictor(model=model)
    assert pred.feedback and pred.flip_ensemble is flip
    state = pred.init(queries=q, video_hw=HW)
    for ind in range(0, max(T - pred.step, 1), pred.step):
        online, state = pred.step(video[:, ind : ind + 2 * pred.step], state)
    assert torch.allclose(online.tracks, offline.tracks, atol=1e-4)
    assert torch.equal(online.visibility, offline.visibility)


def test_scripts_export_tune_and_calibrate_with_feedback(tmp_path, monkeypatch, capsys, load_script):
    from cotracker.hub import build_cotracker, save_checkpoint

    save_checkpoint(tiny_model(), tmp_path / "src.safetensors")
    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--feedback"]) == 0
    assert build_cotracker(tmp_path / "cotracker2-synth.safetensors").config.feedback is True
    capsys.readouterr()

    calibrate = load_script("calibrate_visibility")
    seen = []
    original = calibrate._ProbabilityPredictor._finalize

    def spy(self, *args):
        seen.append((self.feedback, self.refine_shape))
        return original(self, *args)

    monkeypatch.setattr(calibrate._ProbabilityPredictor, "_finalize", spy)
    base = [str(tmp_path / "src.safetensors"), "--clips", "1", "--iters", "1"]
    for extra, expected in [(["--feedback", "--refine-resolution", "96", "144"], (True, FINE)),
                            (["--refine-resolution", "96", "144"], (False, None)), ([], (False, None))]:
        seen.clear()
        assert calibrate.main(base + extra) == 0
        assert seen == [expected] and "best threshold" in capsys.readouterr().out
