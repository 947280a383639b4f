import numpy as np
import pytest

from cotracker.pose.keypoints import COCO_KEYPOINTS, POSETRACK_KEYPOINTS
from cotracker.pose.layouts import (
    SHARED_SLOTS,
    HeadEstimateConfig,
    coco_to_posetrack,
    convert_layout,
    layout_keypoint_ids,
    layout_keypoint_names,
    posetrack_to_coco,
)


def _coco_person():
    kp = np.zeros((17, 3))
    kp[:, 2] = 2
    kp[0, :2] = (10, 10)  # nose
    kp[1, :2] = (8, 8)  # left eye
    kp[2, :2] = (12, 8)  # right eye
    kp[3, :2] = (20, 10)  # left ear
    kp[4, :2] = (0, 10)  # right ear
    kp[5, :2] = (0, 30)  # left shoulder
    kp[6, :2] = (20, 30)  # right shoulder
    kp[7:, :2] = np.arange(20).reshape(10, 2) + 40
    return kp


def test_shared_slots_have_the_same_names():
    for k in SHARED_SLOTS:
        assert POSETRACK_KEYPOINTS[k] == COCO_KEYPOINTS[k]
    assert set(range(17)) - set(SHARED_SLOTS) == {1, 2}


def test_coco_to_posetrack_hand_computed():
    kp = _coco_person()
    out = coco_to_posetrack(kp)
    # head_bottom = shoulder midpoint (10, 30) + 0.5 * (nose - midpoint) = (10, 20)
    np.testing.assert_allclose(out.keypoints[1], [10, 20, 2])
    # both eyes: head_top = eye midpoint (10, 8) + 1.0 * (eye_mid - head_bottom) = (10, -4)
    np.testing.assert_allclose(out.keypoints[2], [10, -4, 2])
    kp[1, 2] = 0  # one eye missing: head_top = head_bottom + 2.5 * (nose - head_bottom) = (10, -5)
    out = coco_to_posetrack(kp)
    np.testing.assert_allclose(out.keypoints[2], [10, -5, 2])
    assert out.estimated.tolist() == [False, True, True] + [False] * 14


def test_posetrack_to_coco_hand_computed():
    kp = np.zeros((17, 3))
    kp[:, 2] = 1
    kp[0, :2] = (10, 10)
    kp[1, :2] = (10, 20)  # head_bottom
    kp[2, :2] = (10, -5)  # head_top
    kp[3, :2] = (20, 10)  # left ear
    kp[4, :2] = (0, 10)  # right ear
    out = posetrack_to_coco(kp)
    # eye = nose + 0.4 * (ear - nose) + 0.1 * (head_top - head_bottom) = (10 +- 4, 10 - 2.5)
    np.testing.assert_allclose(out.keypoints[1], [14, 7.5, 1])
    np.testing.assert_allclose(out.keypoints[2], [6, 7.5, 1])
    cfg = HeadEstimateConfig(eye_ear_fraction=0.5, eye_up_fraction=0.0)
    np.testing.assert_allclose(posetrack_to_coco(kp, cfg).keypoints[1], [15, 10, 1])


def test_estimates_take_the_smallest_flag_and_need_their_sources():
    kp = _coco_person()
    kp[5, 2] = 1  # left shoulder labelled but occluded
    out = coco_to_posetrack(kp)
    assert out.keypoints[1, 2] == 1 and out.keypoints[2, 2] == 1
    kp[6, 2] = 0  # right shoulder missing: no head_bottom / head_top
    out = coco_to_posetrack(kp)
    np.testing.assert_array_equal(out.keypoints[1:3], 0)
    pt = out.keypoints.copy()
    pt[3, 2] = 0  # left ear missing: no left eye
    back = posetrack_to_coco(pt)
    np.testing.assert_array_equal(back.keypoints[1], 0)
    assert back.keypoints[2, 2] > 0


@pytest.mark.parametrize("direction", ["coco", "posetrack"])
def test_round_trip_is_exact_on_shared_slots(direction):
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 100, (4, 5, 17, 2)), rng.integers(0, 3, (4, 5, 17, 1))], -1)
    other = "posetrack" if direction == "coco" else "coco"
    there = convert_layout(kp, direction, other)
    back = convert_layout(there.keypoints, other, direction)
    np.testing.assert_array_equal(back.keypoints[..., SHARED_SLOTS, :], kp[..., SHARED_SLOTS, :])
    assert back.keypoints.shape == kp.shape and back.estimated.shape == kp.shape[:-1]
    assert back.estimated[..., 1:3].all() and not back.estimated[..., SHARED_SLOTS].any()


def test_identity_and_two_column_input():
    kp = _coco_person()[:, :2]
    kp[3] = np.nan  # no flags: non-finite points are missing
    out = convert_layout(kp, "coco", "coco")
    assert not out.estimated.any()
    assert out.keypoints[3, 2] == 0 and out.keypoints[0, 2] == 1
    conv = coco_to_posetrack(kp)
    assert np.isfinite(conv.keypoints).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        coco_to_posetrack(np.zeros((15, 3)))
    with pytest.raises(ValueError, match="unknown keypoint layout 'mpii'"):
        convert_layout(np.zeros((17, 3)), "mpii", "coco")


def test_keypoint_ids_and_names():
    assert layout_keypoint_ids("posetrack").tolist() == list(range(17))
    ids = layout_keypoint_ids("coco")
    assert ids[1] == ids[2] == -1 and ids[9] == POSETRACK_KEYPOINTS.index("left_wrist")
    assert layout_keypoint_names("COCO")[1] == "left_eye"
