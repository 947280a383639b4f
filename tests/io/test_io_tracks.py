import json

import numpy as np
import pytest

from cotracker.io.tracks import TrackFile, load_tracks, load_tracks_csv, save_tracks_csv, save_tracks_json, save_tracks_npz


def _track_file(T=4, N=3):
    rng = np.random.default_rng(1)
    return TrackFile(
        tracks=rng.uniform(0, 50, (T, N, 2)).astype(np.float32),
        visibility=rng.random((T, N)) > 0.3,
        queries=np.array([[0, 1.5, 2.5], [1, 10, 20], [3, 0, 0]], np.float32)[:N],
        frame_size=(60, 80),
        fps=12.5,
        model_name="cotracker2-synth",
        frame_indices=np.arange(T) * 2 + 10,
        point_names=["nose", "", "tail"][:N],
        video="/videos/dog.mp4",
    )


def test_npz_roundtrip(tmp_path):
    tf = _track_file()
    save_tracks_npz(tmp_path / "t.npz", tf)
    back = load_tracks(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.tracks, tf.tracks)
    np.testing.assert_array_equal(back.visibility, tf.visibility)
    np.testing.assert_array_equal(back.queries, tf.queries)
    np.testing.assert_array_equal(back.frame_indices, [10, 12, 14, 16])
    assert back.frame_size == (60, 80) and back.fps == 12.5
    assert back.model_name == "cotracker2-synth" and back.point_names == ["nose", "", "tail"]
    assert back.video == "/videos/dog.mp4"
    assert back.visibility.dtype == bool and back.tracks.dtype == np.float32
    # plain numpy can read it without pickles
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        assert z["tracks"].shape == (4, 3, 2)


def test_csv_rows_and_roundtrip(tmp_path):
    tf = _track_file()
    save_tracks_csv(tmp_path / "t.csv", tf)
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0] == "frame,point,x,y,visible"
    assert len(lines) == 1 + 4 * 3
    frame, point, x, y, vis = lines[1 + 3 * 2 + 1].split(",")  # frame 2 (source 14), point 1
    assert (int(frame), int(point)) == (14, 1)
    assert float(x) == pytest.approx(tf.tracks[2, 1, 0], abs=1e-3)
    assert float(y) == pytest.approx(tf.tracks[2, 1, 1], abs=1e-3)
    assert int(vis) == int(tf.visibility[2, 1])
    frames, tracks, visibility = load_tracks_csv(tmp_path / "t.csv")
    np.testing.assert_array_equal(frames, tf.frame_indices)
    np.testing.assert_allclose(tracks, tf.tracks, atol=1e-3)
    np.testing.assert_array_equal(visibility, tf.visibility)


def test_json(tmp_path):
    tf = _track_file()
    save_tracks_json(tmp_path / "t.json", tf)
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["frame_size"] == [60, 80] and len(doc["points"]) == 3
    p = doc["points"][2]
    assert p["name"] == "tail" and p["query"] == [3, 0, 0]
    np.testing.assert_allclose(p["xy"], tf.tracks[:, 2], atol=1e-3)
    assert p["visible"] == tf.visibility[:, 2].astype(int).tolist()


def test_shape_checks():
    tf = _track_file()
    with pytest.raises(ValueError, match=r"visibility must be \(T, N\)"):
        TrackFile(tf.tracks, tf.visibility[:, :2], tf.queries, (60, 80), 10)
    with pytest.raises(ValueError, match=r"queries must be \(N, 3\)"):
        TrackFile(tf.tracks, tf.visibility, tf.queries[:2], (60, 80), 10)
    with pytest.raises(ValueError, match="point_names must have N = 3"):
        TrackFile(tf.tracks, tf.visibility, tf.queries, (60, 80), 10, point_names=["a"])


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="track file not found"):
        load_tracks(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a cotracker track file: missing tracks"):
        load_tracks(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(ValueError, match="cannot read track file .*junk.npz"):
        load_tracks(tmp_path / "junk.npz")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a tracks CSV"):
        load_tracks_csv(tmp_path / "bad.csv")
