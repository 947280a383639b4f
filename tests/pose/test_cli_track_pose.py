import json
import re

import numpy as np
import pytest
from pose_helpers import HW, VELOCITY, ShiftModel, person, posetrack_json, random_video

from cotracker import cli
from cotracker.commands import track_pose as cmd
from cotracker.io.video import read_video, write_video
from cotracker.pose.keypoints import COCO_KEYPOINTS, POSETRACK_KEYPOINTS
from cotracker.predictor import CoTrackerPredictor

T = 8


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "000342_clip.mp4"
    write_video(path, random_video(T=T).permute(0, 2, 3, 1).numpy(), fps=10)
    return path


@pytest.fixture
def gt_json(tmp_path):
    doc = posetrack_json({0: [(3, person(15, 20)), (8, person(40, 22))], 4: [(3, person(19, 22))]}, num_frames=T)
    path = tmp_path / "000342_mpii_test.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def fake(monkeypatch):
    """Route the command to a predictor around the constant-velocity fake (no checkpoint needed)."""
    model = ShiftModel(num_keypoints=17)
    monkeypatch.setattr(cmd, "_build_predictor", lambda checkpoint, device, refine=True, ensemble=True, local_grid=None, polish=True: CoTrackerPredictor(model=model))
    return model


def _run(*args):
    return cli.main(["track-pose", *map(str, args)])


def test_end_to_end_with_a_tiny_random_model(tmp_path, clip, gt_json):
    from cotracker.hub import save_checkpoint
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2

    ckpt = tmp_path / "tiny_pose.safetensors"
    save_checkpoint(CoTracker2(tiny(num_keypoints=17)), ckpt)
    out = tmp_path / "out"
    assert _run(clip, "--keypoints", gt_json, "--checkpoint", ckpt, "--device", "cpu", "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([cmd.NPZ_NAME, cmd.JSON_NAME, cmd.OVERLAY_NAME])
    npz = np.load(out / cmd.NPZ_NAME)
    assert npz["tracks"].shape == (2, T, 17, 2) and npz["visibility"].shape == (2, T, 17)
    assert npz["person_ids"].tolist() == [3, 8] and str(npz["layout"]) == "posetrack"
    assert np.isfinite(npz["tracks"]).all()  # everything queried at frame 0
    np.testing.assert_allclose(npz["tracks"][0, 0], person(15, 20)[:, :2], atol=1e-4)  # the query frame is the query
    doc = json.loads((out / cmd.JSON_NAME).read_text())
    gt = json.loads(gt_json.read_text())
    assert sorted(im["id"] for im in doc["images"]) == sorted(im["id"] for im in gt["images"])  # same frames as the GT
    assert len(doc["annotations"]) == 2 * T
    overlay = read_video(out / cmd.OVERLAY_NAME)
    assert overlay.frames.shape == (T, *HW, 3)


def test_local_grid_option(tmp_path, clip, gt_json, capsys):
    """--local-grid overrides the weights' local grid (the shipped pose file carries a 3x3 one); 1 is refused."""
    from cotracker.hub import save_checkpoint
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2

    ckpt = tmp_path / "tiny_pose_lg.safetensors"
    save_checkpoint(CoTracker2(tiny(num_keypoints=17).replace(local_grid_size=3)), ckpt)
    assert cmd._build_predictor(str(ckpt), "cpu").local_grid_size == 3
    assert cmd._build_predictor(str(ckpt), "cpu", local_grid=0).local_grid_size == 0
    assert cmd._build_predictor(str(ckpt), "cpu", local_grid=2).local_grid_size == 2
    runs = {}
    for k in ("0", "3"):
        out = tmp_path / f"out{k}"
        assert _run(clip, "--keypoints", gt_json, "--checkpoint", ckpt, "--device", "cpu", "--out", out,
                    "--local-grid", k, "--no-overlay", "--no-ensemble") == 0
        runs[k] = np.load(out / cmd.NPZ_NAME)["tracks"]
    assert runs["0"].shape == runs["3"].shape == (2, T, 17, 2)  # the grids' tracks are dropped
    assert not np.allclose(runs["0"], runs["3"])  # the context points reach the keypoints' tracks
    out = tmp_path / "bad"
    assert _run(clip, "--keypoints", gt_json, "--checkpoint", ckpt, "--out", out, "--local-grid", "1") == 2
    err = capsys.readouterr().err
    assert "local_grid" in err and "at least 2" in err, err
    assert not out.exists()


def test_values_frames_range_and_query_frame(tmp_path, clip, gt_json, fake):
    out = tmp_path / "out"
    assert _run(clip, "--keypoints", gt_json, "--frames", "2:7", "--query-frame", "4", "--out", out, "--no-overlay") == 0
    npz = np.load(out / cmd.NPZ_NAME)
    assert npz["tracks"].shape == (1, 5, 17, 2) and int(npz["frame_offset"]) == 2
    assert (npz["query_frames"] == 2).all()  # source frame 4 is frame 2 of the range
    v = np.array(VELOCITY)
    np.testing.assert_allclose(npz["tracks"][0, 4], person(19, 22)[:, :2] + 2 * v, atol=1e-3)
    assert np.isnan(npz["tracks"][0, :2]).all() and not npz["tracked"][0, :2].any()
    ids = fake.calls[-1]["keypoint_ids"][0]  # the pose model gets keypoint ids, the support grid -1
    assert ids[:17].tolist() == list(range(17)) and (ids[17:] == -1).all()
    doc = json.loads((out / cmd.JSON_NAME).read_text())
    assert [im["file_name"][-10:] for im in doc["images"]] == [f"{t:06d}.jpg" for t in range(2, 7)]
    assert len(doc["annotations"]) == 3 and {a["track_id"] for a in doc["annotations"]} == {3}
    assert not (out / cmd.OVERLAY_NAME).exists()


def test_coco_list_with_smoothing_and_overwrite(tmp_path, clip, fake):
    coco = person(30, 20)  # PoseTrack-shaped numbers used as COCO eyes: only the layout matters here
    items = [{"person": 1, "keypoints": coco.reshape(-1).tolist(), "frame": 1}]
    kp_file = tmp_path / "people.json"
    kp_file.write_text(json.dumps(items))
    out = tmp_path / "out"
    out.mkdir()
    assert _run(clip, "--keypoints", kp_file, "--layout", "coco", "--out", out, "--smooth") == 2  # exists
    assert _run(clip, "--keypoints", kp_file, "--layout", "coco", "--out", out, "--smooth", "--overwrite") == 0
    npz = np.load(out / cmd.NPZ_NAME)
    assert str(npz["layout"]) == "coco" and npz["keypoint_names"].tolist() == list(COCO_KEYPOINTS)
    assert bool(npz["smoothed"]) and (npz["query_frames"] == 1).all()
    assert fake.calls[-1]["keypoint_ids"][0, 1:3].tolist() == [-1, -1]  # COCO eyes have no PoseTrack id
    doc = json.loads((out / cmd.JSON_NAME).read_text())
    assert doc["categories"][0]["keypoints"] == list(POSETRACK_KEYPOINTS)
    ann = [a for a in doc["annotations"] if a["image_id"] == doc["images"][1]["id"]][0]
    kp = np.array(ann["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(kp[5:, :2], coco[5:, :2], atol=0.1)  # shared slots at the query frame
    # head_bottom estimated from the shoulder midpoint and the nose
    mid = 0.5 * (coco[5, :2] + coco[6, :2])
    np.testing.assert_allclose(kp[1, :2], mid + 0.5 * (coco[0, :2] - mid), atol=0.1)
    assert read_video(out / cmd.OVERLAY_NAME).frames.shape[0] == T


@pytest.mark.parametrize(
    "content, extra, match",
    [
        ("[{\"person\": 0, \"keypoints\": [1, 2, 1]}]", (), "has 3 keypoint numbers; expected 51"),
        ("not json", (), "is not valid JSON"),
        (None, ("--query-frame", "3"), "no person is annotated at query frame 3"),
        ("[{\"person\": 0, \"keypoints\": " + json.dumps(person(200, 20).reshape(-1).tolist()) + "}]", (),
         r"lies outside the 64x48 frame"),
        (None, ("--frames", "5:2"), "expected 0 <= START < END"),
        (None, ("--query-frame", "x"), "must be a frame number or 'first'"),
    ],
)
def test_bad_inputs_exit_with_a_clear_message(tmp_path, clip, gt_json, fake, capsys, content, extra, match):
    kp_file = gt_json
    if content is not None:
        kp_file = tmp_path / "bad.json"
        kp_file.write_text(content)
    out = tmp_path / "out"
    assert _run(clip, "--keypoints", kp_file, "--out", out, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("cotracker track-pose: error:")
    assert re.search(match, err), err
    assert not out.exists()  # nothing half-written


def test_drop_outside_flag(tmp_path, clip, fake):
    kp = person(20, 20)
    kp[0, 1] = 60.0  # the nose below the 48-pixel-high frame
    kp_file = tmp_path / "people.json"
    kp_file.write_text(json.dumps([{"person": 0, "keypoints": kp.reshape(-1).tolist()}]))
    assert _run(clip, "--keypoints", kp_file, "--out", tmp_path / "a", "--no-overlay") == 2
    assert _run(clip, "--keypoints", kp_file, "--out", tmp_path / "b", "--no-overlay", "--drop-outside") == 0
    npz = np.load(tmp_path / "b" / cmd.NPZ_NAME)
    assert npz["query_frames"][0, 0] == -1 and (npz["query_frames"][0, 1:] == 0).all()


def test_help_lists_the_outputs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["track-pose", "--help"])
    text = capsys.readouterr().out
    assert cmd.NPZ_NAME in text and cmd.JSON_NAME in text and "--keypoints" in text


def test_parse_helpers():
    assert cmd.parse_frames("3:9") == (3, 9) and cmd.parse_frames(":4") == (0, 4) and cmd.parse_frames("2:") == (2, None)
    assert cmd.parse_frames(None) == (0, None)
    assert cmd.parse_query_frame("first") == "first" and cmd.parse_query_frame("5") == 5
    with pytest.raises(ValueError, match="START:END"):
        cmd.parse_frames("3")


def test_predictions_load_back_through_the_posetrack_dataset(tmp_path, fake):
    from cotracker.data.posetrack import PoseTrackDataset, write_posetrack_video

    frames = random_video(T=T).permute(0, 2, 3, 1).numpy()
    kps = np.stack([person(15, 20), person(40, 22)])[..., :2]  # (P, 17, 2)
    gt_kp = np.repeat(kps[None], T, axis=0)  # (T, P, 17, 2): a still ground truth
    present = np.zeros((T, 2), bool)
    present[1:] = True  # nobody annotated at frame 0: the query frame defaults to frame 1
    gt_path = write_posetrack_video(tmp_path / "pt", tmp_path / "pt" / "gt", "000007_mpii_test", frames, gt_kp,
                                    np.ones((T, 2, 17), bool), present=present, track_ids=[4, 9], split="val",
                                    video_index=7)
    video_dir = tmp_path / "pt" / "images" / "val" / "000007_mpii_test"
    out = tmp_path / "out"
    assert _run(video_dir, "--keypoints", gt_path, "--out", out, "--no-overlay") == 0
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    (pred_dir / gt_path.name).write_text((out / cmd.JSON_NAME).read_text())
    ds = PoseTrackDataset(tmp_path / "pt", pred_dir, max_frames=T, interp_shape=None, drop_invisible=False)
    sample = ds[0]
    npz = np.load(out / cmd.NPZ_NAME)
    assert npz["person_ids"].tolist() == [4, 9] and (npz["query_frames"] == 1).all()
    tracked = npz["tracked"].transpose(1, 0, 2).reshape(T, 34)
    assert sample.trajectory.shape == (T, 34, 2)  # every predicted frame is labelled
    np.testing.assert_array_equal(sample.valid.numpy(), tracked)
    assert not tracked[0].any() and tracked[1:].all()
    expected = npz["tracks"].transpose(1, 0, 2, 3).reshape(T, 34, 2)
    np.testing.assert_allclose(sample.trajectory.numpy()[1:], expected[1:], atol=1e-3)
    np.testing.assert_array_equal(sample.visibility.numpy(), npz["visibility"].transpose(1, 0, 2).reshape(T, 34))
    assert sample.person_ids.tolist() == [4] * 17 + [9] * 17 and sample.keypoint_ids.tolist() == list(range(17)) * 2


def test_progress_bars_follow_the_flag(tmp_path, clip, gt_json, fake, monkeypatch):
    """Decoding, tracking and overlay bars are shown on a terminal and hidden by --no-progress (the same switch as
    `cotracker track`); the decoding bar knows the clip's frame count and advances once per decoded frame."""
    from cotracker import api

    shown, updates = [], {}
    real = api._progress

    def spy(total, desc, enabled):
        shown.append((desc, total, enabled))
        bar = real(total, desc, False)
        inner = bar.update
        bar.update = lambda n=1: updates.__setitem__(desc, updates.get(desc, 0) + n) or inner(n)
        return bar

    monkeypatch.setattr(api, "_progress", spy)
    monkeypatch.setattr(cmd.sys.stderr, "isatty", lambda: True, raising=False)
    assert _run(clip, "--keypoints", gt_json, "--out", tmp_path / "a") == 0
    T = len(read_video(clip).frames)
    assert shown == [("decoding", T, True), ("tracking", 1, True), ("writing overlay", T, True)]
    assert updates == {"decoding": T, "tracking": 1, "writing overlay": T}
    shown.clear()
    assert _run(clip, "--keypoints", gt_json, "--out", tmp_path / "b", "--no-progress") == 0
    assert [enabled for _, _, enabled in shown] == [False, False, False]
    assert (tmp_path / "b" / cmd.OVERLAY_NAME).is_file()
