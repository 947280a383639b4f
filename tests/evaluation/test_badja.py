"""The BADJA reader (on the shared files) and the sparse-keyframe PCK."""
import json

import numpy as np
import pytest

from cotracker.evaluation.badja import (
    BadjaConfig,
    badja_queries,
    compute_badja_pck,
    load_badja_sequence,
    read_badja_annotations,
)


def _record(frame, joints, vis):
    return {"image_path": f"DAVIS/JPEGImages/Full-Resolution/x/{frame:05d}.jpg", "joints": joints, "visibility": vis}


def test_reader_scales_row_col_to_xy(tmp_path):
    path = tmp_path / "x.json"
    recs = [_record(7, [[540, 960], [0, 0]], [True, True]), _record(2, [[1080, 0], [108, 192]], [True, False])]
    path.write_text(json.dumps(recs))
    ann = read_badja_annotations(path, (480, 854))
    np.testing.assert_array_equal(ann.frame_indices, [2, 7])  # sorted by frame
    np.testing.assert_allclose(ann.joints[1, 0], [427.0, 240.0])  # centre of the frame
    np.testing.assert_allclose(ann.joints[0, 0], [0.0, 480.0])
    # the (0, 0) placeholder is never visible, even if flagged
    np.testing.assert_array_equal(ann.visible, [[True, False], [True, False]])
    q, ids = badja_queries(ann)
    np.testing.assert_array_equal(ids, [0])
    np.testing.assert_allclose(q, [[2.0, 0.0, 480.0]])


def test_reader_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_badja_annotations(bad, (480, 854))
    bad.write_text(json.dumps([{"image_path": "a.jpg"}]))
    with pytest.raises(ValueError, match="must have 'image_path', 'joints' and 'visibility'"):
        read_badja_annotations(bad, (480, 854))
    bad.write_text(json.dumps([_record(0, [[1, 2, 3]], [True])]))
    with pytest.raises(ValueError, match=r"expected joints \(J, 2\)"):
        read_badja_annotations(bad, (480, 854))
    with pytest.raises(FileNotFoundError, match="no BADJA annotations for 'nope'"):
        load_badja_sequence(tmp_path, "nope")


def test_horsejump_joints_land_on_the_foreground(shared_dir):
    root = shared_dir / "data"
    if not (root / "realgt" / "badja" / "horsejump-high.json").is_file():
        pytest.skip("BADJA horsejump-high annotations not in the shared folder")
    seq = load_badja_sequence(root, "horsejump-high")
    ann = seq.annotations
    assert seq.frames.shape == (50, 480, 854, 3)
    assert seq.masks is not None and seq.masks.shape == (len(ann.frame_indices), 480, 854)
    assert ann.frame_indices[0] == 0 and len(ann.frame_indices) == 10
    inside, near = [], []
    yy, xx = np.mgrid[0:480, 0:854]
    for k in range(len(ann.frame_indices)):
        fg_y, fg_x = yy[seq.masks[k]], xx[seq.masks[k]]
        for x, y in ann.joints[k][ann.visible[k]]:
            inside.append(seq.masks[k, int(round(y)), int(round(x))])
            near.append(np.min(np.hypot(fg_x - x, fg_y - y)))
    assert len(inside) > 100
    assert np.mean(inside) > 0.85  # joints lie on the horse (or on its outline)
    assert max(near) < 8.0  # and never far from the foreground
    # swapping (row, col) would put them elsewhere: the convention matters
    # (reading (col, row) instead puts a joint at about (x, y) = (y, x) here)
    swapped = [seq.masks[k, min(int(x), 479), int(y)]
               for k in range(len(ann.frame_indices)) for x, y in ann.joints[k][ann.visible[k]]]
    assert np.mean(swapped) < 0.5


def test_bear_annotations_match_the_clip(shared_dir):
    path = shared_dir / "data" / "realgt" / "badja" / "bear.json"
    if not path.is_file():
        pytest.skip("BADJA bear annotations not in the shared folder")
    ann = read_badja_annotations(path, (480, 854))
    assert ann.frame_indices[0] == 2 and ann.frame_indices[-1] == 80
    vis = ann.joints[ann.visible]
    assert (vis[:, 0] >= 0).all() and (vis[:, 0] <= 853).all() and (vis[:, 1] >= 0).all() and (vis[:, 1] <= 479).all()


def test_badja_pck_by_hand():
    gt = np.zeros((3, 2, 2))
    pred = np.zeros((3, 2, 2))
    pred[0] = 100.0  # the query frame is never scored
    pred[1, 0] = [0.0, 9.0]
    pred[1, 1] = [0.0, 20.0]
    pred[2, 0] = [0.0, 40.0]
    vis = np.array([[True, True], [True, True], [True, False]])
    area = np.array([1.0, 100.0 ** 2, 50.0 ** 2])  # thresholds 0.2 * sqrt(area): 20 at frame 1, 10 at frame 2
    m = compute_badja_pck(pred, gt, vis, area, BadjaConfig(pixel_thresholds=(10.0, 30.0)))
    # scored: (1,0) err 9, (1,1) err 20, (2,0) err 40
    assert m["num_scored"] == 3
    assert m["pck_mask"] == pytest.approx(1 / 3)  # 9 < 20; 20 is not < 20; 40 > 10
    assert m["pck_10px"] == pytest.approx(1 / 3)
    assert m["pck_30px"] == pytest.approx(2 / 3)
    assert m["mean_error_px"] == pytest.approx(23.0)
    assert np.isnan(compute_badja_pck(pred, gt, vis)["pck_mask"])
    with pytest.raises(ValueError, match=r"mask_area must be \(K,\)"):
        compute_badja_pck(pred, gt, vis, np.ones(2))
