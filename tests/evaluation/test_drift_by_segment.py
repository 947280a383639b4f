# SPDX-License-Identifier: Apache-2.0
"""benchmarks/drift_by_segment.py: per-segment delta_avg is the benchmark's metric restricted to the segment."""
import numpy as np
import pytest

from cotracker.evaluation.metrics import compute_tapvid_metrics


def _clip(T=12, N=5, seed=0):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 255, size=(T, N, 2)).astype(np.float32)
    vis = rng.random((T, N)) > 0.2
    vis[0] = True
    queries = np.stack([np.zeros(N), gt[0, :, 1], gt[0, :, 0]], axis=1).astype(np.float32)  # (t, y, x), frame 0
    return queries, gt, vis


def test_segment_bounds_cover_the_clip(load_script):
    mod = load_script("drift_by_segment", "benchmarks")
    assert mod.segment_bounds(80, 4) == [(0, 20), (20, 40), (40, 60), (60, 80)]
    b = mod.segment_bounds(10, 3)
    assert b[0][0] == 0 and b[-1][1] == 10 and all(x[1] == y[0] for x, y in zip(b, b[1:]))
    for bad in (0, 11):
        with pytest.raises(ValueError, match="segments must be in 1..10"):
            mod.segment_bounds(10, bad)


def test_one_segment_is_the_whole_clip_metric(load_script):
    mod = load_script("drift_by_segment", "benchmarks")
    queries, gt, vis = _clip()
    rng = np.random.default_rng(1)
    pred = gt + rng.normal(0, 3, size=gt.shape).astype(np.float32)
    pvis = rng.random(vis.shape) > 0.3
    whole = compute_tapvid_metrics(queries[None], (~vis).T[None], gt.transpose(1, 0, 2)[None], (~pvis).T[None],
                                   pred.transpose(1, 0, 2)[None], "first")["average_pts_within_thresh"][0]
    (one,) = mod.segment_delta_avg(queries, gt, vis, pred, pvis, mod.segment_bounds(12, 1))
    assert 0 < one < 1
    assert one == pytest.approx(whole)


def test_drift_shows_in_the_late_segment_only(load_script):
    mod = load_script("drift_by_segment", "benchmarks")
    queries, gt, vis = _clip()
    pred = gt.copy()
    pred[6:] += 20.0  # exact in frames 0-5, 20 px off (beyond every threshold) in frames 6-11
    early, late = mod.segment_delta_avg(queries, gt, vis, pred, vis, mod.segment_bounds(12, 2))
    assert early == pytest.approx(1.0)
    assert late == pytest.approx(0.0)
    # the query frame is not scored: a segment holding only frame 0 has no scored point
    first, _ = mod.segment_delta_avg(queries, gt, vis, pred, vis, [(0, 1), (1, 12)])
    assert np.isnan(first)
