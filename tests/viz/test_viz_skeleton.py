import numpy as np
import pytest

from cotracker.pose.keypoints import SKELETON
from cotracker.viz.colors import person_colors
from cotracker.viz.skeleton import SkeletonStyle, draw_skeleton

STYLE = SkeletonStyle(radius=3, outline=1, bone_width=3, occluded_bone_width=1)


def test_two_people_in_their_colours():
    img = np.zeros((60, 100, 3), np.uint8)
    kp = np.full((2, 17, 2), np.nan)
    kp[0, 5], kp[0, 7] = (10, 10), (10, 40)  # left shoulder - left elbow, vertical bone
    kp[1, 6], kp[1, 8] = (60, 10), (60, 40)
    vis = np.ones((2, 17), bool)
    out = draw_skeleton(img, kp, vis, style=STYLE)
    c0, c1 = person_colors(2)
    assert (out[25, 10] == c0).all() and (out[25, 60] == c1).all()  # bones in the person's colour
    assert (out[10, 10] == c0).all()  # filled joint
    assert not out[:, 80:].any()  # NaN (absent) joints draw nothing


def test_occluded_joint_hollow_and_thin_bone():
    img = np.zeros((60, 60, 3), np.uint8)
    kp = np.array([[[20.0, 10.0], [20.0, 40.0]]])
    vis = np.array([[True, False]])
    out = draw_skeleton(img, kp, vis, colors=np.array([[0, 255, 0]]), skeleton=[(0, 1)], style=STYLE)
    assert (out[40, 23] == [0, 255, 0]).all() and not out[40, 21].any()  # hollow joint: rim, empty inside
    assert (out[10, 20] == [0, 255, 0]).all()  # visible joint filled
    assert (out[25, 20] == [0, 255, 0]).all() and not out[25, 22].any()  # 1-px bone (an occluded end)
    full = draw_skeleton(img, kp, np.array([[True, True]]), colors=np.array([[0, 255, 0]]), skeleton=[(0, 1)], style=STYLE)
    assert full[25, 21].any()  # 3-px bone when both ends are visible


def test_single_person_and_valid_mask():
    img = np.zeros((40, 40, 3), np.uint8)
    kp = np.tile(np.array([[20.0, 20.0]]), (17, 1))
    valid = np.zeros(17, bool)
    out = draw_skeleton(img, kp, np.ones(17, bool), valid=valid)
    assert not out.any()
    assert draw_skeleton(img, kp, np.ones(17, bool)).any()


def test_skeleton_errors():
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match=r"keypoints must be \(P, K, 2\)"):
        draw_skeleton(img, np.zeros((1, 17, 3)), np.ones((1, 17), bool))
    with pytest.raises(ValueError, match=r"visible must be \(P, K\)"):
        draw_skeleton(img, np.zeros((1, 17, 2)), np.ones((1, 16), bool))
    with pytest.raises(ValueError, match=r"bone \(0, 20\)"):
        draw_skeleton(img, np.zeros((1, 17, 2)), np.ones((1, 17), bool), skeleton=[(0, 20)])
    assert len(SKELETON) == 18
