import json

import numpy as np
import pytest

from cotracker.pose.files import (
    first_appearance,
    parse_keypoints_json,
    posetrack_prediction_json,
    read_keypoints_file,
    select_queries,
)
from cotracker.pose.keypoints import POSETRACK_KEYPOINTS
from pose_helpers import person, posetrack_json


def _write(tmp_path, data, name="kp.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_posetrack_json_query_frame_and_first_appearance(tmp_path):
    late = person(30, 20)
    late[15:, 2] = 0  # ankles hidden at frame 1 ...
    later = person(31, 21)  # ... and labelled at frame 3
    doc = posetrack_json({1: [(5, person(10, 20)), (2, late)], 3: [(2, later)]}, num_frames=6)
    kf = read_keypoints_file(_write(tmp_path, doc))
    assert kf.kind == "posetrack" and kf.layout == "posetrack" and kf.frames == [1, 3]
    assert [im["file_name"][-10:] for im in kf.images] == [f"{t:06d}.jpg" for t in range(6)]  # frame order
    qs = select_queries(kf)  # default: the first annotated frame
    assert qs.person_ids.tolist() == [2, 5]
    assert (qs.query_frames[0, :15] == 1).all() and (qs.query_frames[0, 15:] == -1).all()
    np.testing.assert_array_equal(qs.keypoints[1], person(10, 20))
    qs = select_queries(kf, "first")
    assert qs.query_frames[0].tolist() == [1] * 15 + [3, 3]
    np.testing.assert_array_equal(qs.keypoints[0, 15:], later[15:])
    qs = select_queries(kf, 3, frame_range=(2, 6))  # frames come back relative to the range start
    assert qs.person_ids.tolist() == [2] and (qs.query_frames == 1).all()


def test_coco_json_layout_detection_and_override(tmp_path):
    doc = posetrack_json({0: [(0, person(10, 20))]}, num_frames=1, layout="coco")
    for ann in doc["annotations"]:
        del ann["track_id"]
    kf = read_keypoints_file(_write(tmp_path, doc))
    assert kf.kind == "coco" and kf.layout == "coco" and kf.records[0].person == 1  # the annotation id
    assert read_keypoints_file(_write(tmp_path, doc), layout="posetrack").layout == "posetrack"
    del doc["categories"]
    assert read_keypoints_file(_write(tmp_path, doc)).layout == "coco"  # no names, no track_id


def test_simple_list_uses_first_appearance(tmp_path):
    a = person(10, 20)
    a[9:11, 2] = 0
    b = np.zeros((17, 3))
    b[9:11] = [[5, 6, 1], [7, 8, 1]]
    items = [{"person": 4, "keypoints": a.reshape(-1).tolist(), "frame": 0},
             {"person": 4, "keypoints": b.reshape(-1).tolist(), "frame": 2},
             {"person": 1, "keypoints": person(40, 20).reshape(-1).tolist()}]
    kf = read_keypoints_file(_write(tmp_path, items))
    assert kf.kind == "list" and kf.layout == "posetrack"
    qs = select_queries(kf)
    assert qs.person_ids.tolist() == [1, 4]
    assert qs.query_frames[1].tolist() == [0] * 9 + [2, 2] + [0] * 6
    np.testing.assert_array_equal(qs.keypoints[1, 9:11], b[9:11])
    with pytest.raises(ValueError, match="no person is annotated at query frame 1"):
        select_queries(kf, 1)


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", r"is not valid JSON \(Expecting property name"),
        ([{"person": 0, "keypoints": [1.0] * 48}], r"has 48 keypoint numbers; expected 51 .*16 keypoints"),
        ([{"person": 0, "keypoints": [1.0] * 34}], r"looks like \[x, y\] \* 17"),
        ([{"person": 0, "keypoints": [0.0] * 51}], "has no labelled keypoint"),
        ([{"person": 0, "keypoints": "abc"}], "must be a flat list of numbers"),
        ([{"person": 0, "keypoints": [1.0] * 51, "frame": -1}], "'frame' must be a frame index"),
        ({"foo": 1}, "unknown keypoint file structure"),
        ([[1, 2]], r"entry 0 must be an object"),
        ({"images": [{"id": 1}], "annotations": [{"image_id": 2, "keypoints": [1.0] * 51}]},
         "refers to an image id that is not in 'images'"),
        ({"images": [{"id": 1}], "annotations": [{"image_id": 1, "keypoints": [0.0] * 51}]},
         "holds no person with a labelled keypoint"),
        ({"images": [], "annotations": [], "categories": [{"keypoints": ["a"] * 15}]}, "lists 15 keypoint names"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, match):
    with pytest.raises(ValueError, match=match):
        read_keypoints_file(_write(tmp_path, content))


def test_missing_file_and_range_without_people(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_keypoints_file(tmp_path / "nope.json")
    kf = parse_keypoints_json(posetrack_json({4: [(0, person(10, 20))]}, num_frames=6))
    with pytest.raises(ValueError, match=r"no person is annotated in frames \[0, 3\) \(annotated frames: 4\)"):
        select_queries(kf, None, (0, 3))


def test_first_appearance_keeps_earliest_label():
    from cotracker.pose.files import KeypointRecord

    a, b = person(10, 10), person(20, 20)
    qs = first_appearance([KeypointRecord(3, 5, b), KeypointRecord(3, 2, a)])
    np.testing.assert_array_equal(qs.keypoints[0], a)
    assert (qs.query_frames == 2).all()


def test_prediction_json_structure():
    P, T = 2, 3
    tracks = np.arange(P * T * 17 * 2, dtype=np.float64).reshape(P, T, 17, 2)
    vis = np.ones((P, T, 17), bool)
    vis[0, 1, 4] = False
    tracked = np.ones((P, T, 17), bool)
    tracked[1, 0] = False  # person 1 not tracked at frame 0: no annotation
    tracked[0, 2, 7] = False
    doc = posetrack_prediction_json(tracks, vis, tracked, [7, 9], video_name="000342_mpii_test", frame_offset=10)
    assert [im["id"] for im in doc["images"]] == [10003420010, 10003420011, 10003420012]
    assert doc["images"][0]["file_name"] == "images/000342_mpii_test/000010.jpg" and doc["images"][0]["nframes"] == 13
    assert len(doc["annotations"]) == 5
    assert doc["categories"][0]["keypoints"] == list(POSETRACK_KEYPOINTS)
    ann = [a for a in doc["annotations"] if a["track_id"] == 7 and a["image_id"] == 10003420011][0]
    kp = np.array(ann["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(kp[:, :2], tracks[0, 1])
    assert kp[4, 2] == 0 and kp[5, 2] == 1 and ann["scores"][4] == 0.0 and ann["scores"][5] == 1.0
    ann = [a for a in doc["annotations"] if a["track_id"] == 7 and a["image_id"] == 10003420012][0]
    assert ann["keypoints"][21:24] == [0.0, 0.0, 0.0]  # untracked keypoint 7
    x0, y0, w, h = ann["bbox"]
    xy = np.delete(tracks[0, 2], 7, axis=0)
    np.testing.assert_allclose([x0, y0, x0 + w, y0 + h], [*xy.min(0), *xy.max(0)])
    json.dumps(doc)  # serialisable
    # source images are reused so predictions line up with a ground-truth file
    src = [{"id": 100 + t, "file_name": f"gt/{t}.jpg", "nframes": 20} for t in range(20)]
    doc = posetrack_prediction_json(tracks, vis, tracked, [7, 9], frame_offset=4, source_images=src)
    assert [im["id"] for im in doc["images"]] == [104, 105, 106] and doc["images"][0]["nframes"] == 20
