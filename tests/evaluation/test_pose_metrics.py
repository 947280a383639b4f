"""PCK, PCKh, OKS and temporal consistency by hand."""
import math

import numpy as np
import pytest

from cotracker.evaluation.pose_metrics import (
    bbox_size,
    head_size,
    head_size_from_box,
    keypoint_box_area,
    object_keypoint_similarity,
    pck,
    temporal_consistency,
    torso_size,
)


def test_pck_inclusive_threshold_and_visibility():
    gt = np.zeros((1, 4, 2))
    pred = np.array([[[4.0, 0.0], [0.0, 5.0], [6.0, 0.0], [100.0, 0.0]]])
    vis = np.array([[True, True, True, False]])  # the far one is not scored
    r = pck(pred, gt, vis, np.array([10.0]), alpha=0.5)  # threshold 5 px
    assert r.pck == pytest.approx(2 / 3)
    np.testing.assert_array_equal(r.correct, [[True, True, False, False]])
    np.testing.assert_array_equal(r.per_keypoint[:3], [1.0, 1.0, 0.0])
    assert np.isnan(r.per_keypoint[3])


def test_pck_skips_instances_without_a_normaliser():
    gt = np.zeros((2, 1, 2))
    pred = np.zeros((2, 1, 2))
    r = pck(pred, gt, np.ones((2, 1), bool), np.array([np.nan, 0.0]), alpha=0.2)
    assert math.isnan(r.pck) and not r.scored.any()


def test_normalisers():
    gt = np.zeros((17, 2))
    vis = np.zeros(17, bool)
    gt[5] = [10.0, 20.0]  # left shoulder
    gt[12] = [13.0, 24.0]  # right hip
    gt[2] = [0.0, 0.0]  # head top
    gt[1] = [0.0, 8.0]  # head bottom
    vis[[1, 2, 5, 12]] = True
    assert torso_size(gt, vis) == pytest.approx(5.0)
    assert head_size(gt, vis) == pytest.approx(8.0)
    assert bbox_size(gt, vis) == pytest.approx(24.0)  # x range 13, y range 24
    assert keypoint_box_area(gt, vis) == pytest.approx(13 * 24)
    vis[12] = False
    assert math.isnan(torso_size(gt, vis))
    assert head_size_from_box(np.array([5.0, 5.0, 30.0, 40.0])) == pytest.approx(0.6 * 50)


def test_pckh_at_half_with_the_posetrack_head_box():
    gt = np.zeros((1, 17, 2))
    vis = np.zeros((1, 17), bool)
    vis[0, [0, 9, 10]] = True
    pred = gt.copy()
    pred[0, 0] = [0.0, 1.4]  # within 0.5 * 3 = 1.5
    pred[0, 9] = [1.6, 0.0]  # outside
    size = head_size(head_box_xywh=np.array([[0.0, 0.0, 3.0, 4.0]]))  # 0.6 * 5 = 3
    assert pck(pred, gt, vis, size, alpha=0.5).pck == pytest.approx(2 / 3)


def test_oks_by_hand():
    gt = np.zeros((17, 2))
    pred = np.zeros((17, 2))
    vis = np.zeros(17, bool)
    vis[[0, 5]] = True
    pred[0] = [2.0, 0.0]
    pred[5] = [0.0, 3.0]
    area = 100.0
    want = np.mean([
        math.exp(-4.0 / (2 * area * (2 * 0.026) ** 2)),
        math.exp(-9.0 / (2 * area * (2 * 0.079) ** 2)),
    ])
    assert object_keypoint_similarity(pred, gt, vis, np.array(area)) == pytest.approx(want)
    assert object_keypoint_similarity(gt, gt, vis, np.array(area)) == pytest.approx(1.0)
    assert math.isnan(object_keypoint_similarity(pred, gt, np.zeros(17, bool), np.array(area)))


def test_temporal_consistency_by_hand():
    T = 5
    gt = np.zeros((T, 1, 2))
    gt[:, 0, 0] = np.arange(T) * 2.0  # constant velocity: zero acceleration
    pred = gt.copy()
    pred[2, 0, 1] = 1.0  # a one-frame bump in y
    r = temporal_consistency(pred, gt)
    # accelerations of pred in y at t = 1, 2, 3: 1, -2, 1
    assert r["jitter_pred"] == pytest.approx(4 / 3)
    assert r["jitter_gt"] == 0.0
    assert r["accel_error"] == pytest.approx(4 / 3)
    assert r["num_triplets"] == 3
    vis = np.ones((T, 1), bool)
    vis[3] = False  # only the triplet centred at t=1 remains
    r = temporal_consistency(pred, gt, vis)
    assert r["num_triplets"] == 1 and r["accel_error"] == pytest.approx(1.0)


def test_pose_malformed_inputs():
    with pytest.raises(ValueError, match=r"must be \(\.\.\., K, 2\)"):
        pck(np.zeros((3,)), np.zeros((3,)), np.ones(3, bool), np.array(1.0), 0.5)
    with pytest.raises(ValueError, match="one value per instance"):
        pck(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), np.ones((2, 3), bool), np.ones(3), 0.5)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        pck(np.zeros((1, 3, 2)), np.zeros((1, 3, 2)), np.ones((1, 3), bool), np.ones(1), 0.0)
    with pytest.raises(ValueError, match="sigmas must be"):
        object_keypoint_similarity(np.zeros((5, 2)), np.zeros((5, 2)), np.ones(5, bool), np.array(1.0))
    with pytest.raises(ValueError, match="head_box_xywh or the ground-truth"):
        head_size()
