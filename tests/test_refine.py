"""Coarse-to-fine refinement and per-weights inference settings.

* ``TrackerConfig.inference_iters`` / ``refine_resolution``: validation, serialisation, predictor defaults;
* ``CoTracker2.stream_step(..., init_coords=)``: how a first guess initialises each window;
* ``position_embedding``: the position embedding at another resolution than the trained one;
* the predictors' second pass (offline == online, visibility from the first pass, options and errors).
"""
from __future__ import annotations

import pytest
import torch

from cotracker.models.config import TrackerConfig, tiny
from cotracker.models.cotracker2 import CoTracker2, position_embedding
from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor

HW = (40, 50)
FINE = (96, 144)  # tiny() runs at (64, 96)


def tiny_model(**changes) -> CoTracker2:
    torch.manual_seed(0)
    return CoTracker2(tiny().replace(**changes)).eval()


def clip(T: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(1, T, 3, *HW, generator=torch.Generator().manual_seed(seed)) * 255).round()


QUERIES = torch.tensor([[[0.0, 10.0, 12.0], [0.0, 40.0, 30.0], [5.0, 25.0, 5.0], [13.0, 2.0, 38.0]]])


# -- config ---------------------------------------------------------------------------------------------------


def test_config_fields_round_trip_and_validate():
    cfg = tiny().replace(inference_iters=4, refine_resolution=[96, 144])
    assert cfg.refine_resolution == (96, 144)
    assert TrackerConfig.from_dict(cfg.to_dict()) == cfg
    for bad in [(95, 144), (96,), (16, 16), ("a", 96), (96.5, 144)]:
        with pytest.raises(ValueError, match="refine_resolution must be None or"):
            tiny().replace(refine_resolution=bad)
    for bad in [0, -1, 2.0, True]:
        with pytest.raises(ValueError, match="inference_iters must be a positive int"):
            tiny().replace(inference_iters=bad)


def test_settings_travel_in_the_safetensors(tmp_path):
    from cotracker.hub import build_cotracker, save_checkpoint

    save_checkpoint(tiny_model(inference_iters=3, refine_resolution=FINE), tmp_path / "m.safetensors")
    loaded = build_cotracker(tmp_path / "m.safetensors")
    assert loaded.config.inference_iters == 3 and loaded.config.refine_resolution == FINE
    pred = CoTrackerPredictor(checkpoint=tmp_path / "m.safetensors")
    assert pred.iters == 3 and pred.refine_shape == FINE


def test_predictor_defaults_and_overrides():
    plain = tiny_model()
    assert CoTrackerPredictor(model=plain).iters == 6 and CoTrackerPredictor(model=plain).refine_shape is None
    tuned = tiny_model(inference_iters=4, refine_resolution=FINE)
    for cls in (CoTrackerPredictor, CoTrackerOnlinePredictor):
        assert cls(model=tuned).iters == 4 and cls(model=tuned).refine_shape == FINE
        assert cls(model=tuned, iters=2).iters == 2  # the caller wins
        assert cls(model=tuned, refine_resolution=False).refine_shape is None
        assert cls(model=plain, refine_resolution=(128, 192)).refine_shape == (128, 192)
    for bad in [(97, 144), (96,), "384x512", True, (96.0, 144.0)]:
        with pytest.raises(ValueError, match=r"refine_resolution must be None .* e\.g\. \(384, 512\)"):
            CoTrackerPredictor(model=plain, refine_resolution=bad)


# -- the model's first guess ------------------------------------------------------------------------------------


def test_init_coords_initialise_each_window():
    """Window 1 starts from the guess (query position before the query frame); window 2 keeps the predictions
    handed off on its overlap frames and takes the guess on the new ones."""
    model = tiny_model()
    seen = []
    original = model.forward_window

    def spy(fmaps, coords, *args, **kwargs):
        seen.append(coords.clone())
        return original(fmaps, coords, *args, **kwargs)

    model.forward_window = spy
    q = torch.tensor([[[0.0, 8.0, 12.0], [2.0, 40.0, 20.0]]])  # model pixels
    video = clip(12, seed=1)[:, :, :, :32, :48]
    video = torch.nn.functional.interpolate(video[0], size=(64, 96))[None]
    guess = torch.rand(1, 12, 2, 2, generator=torch.Generator().manual_seed(5)) * 40
    stride = model.config.stride
    state = model.init_stream(q)
    with torch.no_grad():
        out1, state = model.stream_step(video[:, 0:8], state, iters=2, init_coords=guess[:, 0:8])
        first_window = out1.coords.clone()
        _, state = model.stream_step(video[:, 4:12], state, iters=2, init_coords=guess[:, 4:12])
    w1, w2 = seen
    assert torch.allclose(w1[0, :, 0], guess[0, 0:8, 0] / stride)
    assert torch.allclose(w1[0, 2:, 1], guess[0, 2:8, 1] / stride)
    assert torch.allclose(w1[0, :2, 1], q[0, 1, 1:].expand(2, 2) / stride)  # before its query frame
    assert torch.allclose(w2[0, :4], first_window[0, 4:8] / stride)  # overlap: handed off
    assert torch.allclose(w2[0, 4:], guess[0, 8:12] / stride)  # new frames: the guess


def test_init_coords_errors():
    model = tiny_model()
    state = model.init_stream(torch.tensor([[[0.0, 8.0, 12.0]]]))
    chunk = torch.zeros(1, 8, 3, 64, 96)
    with pytest.raises(ValueError, match=r"init_coords must have shape \(B, T_c, N, 2\) = \(1, 8, 1, 2\)"):
        model.stream_step(chunk, state, init_coords=torch.zeros(1, 7, 1, 2))
    with pytest.raises(ValueError, match="NaN"):
        model.stream_step(chunk, state, init_coords=torch.full((1, 8, 1, 2), float("nan")))
    with pytest.raises(TypeError, match="float tensor"):
        model.stream_step(chunk, state, init_coords=torch.zeros(1, 8, 1, 2, dtype=torch.int64))


def test_position_embedding_is_stretched_over_other_resolutions():
    model = tiny_model()
    pe = model.pos_emb  # (1, D, 16, 24)
    h, w = pe.shape[-2:]
    native = torch.tensor([[[0.0, 0.0], [w - 1.0, h - 1.0], [5.0, 7.0]]])
    assert torch.allclose(position_embedding(pe, native, (h, w))[0, 2], pe[0, :, 7, 5])  # plain sampling
    big = (2 * h, 2 * w)
    corners = torch.tensor([[[0.0, 0.0], [2 * w - 1.0, 2 * h - 1.0]]])
    got = position_embedding(pe, corners, big)[0]
    assert torch.allclose(got[0], pe[0, :, 0, 0]) and torch.allclose(got[1], pe[0, :, -1, -1], atol=1e-6)


# -- the predictors' second pass --------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [24, 21, 3])
def test_refined_offline_equals_online(T):
    model = tiny_model(refine_resolution=FINE)
    video = clip(T, seed=T)
    q = QUERIES.clone()
    q[..., 0] = q[..., 0].clamp(max=T - 1)
    offline = CoTrackerPredictor(model=model, vis_threshold=0.6)(video, queries=q, add_support_grid=False)
    pred = CoTrackerOnlinePredictor(model=model)
    state = pred.init(queries=q, video_hw=HW)
    for ind in range(0, max(T - pred.step, 1), pred.step):  # the README loop (one chunk for a short clip)
        online, state = pred.step(video[:, ind : ind + 2 * pred.step], state)
    assert online.tracks.shape == offline.tracks.shape == (1, T, 4, 2)
    assert torch.allclose(online.tracks, offline.tracks, atol=1e-4)
    assert torch.equal(online.visibility, offline.visibility)


def test_second_pass_moves_points_and_keeps_the_first_pass_visibility():
    model = tiny_model()
    video = clip(12, seed=2)
    base = CoTrackerPredictor(model=model)(video, queries=QUERIES[:, :3], backward_tracking=True)
    fine = CoTrackerPredictor(model=model, refine_resolution=FINE)(video, queries=QUERIES[:, :3], backward_tracking=True)
    assert fine.tracks.shape == base.tracks.shape and bool(torch.isfinite(fine.tracks).all())
    assert not torch.allclose(fine.tracks, base.tracks)
    assert torch.equal(fine.visibility, base.visibility)
    n = torch.arange(3)
    assert torch.equal(fine.tracks[0, QUERIES[0, :3, 0].long(), n], QUERIES[0, :3, 1:])  # query frames pinned


def test_second_pass_runs_at_the_refine_resolution():
    model = tiny_model()
    sizes = []
    original = model.encode

    def spy(frames):
        sizes.append(tuple(frames.shape[-2:]))
        return original(frames)

    model.encode = spy
    CoTrackerPredictor(model=model, refine_resolution=FINE)(clip(12), queries=QUERIES[:, :2])
    assert set(sizes) == {(64, 96), FINE}
    assert sizes.count(FINE) == sizes.count((64, 96))  # each window encoded once per pass


# -- command line and scripts -----------------------------------------------------------------------------------


def test_no_refine_option_reaches_the_predictor(monkeypatch, tmp_path):
    import cotracker.api as api
    from cotracker.cli import main

    tuned = tiny_model(refine_resolution=FINE)
    assert api._build_predictor(None, tuned, "cpu").refine_shape == FINE
    assert api._build_predictor(None, tuned, "cpu", refine=False).refine_shape is None
    assert api._build_predictor(None, tuned, "cpu", refine=(96, 128)).refine_shape == (96, 128)
    seen = {}

    def fake_track_video(video, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(api, "track_video", fake_track_video)
    for argv, expected in [(["track", "--no-refine"], (False, True)), (["track", "--no-ensemble"], (True, False)),
                           (["track"], (True, True)), (["track", "--refine-resolution", "480", "640"], ((480, 640), True))]:
        with pytest.raises(SystemExit):
            main(argv + ["--out", str(tmp_path / "o")])
        assert (seen["refine"], seen["ensemble"]) == expected  # --no-ensemble: tests/test_flip_ensemble.py


def test_export_script_stores_the_inference_settings(tmp_path, monkeypatch, load_script):
    from cotracker.hub import build_cotracker, save_checkpoint

    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    save_checkpoint(tiny_model(), tmp_path / "src.safetensors")
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--vis-threshold", "0.2",
                        "--iters", "4", "--refine-resolution", "96", "144"]) == 0
    cfg = build_cotracker(tmp_path / "cotracker2-synth.safetensors").config
    assert (cfg.vis_threshold, cfg.inference_iters, cfg.refine_resolution) == (0.2, 4, FINE)
    with pytest.raises(SystemExit, match="refine_resolution must be None or"):
        export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--refine-resolution", "97", "144"])


def test_export_script_sets_the_first_pass_resolution(tmp_path, monkeypatch, load_script):
    # weights trained at the second pass's resolution ship with the usual first pass: only pos_emb's table changes
    from cotracker.hub import build_cotracker, load_state_dict_file, save_checkpoint

    export = load_script("export_weights")
    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    trained_fine = tiny_model(model_resolution=FINE)
    save_checkpoint(trained_fine, tmp_path / "src.safetensors")
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--model-resolution", "64", "96",
                        "--refine-resolution", *map(str, FINE)]) == 0
    shipped = build_cotracker(tmp_path / "cotracker2-synth.safetensors")
    assert shipped.config.model_resolution == (64, 96) and shipped.config.refine_resolution == FINE
    src_sd, _ = load_state_dict_file(tmp_path / "src.safetensors")
    out_sd, _ = load_state_dict_file(tmp_path / "cotracker2-synth.safetensors")
    assert set(src_sd) == set(out_sd)
    assert all(torch.equal(out_sd[k], v) for k, v in src_sd.items() if k != "pos_emb")
    assert tuple(out_sd["pos_emb"].shape[2:]) == (16, 24)
    # the same weights built at 64x96 from scratch track identically
    same = tiny_model()
    same.load_state_dict({**src_sd, "pos_emb": same.pos_emb})
    video = torch.rand(1, 8, 3, 64, 96) * 255
    q = torch.tensor([[[0.0, 20.0, 30.0], [2.0, 50.0, 10.0]]])
    a, b = shipped(video, q, iters=2), same(video, q, iters=2)
    assert torch.allclose(a.coords, b.coords) and torch.allclose(a.vis, b.vis)
    with pytest.raises(SystemExit, match="model-resolution"):
        export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--model-resolution", "65", "96"])
    # --out: a candidate file outside the package, the same bytes as the package file would get
    assert export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--model-resolution", "64", "96",
                        "--refine-resolution", *map(str, FINE), "--out", str(tmp_path / "cand.safetensors")]) == 0
    assert (tmp_path / "cand.safetensors").read_bytes() == (tmp_path / "cotracker2-synth.safetensors").read_bytes()
    with pytest.raises(SystemExit, match="--out must name a .safetensors file"):
        export.main([str(tmp_path / "src.safetensors"), "cotracker2-synth", "--out", str(tmp_path / "c.pth")])


def test_evaluate_and_track_pose_pass_no_refine(monkeypatch, tmp_path):
    import cotracker.evaluation as evaluation
    from cotracker.cli import main
    from cotracker.commands import track_pose

    seen = {}

    def fake_make_tracker(tracker, checkpoint, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(evaluation, "make_tracker", fake_make_tracker)
    for extra, expected in [(["--no-refine"], {"refine_resolution": False}), ([], {})]:
        seen.clear()
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--checkpoint", "cotracker2-synth"] + extra)
        assert {k: v for k, v in seen.items() if k == "refine_resolution"} == expected
    tuned = tiny_model(refine_resolution=FINE)
    monkeypatch.setattr("cotracker.predictor.CoTrackerPredictor",
                        lambda checkpoint=None, device=None, **kw: CoTrackerPredictor(model=tuned, **kw))
    assert track_pose._build_predictor("x", "cpu", refine=False).refine_shape is None
    assert track_pose._build_predictor("x", "cpu").refine_shape == FINE


def test_refine_resolution_options(monkeypatch, capsys):
    """``refine=(H, W)`` in the API and ``--refine-resolution H W`` in both track commands; bad values are named."""
    from cotracker.cli import build_parser, main
    from cotracker.commands import track_pose
    from cotracker.commands._args import refine_choice
    from cotracker.predictor import inference_overrides

    assert inference_overrides(refine=(480, 640)) == {"refine_resolution": (480, 640)}
    assert inference_overrides(refine=[96, 128]) == {"refine_resolution": (96, 128)}
    for bad in (1, "480x640", None):
        with pytest.raises(ValueError, match="refine must be True .* False .* or \\(H, W\\)"):
            inference_overrides(refine=bad)
    build = track_pose._build_predictor
    parser = build_parser()
    base = ["track-pose", "clip.mp4", "--keypoints", "k.json"]
    for extra, expected in [(["--refine-resolution", "288", "384"], (288, 384)), (["--no-refine"], False), ([], True)]:
        assert refine_choice(parser.parse_args(base + extra)) == expected
        assert refine_choice(parser.parse_args(["track"] + extra)) == expected
    with pytest.raises(SystemExit) as exc:
        main(base + ["--no-refine", "--refine-resolution", "288", "384"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
    tuned = tiny_model(refine_resolution=FINE)
    monkeypatch.setattr("cotracker.predictor.CoTrackerPredictor",
                        lambda checkpoint=None, device=None, **kw: CoTrackerPredictor(model=tuned, **kw))
    with pytest.raises(ValueError, match=r"multiple of 4 and >= 32.*got \(30, 40\)"):
        build("x", "cpu", refine=(30, 40))
    assert build("x", "cpu", refine=(96, 128)).refine_shape == (96, 128)
