import numpy as np
import pytest
import torch

from cotracker.pose import PoseTrackConfig, track_pose
from cotracker.pose.layouts import coco_to_posetrack, posetrack_to_coco
from cotracker.pose.smoothing import OneEuroConfig
from cotracker.predictor import CoTrackerPredictor
from pose_helpers import HW, VELOCITY, ShiftModel, person, random_video

V = np.array(VELOCITY)


def _predictor(**kw):
    model = ShiftModel(**kw)
    return CoTrackerPredictor(model=model), model


def test_shapes_and_values_for_several_people():
    pred, model = _predictor()
    video = random_video(T=8)
    kps = np.stack([person(15, 20), person(40, 22)])
    res = track_pose(video, kps, 2, predictor=pred)
    assert res.tracks.shape == (2, 8, 17, 2) and res.tracks.dtype == torch.float32
    assert res.visibility.shape == res.tracked.shape == (2, 8, 17) and res.visibility.dtype == torch.bool
    assert res.query_frames.tolist() == [[2] * 17] * 2
    assert res.person_ids.tolist() == [0, 1] and res.layout == "posetrack"
    for t in range(2, 8):  # the fake moves every point by VELOCITY per frame from its query frame
        np.testing.assert_allclose(res.tracks[:, t].numpy(), kps[..., :2] + (t - 2) * V, atol=1e-4)
    assert torch.isnan(res.tracks[:, :2]).all() and not res.tracked[:, :2].any() and not res.visibility[:, :2].any()
    assert res.visibility[:, 2:].all()
    # one predictor call with the 34 keypoints followed by the 6x6 support grid
    q = model.calls[-1]["queries"]
    assert q.shape == (1, 34 + 36, 3)
    np.testing.assert_allclose(q[0, :34, 1:].numpy(), kps[..., :2].reshape(-1, 2), atol=1e-5)
    assert model.calls[-1]["keypoint_ids"] is None  # the fake has no keypoint embedding


def test_keypoints_appearing_after_the_first_frame_and_missing_ones():
    pred, model = _predictor()
    kp = person(20, 20)
    kp[9, 2] = 0  # left wrist never labelled
    frames = np.zeros(17, dtype=np.int64)
    frames[15:] = 4  # ankles first appear at frame 4
    res = track_pose(random_video(T=7), kp, frames[None], predictor=pred)
    assert res.query_frames[0, 9] == -1 and res.query_frames[0, 15] == 4 and res.query_frames[0, 0] == 0
    assert not res.tracked[0, :, 9].any() and torch.isnan(res.tracks[0, :, 9]).all()
    assert res.tracked[0, :, 15].tolist() == [False] * 4 + [True] * 3
    np.testing.assert_allclose(res.tracks[0, 6, 15].numpy(), kp[15, :2] + 2 * V, atol=1e-4)
    np.testing.assert_allclose(res.tracks[0, 6, 0].numpy(), kp[0, :2] + 6 * V, atol=1e-4)
    q = model.calls[-1]["queries"][0]
    assert q.shape[0] == 16 + 36 and sorted(set(q[:16, 0].tolist())) == [0.0, 4.0]


def test_per_person_query_frames_and_ids():
    pred, _ = _predictor()
    res = track_pose(random_video(T=6), np.stack([person(15, 20), person(45, 20)]), [0, 3], person_ids=[7, 3],
                     predictor=pred)
    assert res.person_ids.tolist() == [7, 3]
    assert res.tracked[0].all() and res.tracked[1, :3].sum() == 0 and res.tracked[1, 3:].all()


def test_keypoint_embedding_ids_are_passed_when_the_model_has_one():
    pred, model = _predictor(num_keypoints=17)
    kp = person(20, 20)
    kp[3, 2] = 0
    track_pose(random_video(T=5), kp, predictor=pred)
    ids = model.calls[-1]["keypoint_ids"][0].tolist()
    assert ids[:16] == [k for k in range(17) if k != 3] and ids[16:] == [-1] * 36
    track_pose(random_video(T=5), kp, layout="coco", predictor=pred)  # COCO eyes have no PoseTrack id
    ids = model.calls[-1]["keypoint_ids"][0].tolist()
    assert ids[:4] == [0, -1, -1, 4]
    track_pose(random_video(T=5), kp, predictor=pred, config=PoseTrackConfig(use_keypoint_embedding=False))
    assert model.calls[-1]["keypoint_ids"] is None


def test_without_support_grid_and_with_backward_tracking():
    pred, model = _predictor()
    kp = person(30, 20)
    res = track_pose(random_video(T=6), kp, 3, predictor=pred,
                     config=PoseTrackConfig(support_grid=False, backward_tracking=True))
    assert model.calls[-1]["queries"].shape[1] == 17
    assert len(model.calls) == 2  # forward and backward passes
    assert res.tracked.all() and torch.isfinite(res.tracks).all()
    np.testing.assert_allclose(res.tracks[0, 5].numpy(), kp[:, :2] + 2 * V, atol=1e-4)


def test_occlusion_reaches_the_visibility():
    pred, _ = _predictor(occlude_x=30.0)
    kp = person(25, 20)
    res = track_pose(random_video(T=8), kp, predictor=pred)
    x = res.tracks[0, ..., 0]
    np.testing.assert_array_equal(res.visibility[0, 1:].numpy(), (x[1:] <= 30.0).numpy())
    assert res.visibility[0, 0].all()  # the query frame is pinned visible by the predictor


def test_smoothing_keeps_linear_motion_and_untracked_frames():
    pred, _ = _predictor()
    kp = person(20, 20)
    cfg = PoseTrackConfig(smoothing=OneEuroConfig())
    raw = track_pose(random_video(T=12), kp, 2, predictor=pred)
    smooth = track_pose(random_video(T=12), kp, 2, predictor=pred, config=cfg)
    assert torch.isnan(smooth.tracks[:, :2]).all()
    # the bidirectional filter with point-reflected ends passes constant-velocity motion without lag
    np.testing.assert_allclose(smooth.tracks[:, 2:].numpy(), raw.tracks[:, 2:].numpy(), atol=0.1)


def test_channels_last_numpy_video_and_single_person_two_columns():
    pred, _ = _predictor()
    frames = random_video(T=4).permute(0, 2, 3, 1).numpy()  # (T, H, W, 3)
    res = track_pose(frames, person(20, 20)[:, :2], predictor=pred)
    assert res.tracks.shape == (1, 4, 17, 2) and res.tracked.all()


def test_to_layout_round_trips_the_shared_slots():
    pred, _ = _predictor()
    kps = np.stack([person(15, 20), person(40, 22)])
    res = track_pose(random_video(T=5), kps, 1, predictor=pred)
    coco = res.to_layout("coco")
    assert coco.layout == "coco" and coco.estimated[:, 1:3].all() and not coco.estimated[:, 3:].any()
    np.testing.assert_array_equal(coco.tracks[:, :, 3:].numpy(), res.tracks[:, :, 3:].numpy())
    assert not coco.tracked[:, 0].any() and coco.tracked[:, 1:].all()
    expected = posetrack_to_coco(np.concatenate([res.tracks[:, 3].numpy(), np.ones((2, 17, 1))], -1)).keypoints
    np.testing.assert_allclose(coco.tracks[:, 3].numpy(), expected[..., :2], atol=1e-4)
    back = coco.to_layout("posetrack")
    np.testing.assert_array_equal(back.tracks[:, :, 3:].numpy(), res.tracks[:, :, 3:].numpy())
    est = coco_to_posetrack(np.concatenate([coco.tracks[:, 2].numpy(), np.ones((2, 17, 1))], -1)).keypoints
    np.testing.assert_allclose(back.tracks[:, 2].numpy(), est[..., :2], atol=1e-4)


@pytest.mark.parametrize(
    "kp, frames, match",
    [
        (person(80, 20), 0, r"lies outside the 64x48 frame"),
        (person(20, 20), 9, r"outside the video's frames \[0, 4\]"),
        (np.zeros((17, 3)), 0, "no keypoint is given"),
        (np.zeros((16, 3)), 0, r"shape \(P, 17, 3\)"),
        (np.stack([person(20, 20), np.zeros((17, 3))]), 0, "person 1 has no given keypoint"),
        (person(20, 20), np.zeros((2, 17), dtype=np.int64), r"query_frames must be an int"),
    ],
)
def test_bad_keypoints_give_clear_errors(kp, frames, match):
    pred, _ = _predictor()
    with pytest.raises(ValueError, match=match):
        track_pose(random_video(T=5), kp, frames, predictor=pred)


def test_keypoints_outside_the_frame_can_be_dropped(caplog):
    pred, model = _predictor()
    kp = person(20, 20)
    kp[15, 0] = -3.0  # left ankle 3 px left of the image
    kp[16, 0] = -0.4  # right ankle on the outer edge of the first pixel: still inside
    res = track_pose(random_video(T=4), kp, predictor=pred, config=PoseTrackConfig(outside="drop"))
    assert res.query_frames[0, 15] == -1 and not res.tracked[0, :, 15].any() and res.tracked[0, :, 16].all()
    assert model.calls[-1]["queries"].shape[1] == 16 + 36
    assert "keypoint 15 of person 0 at (x, y) = (-3, 34) lies outside the 64x48 frame" in caplog.text
    with pytest.raises(ValueError, match="outside must be 'error' or 'drop'"):
        PoseTrackConfig(outside="clip")


def test_other_argument_errors():
    pred, _ = _predictor()
    with pytest.raises(ValueError, match="one id per person"):
        track_pose(random_video(T=5), person(20, 20), person_ids=[1, 2], predictor=pred)
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        track_pose(random_video(T=5), person(20, 20), layout="mpii", predictor=pred)
    with pytest.raises(ValueError, match="one clip of RGB frames"):
        track_pose(torch.zeros(2, 5, 3, *HW), person(20, 20), predictor=pred)
