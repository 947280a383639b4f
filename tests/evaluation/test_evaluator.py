"""The evaluation harness and the CLI, end to end on tiny data built here."""
import json

import numpy as np
import pytest
import torch

from cotracker.cli import main
from cotracker.evaluation import EvalConfig, StaticTracker, SyntheticEvalConfig, evaluate, write_results
from cotracker.evaluation.evaluator import evaluate_sample, run_tracker
from cotracker.types import CoTrackerData, TrackResult

TINY_SYNTHETIC = SyntheticEvalConfig(num_sequences=2, num_frames=8, size_hw=(64, 64), num_points=128,
                                     traj_per_sample=16, seed=7)


class OracleTracker:
    """Returns the ground-truth track whose position at the query frame is nearest the query."""

    name = "oracle"

    def __init__(self, tracks, visible):
        self.tracks = np.asarray(tracks, np.float32)  # (T, N, 2)
        self.visible = np.asarray(visible, bool)

    def __call__(self, video, queries):
        out_t, out_v = [], []
        for t, x, y in queries[0].tolist():
            n = int(np.argmin(np.linalg.norm(self.tracks[int(round(t))] - [x, y], axis=-1)))
            out_t.append(self.tracks[:, n])
            out_v.append(self.visible[:, n])
        return TrackResult(torch.from_numpy(np.stack(out_t, 1))[None], torch.from_numpy(np.stack(out_v, 1))[None])


def _sample(size=256, scale=1.0):
    """Two points over 3 frames: A still, B moving 10 (256-scale) px per frame to the right."""
    T = 3
    tracks = np.zeros((T, 2, 2), np.float32)
    tracks[:, 0] = [100.0, 100.0]
    tracks[:, 1, 0] = 50.0 + 10.0 * np.arange(T)
    tracks[:, 1, 1] = 60.0
    tracks *= scale
    return CoTrackerData(
        video=torch.zeros(T, 3, size, size), trajectory=torch.from_numpy(tracks),
        visibility=torch.ones(T, 2, dtype=torch.bool), valid=torch.ones(T, 2, dtype=torch.bool), seq_name="hand",
    )


@pytest.mark.parametrize("size,scale", [(256, 1.0), (511, 2.0)])
def test_static_and_oracle_on_a_hand_case(size, scale):
    config = EvalConfig(dataset="synthetic", progress=False)
    sample = _sample(size, scale)
    r = evaluate_sample(StaticTracker(), sample, config)
    # B is 10 and 20 px (256 scale) off at frames 1, 2; A is exact. Everything visible, predicted visible.
    assert r.metrics["pts_within_8"] == pytest.approx(2 / 4)
    assert r.metrics["pts_within_16"] == pytest.approx(3 / 4)
    assert r.metrics["average_pts_within_thresh"] == pytest.approx((4 * 0.5 + 0.75) / 5)
    assert r.metrics["average_jaccard"] == pytest.approx((4 * (2 / 6) + 3 / 5) / 5)
    assert r.metrics["occlusion_accuracy"] == 1.0
    assert r.num_points == 2 and r.num_frames == 3
    oracle = OracleTracker(sample.trajectory.numpy(), sample.visibility.numpy())
    assert evaluate_sample(oracle, sample, config).metrics["average_jaccard"] == 1.0


def _write_tapvid(path, T=8, N=5, seed=0):
    from cotracker.data.tapvid import make_tapvid_entry, write_tapvid_pickle

    rng = np.random.default_rng(seed)
    video = rng.integers(0, 255, (T, 256, 256, 3), dtype=np.uint8)
    points = rng.uniform(0.1, 0.9, (N, T, 2)).astype(np.float32)
    occ = rng.random((N, T)) < 0.3
    occ[:, 0] = False
    write_tapvid_pickle(path, {"vid_a": make_tapvid_entry(video, points, occ)})
    return points * 255.0, ~occ


@pytest.mark.parametrize("dataset", ["tapvid_davis_first", "tapvid_davis_strided"])
def test_tapvid_pickle_end_to_end_with_an_oracle(tmp_path, dataset):
    pkl = tmp_path / "tapvid_davis.pkl"
    pix, vis = _write_tapvid(pkl)
    oracle = OracleTracker(pix.transpose(1, 0, 2), vis.T)
    result = evaluate(oracle, EvalConfig(dataset=dataset, data_root=str(tmp_path), progress=False))
    assert result.aggregate["average_jaccard"] == pytest.approx(1.0)
    assert result.aggregate["occlusion_accuracy"] == pytest.approx(1.0)
    expected_queries = 5 if dataset.endswith("first") else int(vis[:, 0].sum() + vis[:, 5].sum())
    assert result.per_video[0].num_points == expected_queries
    static = evaluate(StaticTracker(), EvalConfig(dataset=dataset, data_root=str(pkl), progress=False))
    assert static.aggregate["average_jaccard"] < 0.5


def test_synthetic_end_to_end_static_and_lk(tmp_path):
    pytest.importorskip("cv2")
    from cotracker.evaluation import LucasKanadeTracker

    config = EvalConfig(dataset="synthetic", synthetic=TINY_SYNTHETIC, progress=False)
    results = {}
    for tracker in (StaticTracker(), LucasKanadeTracker()):
        res = evaluate(tracker, config)
        assert len(res.per_video) == 2
        for k, v in res.aggregate.items():
            vals = np.array([r.metrics[k] for r in res.per_video], float)
            assert v == pytest.approx(np.nanmean(vals)), k
        results[tracker.name] = res
        paths = write_results(res, tmp_path / tracker.name)
        per_video = json.loads(paths["per_video"].read_text())
        assert [p["name"] for p in per_video] == [r.name for r in res.per_video]
        summary = json.loads(paths["summary"].read_text())
        assert summary["dataset"] == "synthetic" and summary["tracker"] == tracker.name
        assert summary["aggregate"]["average_jaccard"] == pytest.approx(res.aggregate["average_jaccard"])
        assert "| average_jaccard |" in paths["markdown"].read_text()
        csv_lines = paths["csv"].read_text().splitlines()
        assert csv_lines[0].startswith("video,num_frames,num_points,") and csv_lines[-1].startswith("mean,")
        assert len(csv_lines) == 2 + 2
        assert not list((tmp_path / tracker.name).glob(".*tmp*"))  # no temporary file left behind
    assert results["lk"].aggregate["average_pts_within_thresh"] > results["static"].aggregate["average_pts_within_thresh"]
    # the same seed gives the same held-out set
    again = evaluate(StaticTracker(), config)
    assert again.aggregate == results["static"].aggregate


def test_single_point_protocol_matches_joint_for_independent_trackers():
    pytest.importorskip("cv2")
    from cotracker.data.synthetic_scenes import SceneConfig, SyntheticSceneDataset
    from cotracker.evaluation import LucasKanadeTracker

    s = TINY_SYNTHETIC
    sample = SyntheticSceneDataset(1, SceneConfig(num_frames=s.num_frames, size_hw=s.size_hw, num_points=s.num_points),
                                   seed=s.seed, traj_per_sample=8)[0]
    q = np.concatenate([np.zeros((8, 1), np.float32), sample.trajectory[0].numpy()], axis=1)
    tj, vj = run_tracker(LucasKanadeTracker(), sample.video, q, "joint")
    ts, vs = run_tracker(LucasKanadeTracker(), sample.video, q, "single")
    np.testing.assert_allclose(tj, ts, atol=1e-4)
    np.testing.assert_array_equal(vj, vs)


def test_malformed_configs_and_trackers(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'davis'"):
        EvalConfig(dataset="davis")
    with pytest.raises(ValueError, match="needs data_root"):
        EvalConfig(dataset="kubric")
    with pytest.raises(ValueError, match="query_protocol must be 'joint' or 'single'"):
        EvalConfig(dataset="synthetic", query_protocol="all")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate(StaticTracker(), EvalConfig(dataset="badja", data_root=str(tmp_path / "missing"), progress=False))

    def wrong_shape(video, queries):
        return TrackResult(torch.zeros(1, 2, 2), torch.zeros(1, 2, dtype=torch.bool))

    with pytest.raises(ValueError, match=r"returned tracks of shape \(1, 2, 2\); expected \(1, T=3, N=2, 2\)"):
        evaluate_sample(wrong_shape, _sample(), EvalConfig(dataset="synthetic"))
    with pytest.raises(TypeError, match="must return"):
        evaluate_sample(lambda video, queries: None, _sample(), EvalConfig(dataset="synthetic"))
    bad = _sample()
    bad.trajectory = bad.trajectory[:, :, :1]
    with pytest.raises(ValueError, match=r"expected trajectory \(T=3, N, 2\)"):
        evaluate_sample(StaticTracker(), bad, EvalConfig(dataset="synthetic"))


def test_cli_evaluate_synthetic(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--synthetic-videos", "1",
               "--synthetic-frames", "6", "--synthetic-size", "48", "48", "--synthetic-points", "8",
               "--no-progress", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| synthetic | static | 1 |" in printed
    assert {p.name for p in out.iterdir()} == {"per_video.json", "summary.json", "summary.md", "summary.csv"}


def test_articulated_synthetic_set(monkeypatch):
    import cotracker.data.synthetic_scenes as scenes
    from cotracker.evaluation.evaluator import iter_dataset

    art = SyntheticEvalConfig.articulated(num_sequences=1, num_frames=6, size_hw=(96, 128), num_points=256,
                                          traj_per_sample=8, seed=4)
    assert (art.limb_prob, art.thin_prob, art.plain_prob) == (0.5, 0.25, 0.15) and art.seed == 4
    seen = []
    real = scenes.generate_scene
    monkeypatch.setattr(scenes, "generate_scene", lambda cfg, rng, **kw: seen.append(cfg) or real(cfg, rng, **kw))
    for config in (art, TINY_SYNTHETIC):
        sample = next(iter_dataset(EvalConfig(dataset="synthetic", synthetic=config, progress=False))[1])
        assert sample.trajectory.shape[1] == config.traj_per_sample
    assert (seen[0].limb_prob, seen[0].thin_prob, seen[0].plain_prob) == (0.5, 0.25, 0.15)
    assert (seen[1].limb_prob, seen[1].thin_prob, seen[1].plain_prob) == (0.0, 0.0, 0.0)  # the default set
    captured = {}

    def stop(tracker, config, **kwargs):  # `cotracker evaluate` stops here, after building its config
        captured["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("cotracker.evaluation.evaluator.evaluate", stop)
    for flag, expected in (["--synthetic-articulated"], (0.5, 0.0)), ([], (0.0, 0.0)), (["--synthetic-fences"], (0.5, 0.7)):
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--no-progress"] + flag)
        got = captured["config"].synthetic
        assert (got.limb_prob, got.fence_prob) == expected and got.follow_prob == expected[1]
    with pytest.raises(SystemExit) as exc:  # one variant at a time
        main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--synthetic-articulated",
              "--synthetic-fences"])
    assert exc.value.code == 2


def test_fence_synthetic_set_reaches_the_generator(monkeypatch):
    import cotracker.data.synthetic_scenes as scenes
    from cotracker.evaluation.evaluator import iter_dataset

    fen = SyntheticEvalConfig.fences(num_sequences=1, num_frames=6, size_hw=(96, 128), num_points=256,
                                     traj_per_sample=8, seed=4)
    assert (fen.limb_prob, fen.thin_prob, fen.plain_prob, fen.fence_prob, fen.follow_prob) == (0.5, 0.25, 0.15, 0.7, 0.7)
    seen = []
    real = scenes.generate_scene
    monkeypatch.setattr(scenes, "generate_scene", lambda cfg, rng, **kw: seen.append(cfg) or real(cfg, rng, **kw))
    sample = next(iter_dataset(EvalConfig(dataset="synthetic", synthetic=fen, progress=False))[1])
    assert sample.trajectory.shape[1] == 8
    assert (seen[0].fence_prob, seen[0].follow_prob) == (0.7, 0.7)
    assert SyntheticEvalConfig.variant(fences=True, seed=4) == SyntheticEvalConfig.fences(seed=4)
    assert SyntheticEvalConfig.variant(articulated=True) == SyntheticEvalConfig.articulated()
    assert SyntheticEvalConfig.variant() == SyntheticEvalConfig()
    with pytest.raises(ValueError, match="one synthetic variant"):
        SyntheticEvalConfig.variant(articulated=True, fences=True)


def test_limb_synthetic_set_queries_only_limbs(monkeypatch):
    from cotracker.evaluation.evaluator import _build_dataset

    lim = SyntheticEvalConfig.limbs(seed=4)
    assert (lim.limb_prob, lim.thin_prob, lim.plain_prob, lim.fence_prob) == (1.0, 0.25, 0.15, 0.0)
    assert (lim.traj_per_sample, lim.num_points, lim.query_kinds) == (24, 2048, ("limb",))
    assert SyntheticEvalConfig.variant(limbs=True, seed=4) == lim
    with pytest.raises(ValueError, match="one synthetic variant"):
        SyntheticEvalConfig.variant(fences=True, limbs=True)
    ds = _build_dataset(EvalConfig(dataset="synthetic", synthetic=lim, progress=False))
    assert ds.query_kinds == ("limb",) and ds.traj_per_sample == 24 and ds.config.limb_prob == 1.0
    assert _build_dataset(EvalConfig(dataset="synthetic", progress=False)).query_kinds is None
    captured = {}

    def stop(tracker, config, **kwargs):
        captured["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("cotracker.evaluation.evaluator.evaluate", stop)
    for flags, expected in ((["--synthetic-limbs"], (24, 2048, ("limb",))),
                            (["--synthetic-limbs", "--synthetic-points", "10"], (10, 2048, ("limb",))),
                            (["--synthetic-points", "40"], (40, 512, ())), (["--synthetic-points", "100"], (100, 800, ())),
                            ([], (64, 512, ()))):
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--no-progress"] + flags)
        got = captured["config"].synthetic
        assert (got.traj_per_sample, got.num_points, got.query_kinds) == expected
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--synthetic-limbs", "--synthetic-fences"])
    assert exc.value.code == 2


def test_photo_synthetic_set_reaches_the_generator(monkeypatch, tmp_path, capsys):
    import cv2

    import cotracker.data.synthetic_scenes as scenes
    from cotracker.evaluation.evaluator import iter_dataset

    cv2.imwrite(str(tmp_path / "a.jpg"), np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8))
    captured = {}

    def stop(tracker, config, **kwargs):
        captured["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("cotracker.evaluation.evaluator.evaluate", stop)
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--no-progress", "--synthetic-fences",
              "--synthetic-photo-dir", str(tmp_path), "--synthetic-photo-prob", "1", "--synthetic-photo-exclude", "b"])
    got = captured["config"].synthetic
    assert (got.photo_prob, got.photo_dir, got.photo_exclude, got.fence_prob) == (1.0, str(tmp_path), ("b",), 0.7)
    with pytest.raises(SystemExit):  # without a folder nothing changes (the default held-out set)
        main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--no-progress"])
    assert captured["config"].synthetic.photo_prob == 0.0
    assert main(["evaluate", "--dataset", "synthetic", "--tracker", "static", "--synthetic-photo-dir", str(tmp_path),
                 "--synthetic-photo-prob", "0"]) != 0
    out = capsys.readouterr()
    assert "--synthetic-photo-prob must be in (0, 1]" in out.err + out.out
    seen = []
    real = scenes.generate_scene
    monkeypatch.setattr(scenes, "generate_scene", lambda cfg, rng, **kw: seen.append(cfg) or real(cfg, rng, **kw))
    small = SyntheticEvalConfig(num_sequences=1, num_frames=6, size_hw=(96, 128), num_points=256, traj_per_sample=8,
                                photo_prob=1.0, photo_dir=str(tmp_path))
    next(iter_dataset(EvalConfig(dataset="synthetic", synthetic=small, progress=False))[1])
    assert (seen[0].photo_prob, seen[0].photo_dir) == (1.0, str(tmp_path))


def test_cli_evaluate_iters_and_threshold_reach_the_predictor(monkeypatch, capsys):
    import cotracker.evaluation as evaluation

    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(evaluation, "make_tracker", stop)
    for extra, expected in [(["--iters", "6", "--vis-threshold", "0.9"], (6, 0.9)), ([], (None, None))]:
        seen.clear()
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--checkpoint", "cotracker2-synth"] + extra)
        assert (seen.get("iters"), seen.get("vis_threshold")) == expected
    assert main(["evaluate", "--dataset", "synthetic", "--tracker", "lk", "--iters", "6"]) == 2
    assert "the baselines take none of them" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "synthetic", "--checkpoint", "x", "--vis-threshold", "1.5"]) == 2
    assert "--vis-threshold must be a probability" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse's own usage error
        main(["evaluate", "--dataset", "synthetic", "--checkpoint", "x", "--iters", "0"])
    assert exc.value.code == 2 and "expected an integer >= 1" in capsys.readouterr().err



def test_cli_evaluate_inference_settings_reach_the_predictor(monkeypatch, capsys):
    """--refine-resolution / --ensemble / --(no-)feedback set what a training checkpoint does not carry; unset options
    stay the weights' own (absent from the predictor's arguments)."""
    import cotracker.evaluation as evaluation

    seen = {}

    def stop(*args, **kwargs):
        seen.clear()
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(evaluation, "make_tracker", stop)
    cases = [
        (["--refine-resolution", "480", "640", "--ensemble", "--feedback", "--polish"],
         {"refine_resolution": (480, 640), "flip_ensemble": True, "feedback": True, "polish": True}),
        (["--no-refine", "--no-ensemble", "--no-feedback", "--no-polish"],
         {"refine_resolution": False, "flip_ensemble": False, "feedback": False, "polish": False}),
        ([], {}),
    ]
    for extra, expected in cases:
        with pytest.raises(SystemExit):
            main(["evaluate", "--dataset", "synthetic", "--checkpoint", "cotracker2-synth"] + extra)
        got = {k: v for k, v in seen.items() if k in ("refine_resolution", "flip_ensemble", "feedback", "polish")}
        assert got == expected
    for clash in (["--no-refine", "--refine-resolution", "384", "512"], ["--ensemble", "--no-ensemble"],
                  ["--feedback", "--no-feedback"], ["--polish", "--no-polish"]):
        with pytest.raises(SystemExit) as exc:  # argparse: mutually exclusive
            main(["evaluate", "--dataset", "synthetic", "--checkpoint", "x"] + clash)
        assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "synthetic", "--tracker", "lk", "--ensemble"]) == 2
    assert "the baselines take none of them" in capsys.readouterr().err


def test_cli_evaluate_rejects_a_bad_refine_resolution(capsys):
    """The predictor's own check, reached from the command line with the value named."""
    assert main(["evaluate", "--dataset", "synthetic", "--checkpoint", "cotracker2-synth", "--refine-resolution",
                 "30", "40", "--synthetic-videos", "1"]) == 2
    err = capsys.readouterr().err
    assert "multiple of 4 and >= 32" in err and "(30, 40)" in err

def test_cli_evaluate_errors(capsys):
    assert main(["evaluate", "--dataset", "kubric", "--tracker", "static"]) == 2
    assert "needs --data-root" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "synthetic"]) == 2
    assert "--checkpoint PATH|NAME or --tracker lk|static" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "synthetic", "--tracker", "lk", "--checkpoint", "x.pth"]) == 2
    assert "not both" in capsys.readouterr().err


def test_badja_baselines_on_the_shared_data(shared_dir):
    pytest.importorskip("cv2")
    from cotracker.evaluation import LucasKanadeTracker

    root = shared_dir / "data"
    config = EvalConfig(dataset="badja", data_root=str(root), progress=False)
    static = evaluate(StaticTracker(), config)
    lk = evaluate(LucasKanadeTracker(), config)
    assert [r.name for r in lk.per_video] == ["bear", "horsejump-high"]
    assert lk.aggregate["pck_32px"] > static.aggregate["pck_32px"]


def _tiny_model_or_skip():
    try:
        from cotracker.models.config import tiny
        from cotracker.models.cotracker2 import CoTracker2
    except ImportError as exc:  # the model is built by another module
        pytest.skip(f"CoTracker2 not importable: {exc}")
    torch.manual_seed(0)
    return CoTracker2(tiny()).eval()


def test_real_predictor_through_the_same_harness(tmp_path, capsys):
    """A (tiny, untrained) CoTracker2 checkpoint goes through `cotracker evaluate --checkpoint` and
    `cotracker report --checkpoints` exactly like the baselines."""
    from cotracker.hub import save_checkpoint

    model = _tiny_model_or_skip()
    ck = tmp_path / "ckpts"
    save_checkpoint(model, ck / "step_00000005.safetensors")
    out = tmp_path / "eval"
    rc = main(["evaluate", "--dataset", "synthetic", "--checkpoint", str(ck / "step_00000005.safetensors"),
               "--device", "cpu", "--synthetic-videos", "1", "--synthetic-frames", "8", "--synthetic-size", "48", "64",
               "--synthetic-points", "4", "--no-progress", "--step", "5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 5 and summary["tracker"] == "step_00000005"
    assert 0.0 <= summary["aggregate"]["occlusion_accuracy"] <= 1.0
    rc = main(["report", "--results", str(out), "--out", str(tmp_path / "report")])
    assert rc == 0 and (tmp_path / "report" / "accuracy_vs_step.png").is_file()


def test_posetrack_scoring_by_hand():
    T = 3
    base = np.stack([10.0 + 5 * np.arange(17), 20.0 + 4 * np.arange(17)], axis=-1)  # box 80 x 64
    base[1] = [15.0, 30.0]  # head_bottom
    base[2] = [20.0, 20.0]  # head_top: head size sqrt(5^2 + 10^2)
    tracks = np.stack([base + [3.0 * t, 0.0] for t in range(T)]).astype(np.float32)  # (T, 17, 2), 3 px / frame
    sample = CoTrackerData(
        video=torch.zeros(T, 3, 128, 128), trajectory=torch.from_numpy(tracks),
        visibility=torch.ones(T, 17, dtype=torch.bool), valid=torch.ones(T, 17, dtype=torch.bool), seq_name="p",
        keypoint_ids=torch.arange(17), person_ids=torch.zeros(17, dtype=torch.long),
    )
    config = EvalConfig(dataset="posetrack", data_root="unused", progress=False)
    m = evaluate_sample(StaticTracker(), sample, config).metrics
    assert m["pck_bbox"] == 1.0  # errors 3 and 6 < 0.2 * 80
    assert m["pckh"] == pytest.approx(0.5)  # 0.5 * 11.18 = 5.6: 3 is in, 6 is out
    from cotracker.pose.keypoints import OKS_SIGMAS

    area = 80.0 * 64.0
    want = np.mean([np.exp(-(e * e) / (2 * area * (2 * OKS_SIGMAS) ** 2)).mean() for e in (3.0, 6.0)])
    assert m["oks"] == pytest.approx(want)
    assert m["accel_error"] == 0.0 and m["jitter_gt"] == 0.0
    sample.person_ids = None
    with pytest.raises(ValueError, match="needs keypoint_ids and person_ids"):
        evaluate_sample(StaticTracker(), sample, config)


def test_dynamic_replica_scoring_queries_frame_zero():
    T = 3
    tracks = np.zeros((T, 1, 2), np.float32)
    tracks[:, 0, 0] = 10.0 + np.arange(T)  # 1 px / frame
    sample = CoTrackerData(
        video=torch.zeros(T, 3, 256, 256), trajectory=torch.from_numpy(tracks),
        visibility=torch.ones(T, 1, dtype=torch.bool), valid=torch.ones(T, 1, dtype=torch.bool), seq_name="dr",
    )
    m = evaluate_sample(StaticTracker(), sample, EvalConfig(dataset="dynamic_replica", data_root="unused")).metrics
    assert (m["accuracy_vis_1"], m["accuracy_vis_2"], m["accuracy_vis_4"]) == (0.0, 50.0, 100.0)
    assert m["survival"] == 100.0


def test_kubric_and_kinetics_folders(tmp_path):
    from cotracker.data.kubric import write_kubric_sequence
    from cotracker.data.tapvid import make_tapvid_entry, write_tapvid_pickle

    rng = np.random.default_rng(3)
    T, N = 10, 20
    for i in range(2):
        frames = rng.integers(0, 255, (T, 64, 64, 3), dtype=np.uint8)
        coords = rng.uniform(5, 58, (N, T, 2)).astype(np.float32)
        write_kubric_sequence(tmp_path / "kubric", f"seq{i}", frames, coords, np.zeros((N, T), bool))
    config = EvalConfig(dataset="kubric", data_root=str(tmp_path / "kubric"), kubric_crop_hw=(64, 64),
                        kubric_seq_len=T, kubric_traj_per_sample=8, progress=False)
    res = evaluate(StaticTracker(), config)
    assert [r.num_points for r in res.per_video] == [8, 8]
    assert res.aggregate["occlusion_accuracy"] == 1.0  # nothing occluded, static predicts visible

    video = rng.integers(0, 255, (6, 256, 256, 3), dtype=np.uint8)
    points = rng.uniform(0.1, 0.9, (3, 6, 2)).astype(np.float32)
    occ = np.zeros((3, 6), bool)
    write_tapvid_pickle(tmp_path / "kin" / "0000_of_0010.pkl", [make_tapvid_entry(video, points, occ, encode_jpeg=True)])
    oracle = OracleTracker((points * 255).transpose(1, 0, 2), ~occ.T)
    res = evaluate(oracle, EvalConfig(dataset="tapvid_kinetics_first", data_root=str(tmp_path / "kin"), progress=False))
    assert res.aggregate["average_jaccard"] == 1.0 and len(res.per_video) == 1


def test_predictor_adapter_passes_backward_tracking():
    from cotracker.evaluation import PredictorTracker, Tracker

    calls = []

    def predictor(video, queries, backward_tracking):
        calls.append(backward_tracking)
        return TrackResult(torch.zeros(1, video.shape[1], queries.shape[1], 2), torch.ones(1, video.shape[1], queries.shape[1], dtype=torch.bool))

    tracker = PredictorTracker(predictor, backward_tracking=True)
    assert isinstance(tracker, Tracker)
    tracks, vis = tracker(torch.zeros(1, 4, 3, 8, 8), queries=torch.zeros(1, 2, 3))
    assert calls == [True] and tracks.shape == (1, 4, 2, 2)


def test_posetrack_folder_uses_the_head_box(tmp_path):
    from cotracker.data.posetrack import write_posetrack_video

    T = 3
    base = np.stack([10.0 + 5 * np.arange(17), 20.0 + 4 * np.arange(17)], axis=-1)
    base[1] = [15.0, 30.0]  # head_bottom; head_top (slot 2) stays at (20, 28)... set below
    base[2] = [20.0, 20.0]
    # the writer's head box spans the 5 head keypoints: x 10..30, y 20..36 -> head size 0.6 * sqrt(20^2 + 16^2)
    kps = np.stack([base + [3.0 * t, 0.0] for t in range(T)])[:, None]  # (T, 1, 17, 2), 3 px / frame
    frames = np.full((T, 384, 512, 3), 128, np.uint8)
    write_posetrack_video(tmp_path, tmp_path / "annotations" / "val", "vid", frames, kps, np.ones((T, 1, 17), bool),
                          track_ids=[7])
    res = evaluate(StaticTracker(), EvalConfig(dataset="posetrack", data_root=str(tmp_path), progress=False))
    m = res.per_video[0].metrics
    assert 0.6 * np.hypot(20, 16) * 0.5 > 6.0  # both errors (3 and 6 px) are within PCKh@0.5 with the box ...
    assert m["pckh"] == 1.0  # ... while the head_top-head_bottom distance (11.2 -> 5.6 px) would give 0.5
    assert m["pck_bbox"] == 1.0 and res.per_video[0].num_points == 17


def test_dynamic_replica_folder_end_to_end(tmp_path):
    from cotracker.data.dynamic_replica import write_dynamic_replica_sequence

    rng = np.random.default_rng(5)
    T, N = 12, 6
    tracks = rng.uniform(2, 60, (T, N, 2)).astype(np.float32)
    vis = np.ones((T, N), bool)
    vis[5:8, 0] = False
    write_dynamic_replica_sequence(tmp_path, "valid", "seq_a", rng.integers(0, 255, (T, 64, 64, 3), dtype=np.uint8),
                                   tracks, vis)
    config = EvalConfig(dataset="dynamic_replica", data_root=str(tmp_path), progress=False)
    oracle = evaluate(OracleTracker(tracks, vis), config)
    assert oracle.aggregate["accuracy"] == 100.0 and oracle.aggregate["survival"] == 100.0
    static = evaluate(StaticTracker(), config)
    assert static.aggregate["accuracy_1"] < 50.0


class _KeypointAwareTracker:
    """Returns the ground truth, except that the keypoints named ``wrong`` are pushed far away; records the
    keypoint ids it is given."""

    uses_keypoint_ids = True

    def __init__(self, tracks, wrong):
        self.tracks, self.wrong, self.seen = tracks, wrong, []

    def __call__(self, video, queries, keypoint_ids=None):
        self.seen.append(keypoint_ids)
        out = torch.from_numpy(self.tracks).clone()[None]  # (1, T, N, 2)
        for n, k in enumerate(keypoint_ids[0].tolist()):
            if k in self.wrong:
                out[0, :, n] += 500.0
        T, N = out.shape[1:3]
        return TrackResult(out, torch.ones(1, T, N, dtype=torch.bool))


def test_posetrack_passes_keypoint_ids_and_scores_each_keypoint():
    from cotracker.pose.keypoints import POSETRACK_KEYPOINTS

    T = 4
    base = np.stack([10.0 + 5 * np.arange(17), 20.0 + 4 * np.arange(17)], axis=-1)
    tracks = np.stack([base + [2.0 * t, 0.0] for t in range(T)]).astype(np.float32)
    perm = np.random.default_rng(0).permutation(17)  # keypoints in shuffled order: ids must follow the slots
    sample = CoTrackerData(
        video=torch.zeros(T, 3, 128, 128), trajectory=torch.from_numpy(tracks[:, perm]),
        visibility=torch.ones(T, 17, dtype=torch.bool), valid=torch.ones(T, 17, dtype=torch.bool), seq_name="p",
        keypoint_ids=torch.from_numpy(perm), person_ids=torch.zeros(17, dtype=torch.long),
    )
    wrists = {POSETRACK_KEYPOINTS.index("left_wrist"), POSETRACK_KEYPOINTS.index("right_wrist")}
    tracker = _KeypointAwareTracker(tracks[:, perm], wrists)
    config = EvalConfig(dataset="posetrack", data_root="unused", progress=False)
    m = evaluate_sample(tracker, sample, config).metrics
    assert tracker.seen[0][0].tolist() == perm.tolist()
    assert m["pck_bbox/left_wrist"] == 0.0 and m["pck_bbox/right_wrist"] == 0.0
    assert m["pck_bbox/nose"] == 1.0 and m["pck_bbox/left_ankle"] == 1.0
    assert m["pck_bbox"] == pytest.approx(15 / 17)
    # a tracker without keypoint support is called without ids
    m2 = evaluate_sample(StaticTracker(), sample, config).metrics
    assert set(k for k in m2 if k.startswith("pck_bbox/")) == {f"pck_bbox/{n}" for n in POSETRACK_KEYPOINTS}


def test_predictor_adapter_gives_a_keypoint_model_explicit_ids():
    from cotracker.evaluation import PredictorTracker

    class Pred:
        num_keypoints = 17

        def __init__(self):
            self.kw = []

        def __call__(self, video, queries, backward_tracking, **kw):
            self.kw.append(kw)
            T, N = video.shape[1], queries.shape[1]
            return TrackResult(torch.zeros(1, T, N, 2), torch.ones(1, T, N, dtype=torch.bool))

    pred = Pred()
    tracker = PredictorTracker(pred)
    assert tracker.uses_keypoint_ids
    tracker(torch.zeros(1, 4, 3, 8, 8), queries=torch.zeros(1, 34, 3))  # 34 = 2 x 17: must not become 2 people
    assert pred.kw[0]["keypoint_ids"].tolist() == [[-1] * 34]
    ids = torch.arange(34)[None] % 17
    tracker(torch.zeros(1, 4, 3, 8, 8), queries=torch.zeros(1, 34, 3), keypoint_ids=ids)
    assert torch.equal(pred.kw[1]["keypoint_ids"], ids)
    pred.num_keypoints = 0
    tracker(torch.zeros(1, 4, 3, 8, 8), queries=torch.zeros(1, 34, 3), keypoint_ids=ids)
    assert pred.kw[2] == {}


def test_calibration_seeds_must_stay_clear_of_the_held_out_ones(load_script, capsys):
    from cotracker.evaluation.evaluator import HELD_OUT_SEEDS, SyntheticEvalConfig, check_calibration_seeds

    assert SyntheticEvalConfig().seed == HELD_OUT_SEEDS.start  # the benchmark draws from the reserved range
    check_calibration_seeds(3_000_000, 8)
    check_calibration_seeds(HELD_OUT_SEEDS.start - 8, 8)  # ends just before it
    check_calibration_seeds(HELD_OUT_SEEDS.stop, 8)
    for seed, clips in ((HELD_OUT_SEEDS.start, 1), (HELD_OUT_SEEDS.start - 7, 8), (HELD_OUT_SEEDS.stop - 1, 8)):
        with pytest.raises(ValueError, match="overlaps the benchmark's held-out seeds"):
            check_calibration_seeds(seed, clips)
    # every calibration script asks the one check (here: clips that run into the held-out range from below)
    for name, folder in (("tune_polish", "scripts"), ("tune_inference", "scripts"), ("calibrate_visibility", "scripts"),
                         ("drift_by_segment", "benchmarks")):
        script = load_script(name, folder)
        argv = ([] if name == "drift_by_segment" else ["cotracker2-synth"]) + ["--seed", "999996", "--clips", "8"]
        with pytest.raises(SystemExit, match="999996 with 8 clip\\(s\\) overlaps"):
            script.main(argv)
