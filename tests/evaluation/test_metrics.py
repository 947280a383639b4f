"""TAP-Vid and Dynamic Replica metrics against hand-computed cases."""
import numpy as np
import pytest

from cotracker.evaluation import compute_dynamic_replica_metrics, compute_tapvid_metrics, mean_over_videos

THRS = (1, 2, 4, 8, 16)


def _one_point(T, q_t, gt_xy, pred_xy, gt_occ, pred_occ, mode="first"):
    """Metrics of a single video with a single point; per-frame arrays given as (T, ...) lists."""
    qp = np.array([[[q_t, 0.0, 0.0]]])
    return {
        k: float(v[0])
        for k, v in compute_tapvid_metrics(
            qp,
            np.array(gt_occ, bool)[None, None],
            np.array(gt_xy, float)[None, None],
            np.array(pred_occ, bool)[None, None],
            np.array(pred_xy, float)[None, None],
            mode,
        ).items()
    }


def test_perfect_predictions_score_one_in_both_modes():
    rng = np.random.default_rng(0)
    b, n, T = 2, 3, 6
    gt = rng.uniform(0, 255, (b, n, T, 2))
    occ = rng.random((b, n, T)) < 0.3
    qt = rng.integers(0, T - 1, (b, n))
    occ[np.arange(b)[:, None], np.arange(n)[None], qt] = False  # visible at the query frame
    occ[..., -1] = False  # something visible after every query frame
    qp = np.stack([qt, gt[..., 0, 1], gt[..., 0, 0]], axis=-1).astype(float)
    for mode in ("first", "strided"):
        m = compute_tapvid_metrics(qp, occ, gt, occ.copy(), gt.copy(), mode)
        assert set(m) == {"occlusion_accuracy", "average_jaccard", "average_pts_within_thresh"} | {
            f"{p}_{t}" for p in ("pts_within", "jaccard") for t in THRS
        }
        for k, v in m.items():
            assert v.shape == (b,), k
            np.testing.assert_allclose(v, 1.0, err_msg=k)


def test_all_occluded_ground_truth():
    T = 4
    gt = [[10.0, 10.0]] * T
    occ = [False, True, True, True]
    # predicted occluded too: occlusion is right, nothing visible to score positions (NaN, the reference's 0/0)
    m = _one_point(T, 0, gt, gt, occ, occ)
    assert m["occlusion_accuracy"] == 1.0
    assert np.isnan(m["pts_within_4"]) and np.isnan(m["average_pts_within_thresh"])
    assert np.isnan(m["jaccard_4"])
    # predicted visible: every scored frame is a false positive -> Jaccard 0
    m = _one_point(T, 0, gt, gt, occ, [False] * T)
    assert m["occlusion_accuracy"] == 0.0
    assert m["jaccard_1"] == 0.0 and m["average_jaccard"] == 0.0


@pytest.mark.parametrize("thr", THRS)
def test_just_inside_and_just_outside_each_threshold(thr):
    gt = [[100.0, 50.0], [100.0, 50.0]]
    vis = [False, False]
    for err, inside in ((thr - 1e-3, True), (float(thr), False), (thr + 1e-3, False)):
        pred = [[100.0, 50.0], [100.0, 50.0 - err]]
        m = _one_point(2, 0, gt, pred, vis, vis)
        assert m[f"pts_within_{thr}"] == float(inside), (err, m)
        assert m[f"jaccard_{thr}"] == float(inside)
        expected = np.mean([err < t for t in THRS])
        assert m["average_pts_within_thresh"] == pytest.approx(expected)
        assert m["average_jaccard"] == pytest.approx(expected)


def test_distance_is_euclidean():
    gt = [[0.0, 0.0], [0.0, 0.0]]
    vis = [False, False]
    m = _one_point(2, 0, gt, [[0.0, 0.0], [3.0, 4.0]], vis, vis)  # distance 5: within 8 and 16 only
    assert [m[f"pts_within_{t}"] for t in THRS] == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_query_frame_is_excluded_first_vs_strided():
    T = 4
    gt = [[0.0, 0.0]] * T
    bad = [50.0, 50.0]
    pred = [bad, bad, bad, [0.0, 0.0]]  # wrong at frames 0..2, right at 3
    vis = [False] * T
    # query at frame 2 (1.6 rounds to 2)
    first = _one_point(T, 1.6, gt, pred, vis, vis, "first")  # scores frame 3 only
    strided = _one_point(T, 1.6, gt, pred, vis, vis, "strided")  # frames 0, 1, 3
    assert first["average_pts_within_thresh"] == 1.0 and first["average_jaccard"] == 1.0
    assert strided["pts_within_16"] == pytest.approx(1 / 3)
    # Jaccard: TP 1, GT positives 3, FP 2 (frames 0, 1: visible but far) -> 1 / 5
    assert strided["jaccard_16"] == pytest.approx(1 / 5)
    # a wrong prediction at the query frame itself never counts
    pred2 = [[0.0, 0.0], [0.0, 0.0], bad, [0.0, 0.0]]
    assert _one_point(T, 2, gt, pred2, vis, vis, "strided")["average_jaccard"] == 1.0


def test_mixed_case_by_hand():
    # frames after the query (t=0): 1 TP; 2 visible but far & predicted visible (FN + FP);
    # 3 occluded but predicted visible (FP); 4 visible & exact but predicted occluded (FN)
    gt = [[5.0, 5.0]] * 5
    pred = [[5.0, 5.0], [5.0, 5.0], [60.0, 5.0], [5.0, 5.0], [5.0, 5.0]]
    gt_occ = [False, False, False, True, False]
    pred_occ = [False, False, False, False, True]
    m = _one_point(5, 0, gt, pred, gt_occ, pred_occ)
    assert m["occlusion_accuracy"] == pytest.approx(2 / 4)
    for t in THRS:
        assert m[f"pts_within_{t}"] == pytest.approx(2 / 3)
        assert m[f"jaccard_{t}"] == pytest.approx(1 / (3 + 2))


def _reference_style(qp, gt_occ, gt, pred_occ, pred, mode):
    """An independent restatement of the definition with the eye/cumsum construction."""
    T = gt.shape[2]
    eye = np.eye(T, dtype=np.int32)
    table = (np.cumsum(eye, axis=1) - eye) if mode == "first" else (1 - eye)
    ev = table[np.round(qp[..., 0]).astype(np.int32)] > 0
    vis, pvis = ~gt_occ, ~pred_occ
    out = {"occlusion_accuracy": np.sum((pred_occ == gt_occ) & ev, axis=(1, 2)) / np.sum(ev, axis=(1, 2))}
    aj, ap = [], []
    for t in THRS:
        w = np.sum((pred - gt) ** 2, axis=-1) < t * t
        ap.append(np.sum(w & vis & ev, axis=(1, 2)) / np.sum(vis & ev, axis=(1, 2)))
        fp = ((~vis & pvis) | (~w & pvis)) & ev
        aj.append(np.sum(w & pvis & vis & ev, axis=(1, 2)) / (np.sum(vis & ev, axis=(1, 2)) + np.sum(fp, axis=(1, 2))))
    out["average_jaccard"] = np.mean(aj, axis=0)
    out["average_pts_within_thresh"] = np.mean(ap, axis=0)
    return out


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_random_inputs_match_the_definition(mode):
    rng = np.random.default_rng(1)
    b, n, T = 3, 20, 12
    gt = rng.uniform(0, 255, (b, n, T, 2))
    pred = gt + rng.normal(0, 6, gt.shape)
    gt_occ = rng.random((b, n, T)) < 0.25
    pred_occ = rng.random((b, n, T)) < 0.25
    qt = rng.integers(0, T // 2, (b, n)).astype(float)
    qp = np.stack([qt, rng.uniform(0, 255, (b, n)), rng.uniform(0, 255, (b, n))], axis=-1)
    got = compute_tapvid_metrics(qp, gt_occ, gt, pred_occ, pred, mode)
    want = _reference_style(qp, gt_occ, gt, pred_occ, pred, mode)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, err_msg=k)


def test_tapvid_malformed_inputs():
    qp = np.zeros((1, 2, 3))
    occ = np.zeros((1, 2, 5), bool)
    tr = np.zeros((1, 2, 5, 2))
    with pytest.raises(ValueError, match="query_mode must be 'first' or 'strided'"):
        compute_tapvid_metrics(qp, occ, tr, occ, tr, "all")
    with pytest.raises(ValueError, match=r"pred_tracks must have the shape of gt_tracks"):
        compute_tapvid_metrics(qp, occ, tr, occ, tr[:, :, :4], "first")
    with pytest.raises(ValueError, match=r"gt_tracks must be 4D with a last dimension of 2"):
        compute_tapvid_metrics(qp, occ, tr[..., :1], occ, tr, "first")
    with pytest.raises(ValueError, match=r"query_points must be \(b, n, 3\)"):
        compute_tapvid_metrics(qp[:, :1], occ, tr, occ, tr, "first")
    with pytest.raises(ValueError, match=r"query frames must lie in \[0, 4\]"):
        compute_tapvid_metrics(np.full((1, 2, 3), 7.0), occ, tr, occ, tr, "first")
    with pytest.raises(ValueError, match="must be boolean"):
        compute_tapvid_metrics(qp, occ, tr, np.full((1, 2, 5), 0.3), tr, "first")


def test_dynamic_replica_by_hand():
    T, N = 3, 2
    gt = np.zeros((1, T, N, 2))
    pred = np.zeros((1, T, N, 2))
    vis = np.ones((1, T, N), bool)
    # point 0: visible throughout; errors 0, 0.5, 3 -> started frames 1, 2
    pred[0, :, 0, 0] = [0.0, 0.5, 3.0]
    # point 1: first visible at frame 1, occluded at 2 with error 10 -> started frame 2 only (occluded)
    vis[0, 0, 1] = False
    vis[0, 2, 1] = False
    pred[0, 2, 1, 1] = 10.0
    m = {k: float(v[0]) for k, v in compute_dynamic_replica_metrics(pred, gt, vis, (256, 256)).items()}
    assert m["accuracy_vis_1"] == 50.0 and m["accuracy_vis_2"] == 50.0 and m["accuracy_vis_4"] == 100.0
    assert m["accuracy_occ_8"] == 0.0 and m["accuracy_occ_16"] == 100.0
    assert m["accuracy_1"] == pytest.approx(100 / 3) and m["accuracy_16"] == 100.0
    assert m["accuracy_vis"] == pytest.approx((50 + 50 + 100 + 100 + 100) / 5)
    assert m["accuracy_occ"] == pytest.approx(100 / 5)
    assert m["survival"] == 100.0


def test_dynamic_replica_survival_and_scale():
    T = 4
    gt = np.zeros((1, T, 1, 2))
    pred = np.zeros((1, T, 1, 2))
    vis = np.ones((1, T, 1), bool)
    pred[0, 1, 0, 0] = 60.0  # lost at frame 1 (visible, > 50), back on track later: stays dead
    m = compute_dynamic_replica_metrics(pred, gt, vis, (256, 256))
    assert m["survival"][0] == pytest.approx(100 * 1 / 4)
    # an occluded large error does not kill the track
    vis[0, 1, 0] = False
    assert compute_dynamic_replica_metrics(pred, gt, vis, (256, 256))["survival"][0] == 100.0
    # distances are measured at the 256 scale: 2 px in a 511-wide frame is 1 px
    pred = np.zeros((1, 2, 1, 2))
    pred[0, 1, 0, 0] = 2.0 - 1e-6
    m = compute_dynamic_replica_metrics(pred, np.zeros_like(pred), np.ones((1, 2, 1), bool), (256, 511))
    assert m["accuracy_vis_1"][0] == 100.0
    m = compute_dynamic_replica_metrics(pred, np.zeros_like(pred), np.ones((1, 2, 1), bool), (256, 256))
    assert m["accuracy_vis_1"][0] == 0.0


def test_dynamic_replica_malformed():
    with pytest.raises(ValueError, match=r"gt_visibility must be \(B, T, N\)"):
        compute_dynamic_replica_metrics(np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2, 2)), np.ones((1, 3, 3), bool), (8, 8))
    with pytest.raises(ValueError, match=r"video_hw must be \(H, W\)"):
        compute_dynamic_replica_metrics(np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2, 2)), np.ones((1, 3, 2), bool), (8,))


def test_mean_over_videos_skips_nan_and_non_numbers():
    m = mean_over_videos([{"a": 1.0, "b": float("nan"), "name": "x"}, {"a": 3.0, "b": 2.0}])
    assert m == {"a": 2.0, "b": 2.0}
