import json

import numpy as np
import pytest

from cotracker.geometry import grid_points
from cotracker.io.queries import grid_queries, load_mask, load_queries, mask_queries, to_clip_frames, validate_queries


def test_csv_with_header_any_order(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("name,x,y,frame\nnose,10.5,20,0\ntail,3,4,7\n")
    q = load_queries(path)
    np.testing.assert_array_equal(q.points, [[0, 10.5, 20], [7, 3, 4]])
    assert q.names == ["nose", "tail"]


def test_csv_without_header(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("0, 1, 2\n\n3,4,5,paw\n")
    q = load_queries(path)
    np.testing.assert_array_equal(q.points, [[0, 1, 2], [3, 4, 5]])
    assert q.names == ["", "paw"]


@pytest.mark.parametrize(
    "doc",
    [
        [[0, 1, 2], [3, 4, 5, "paw"]],
        {"queries": [{"t": 0, "x": 1, "y": 2}, {"frame": 3, "x": 4, "y": 5, "name": "paw"}]},
        {"points": [[0, 1, 2], [3, 4, 5, "paw"]]},
    ],
)
def test_json_layouts(tmp_path, doc):
    path = tmp_path / "q.json"
    path.write_text(json.dumps(doc))
    q = load_queries(path)
    np.testing.assert_array_equal(q.points, [[0, 1, 2], [3, 4, 5]])
    assert q.names == ["", "paw"]


def test_json_name_mapping(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(json.dumps({"left_eye": [2, 30, 40], "right_eye": {"t": 2, "x": 50, "y": 40}}))
    q = load_queries(path)
    np.testing.assert_array_equal(q.points, [[2, 30, 40], [2, 50, 40]])
    assert q.names == ["left_eye", "right_eye"]


def test_query_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="query file not found"):
        load_queries(tmp_path / "none.csv")
    (tmp_path / "q.txt").write_text("0,1,2")
    with pytest.raises(ValueError, match="must end in .csv or .json"):
        load_queries(tmp_path / "q.txt")
    (tmp_path / "bad.csv").write_text("0,1\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 1: expected 't,x,y'"):
        load_queries(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("t,x,y\n0,abc,2\n")
    with pytest.raises(ValueError, match=r"nan.csv: line 2: expected a number, got 'abc'"):
        load_queries(tmp_path / "nan.csv")
    (tmp_path / "empty.csv").write_text("t,x,y\n")
    with pytest.raises(ValueError, match="contains no queries"):
        load_queries(tmp_path / "empty.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_queries(tmp_path / "bad.json")
    (tmp_path / "short.json").write_text("[[0, 1]]")
    with pytest.raises(ValueError, match=r"query 0: expected \[t, x, y\]"):
        load_queries(tmp_path / "short.json")


def test_validate_queries():
    ok = np.array([[0, 0, 0], [4, 79, 59]], np.float32)
    np.testing.assert_array_equal(validate_queries(ok, 5, (60, 80)), ok)
    with pytest.raises(ValueError, match=r"query 1 \(t=0, x=80, y=3\) is outside the clip.*0 <= x <= 79"):
        validate_queries(np.array([[0, 1, 1], [0, 80, 3]]), 5, (60, 80), "q.csv")
    with pytest.raises(ValueError, match=r"query 0 \(t=5, .*0 <= t < 5"):
        validate_queries(np.array([[5, 1, 1]]), 5, (60, 80))
    with pytest.raises(ValueError, match=r"y=-1"):
        validate_queries(np.array([[0, 1, -1]]), 5, (60, 80))
    with pytest.raises(ValueError, match=r"expected an \(N, 3\) array"):
        validate_queries(np.zeros((0, 3)), 5, (60, 80))


def test_to_clip_frames():
    frame_indices = [10, 13, 16, 19]
    pts = np.array([[13, 1, 2], [19, 3, 4], [10, 5, 6]], np.float32)
    np.testing.assert_array_equal(to_clip_frames(pts, frame_indices), [[1, 1, 2], [3, 3, 4], [0, 5, 6]])
    with pytest.raises(ValueError, match=r"query 0 is at frame 14, which is not among the decoded frames \(10, 13, 16, 19"):
        to_clip_frames(np.array([[14, 0, 0]]), frame_indices)
    with pytest.raises(ValueError, match="at frame 25"):
        to_clip_frames(np.array([[25, 0, 0]]), frame_indices)


def test_grid_queries_hand_values():
    # 3x3 grid laid out in a 64x96 model frame (margin 96/64 = 1.5), rescaled to a 127x191 video
    q = grid_queries(3, (127, 191), query_frame=2, model_resolution=(64, 96))
    assert q.shape == (9, 3) and (q[:, 0] == 2).all()
    sx, sy = 190 / 95, 126 / 63
    np.testing.assert_allclose(q[:3, 1], np.array([1.5, 48.0, 94.5]) * sx, rtol=1e-6)
    np.testing.assert_allclose(q[::3, 2], np.array([1.5, 32.0, 62.5]) * sy, rtol=1e-6)
    # without a model resolution the grid is the geometry grid of the frame itself
    np.testing.assert_allclose(grid_queries(4, (60, 80))[:, 1:], grid_points(4, (60, 80))[0].numpy())
    with pytest.raises(ValueError, match="grid_size must be >= 1"):
        grid_queries(0, (60, 80))


def test_mask(tmp_path):
    from PIL import Image

    mask = np.zeros((60, 80), np.uint8)
    mask[:30, :40] = 255  # top-left quarter
    Image.fromarray(mask).save(tmp_path / "m.png")
    m = load_mask(tmp_path / "m.png", (60, 80))
    assert m.dtype == bool and m.sum() == 30 * 40
    q = mask_queries(m, 4, query_frame=1)
    # the 4x4 grid in 60x80 has x = 1.25, 26.4, 51.6, 76.75 and y = 1.25, 20.4, 39.6, 58.75: 2x2 points on the mask
    assert q.shape == (4, 3)
    assert (q[:, 1] < 40).all() and (q[:, 2] < 30).all() and (q[:, 0] == 1).all()
    qm = mask_queries(m, 4, model_resolution=(64, 96))
    assert len(qm) == 4 and (qm[:, 1] < 40).all() and (qm[:, 2] < 30).all()
    with pytest.raises(ValueError, match=r"mask .*m.png is 80x60 but the video is 90x60"):
        load_mask(tmp_path / "m.png", (60, 90))
    Image.fromarray(np.zeros((60, 80), np.uint8)).save(tmp_path / "zero.png")
    with pytest.raises(ValueError, match="is empty"):
        load_mask(tmp_path / "zero.png", (60, 80))
    small = np.zeros((60, 80), bool)
    small[30, 10] = True
    with pytest.raises(ValueError, match="use a larger --grid-size"):
        mask_queries(small, 2)
    with pytest.raises(FileNotFoundError, match="mask file not found"):
        load_mask(tmp_path / "none.png", (60, 80))
