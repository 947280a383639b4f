"""Loaders on fixtures written in each official format: shapes, values, scaling, queries, errors."""
import gzip
import json

import numpy as np
import pytest
import torch

from cotracker.data import (
    DynamicReplicaDataset,
    KubricMovifDataset,
    MixedDataset,
    PoseTrackDataset,
    TapVidDataset,
    make_tapvid_entry,
    write_dynamic_replica_sequence,
    write_kubric_sequence,
    write_posetrack_start_frames,
    write_posetrack_video,
    write_tapvid_pickle,
)
from cotracker.types import collate_samples


def _video(rng, T, H, W):
    return rng.integers(0, 256, size=(T, H, W, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------- Kubric
def _kubric_fixture(root, name="seq_a", T=6, H=24, W=32, N=10, seed=0):
    rng = np.random.default_rng(seed)
    frames = _video(rng, T, H, W)
    coords = rng.uniform([0, 0], [W - 1, H - 1], size=(N, T, 2)).astype(np.float32)
    occluded = rng.random((N, T)) < 0.3
    occluded[:, 0] = False  # all visible in frame 0 so every track can be sampled
    write_kubric_sequence(root, name, frames, coords, occluded)
    return frames, coords, occluded


def test_kubric_roundtrip_values(tmp_path):
    frames, coords, occ = _kubric_fixture(tmp_path)
    ds = KubricMovifDataset(tmp_path, crop_size=(24, 32), seq_len=6, traj_per_sample=10)
    s = ds[0]
    assert s.video.shape == (6, 3, 24, 32) and s.trajectory.shape == (6, 10, 2)
    assert torch.equal(s.video, torch.from_numpy(frames).permute(0, 3, 1, 2).float())  # PNG is lossless
    # Track order is a permutation: match tracks by their first-frame position.
    order = [int(np.argmin(np.abs(coords[:, 0] - p.numpy()).sum(1))) for p in s.trajectory[0]]
    assert sorted(order) == list(range(10))
    np.testing.assert_allclose(s.trajectory.numpy(), coords[order].transpose(1, 0, 2), atol=1e-5)
    # The file's flag means occluded; the sample's visibility is its inverse.
    assert torch.equal(s.visibility, torch.from_numpy(~occ[order].T))
    assert s.valid.all() and s.query_points is None


def test_kubric_crop_window_and_determinism(tmp_path):
    frames, coords, _ = _kubric_fixture(tmp_path, T=8, H=40, W=48, N=50)
    ds = KubricMovifDataset(tmp_path, crop_size=(20, 24), seq_len=4, traj_per_sample=16, seed=3)
    a, b = ds[0], ds[0]
    assert torch.equal(a.video, b.video) and torch.equal(a.trajectory, b.trajectory)
    assert a.video.shape == (4, 3, 20, 24)
    # Find the crop offset and window from the pixels, then check the tracks shifted by it.
    v = a.video.permute(0, 2, 3, 1).numpy().astype(np.uint8)
    hits = [(t0, y0, x0) for t0 in range(5) for y0 in range(21) for x0 in range(25)
            if np.array_equal(frames[t0, y0 : y0 + 20, x0 : x0 + 24], v[0])]
    assert len(hits) == 1
    t0, y0, x0 = hits[0]
    tr = a.trajectory.numpy() + np.array([x0, y0], np.float32)
    for n in range(16):
        match = np.abs(coords[:, t0 : t0 + 4].transpose(1, 0, 2) - tr[:, n : n + 1]).max(axis=(0, 2))
        assert match.min() < 1e-4
    inside = (a.trajectory[..., 0] >= 0) & (a.trajectory[..., 0] <= 23) & (a.trajectory[..., 1] >= 0) & (a.trajectory[..., 1] <= 19)
    assert not (a.visibility & ~inside).any()  # outside the crop means occluded


def test_kubric_augmented_sample_shapes(tmp_path):
    _kubric_fixture(tmp_path, T=6, H=48, W=64, N=40)
    ds = KubricMovifDataset(tmp_path, crop_size=(32, 40), seq_len=5, traj_per_sample=12, use_augs=True)
    batch = collate_samples([ds[0], ds[0]])
    assert batch.video.shape == (2, 5, 3, 32, 40) and batch.trajectory.shape == (2, 5, 12, 2)
    assert batch.video.min() >= 0 and batch.video.max() <= 255


def test_kubric_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Kubric MOVi-F data root"):
        KubricMovifDataset(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no sequence folders"):
        KubricMovifDataset(tmp_path)
    _kubric_fixture(tmp_path, name="s1")
    npy = tmp_path / "s1" / "s1.npy"
    np.save(npy, {"coords": np.zeros((5, 6, 3)), "visibility": np.zeros((5, 6), bool)}, allow_pickle=True)
    ds = KubricMovifDataset(tmp_path, crop_size=(24, 32), seq_len=6, traj_per_sample=4)
    with pytest.raises(ValueError, match=r"s1\.npy.*'coords' must have shape \(N, T, 2\)"):
        ds[0]
    np.save(npy, {"coords": np.zeros((5, 7, 2)), "visibility": np.zeros((5, 7), bool)}, allow_pickle=True)
    with pytest.raises(ValueError, match="cover 7 frames but the frames folder has 6"):
        ds[0]
    npy.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match=r"cannot read Kubric annotations .*s1\.npy"):
        ds[0]
    npy.unlink()
    with pytest.raises(FileNotFoundError, match=r"s1\.npy"):
        ds[0]


# ----------------------------------------------------------------------------------------------- TAP-Vid
def _tapvid_entry(rng, T=10, H=30, W=40, N=6, jpeg=False):
    video = _video(rng, T, H, W)
    pts = rng.random((N, T, 2)).astype(np.float32)
    occ = rng.random((N, T)) < 0.4
    occ[0] = True  # track 0 never visible: dropped by "first"
    occ[1, :3] = True  # track 1 first visible at frame 3
    occ[1, 3] = False
    return make_tapvid_entry(video, pts, occ, encode_jpeg=jpeg), pts, occ


def test_tapvid_davis_first(tmp_path):
    rng = np.random.default_rng(0)
    e1, pts, occ = _tapvid_entry(rng)
    e2, _, _ = _tapvid_entry(rng)
    path = write_tapvid_pickle(tmp_path / "tapvid_davis.pkl", {"bear": e1, "cat": e2})
    ds = TapVidDataset(path, "davis", queried_first=True)
    assert ds.video_names == ["bear", "cat"]
    s = ds[0]
    assert s.video.shape == (10, 3, 256, 256)
    keep = ~occ.all(axis=1)
    assert s.trajectory.shape == (10, keep.sum(), 2)
    # 256x256 benchmark scale: x * (256 - 1), align-corners.
    np.testing.assert_allclose(s.trajectory.numpy(), (pts[keep] * 255).transpose(1, 0, 2), rtol=1e-6)
    first = np.argmax(~occ[keep], axis=1)
    assert first[0] == 3  # track 1 (the first kept) is queried at frame 3
    np.testing.assert_array_equal(s.query_points[:, 0].numpy(), first)
    np.testing.assert_allclose(s.query_points[:, 1:].numpy(), s.trajectory.numpy()[first, np.arange(keep.sum())])
    native = TapVidDataset(path, "davis", resize_to=None)[0]
    assert native.video.shape == (10, 3, 30, 40)
    np.testing.assert_allclose(native.trajectory[..., 0].numpy(), (pts[keep, :, 0] * 39).T, rtol=1e-6)


def test_tapvid_strided_kinetics_jpeg(tmp_path):
    rng = np.random.default_rng(1)
    e1, pts, occ = _tapvid_entry(rng, T=12, jpeg=True)
    write_tapvid_pickle(tmp_path / "0000_of_0010.pkl", [e1])
    write_tapvid_pickle(tmp_path / "0001_of_0010.pkl", [_tapvid_entry(rng)[0]])
    ds = TapVidDataset(tmp_path, "kinetics", queried_first=False, resize_to=(64, 64))
    assert len(ds) == 2
    s = ds[0]
    vis = ~occ.T  # (T, N)
    expected = sum(int(vis[t].sum()) for t in (0, 5, 10))
    assert s.query_points.shape == (expected, 3)
    assert set(s.query_points[:, 0].tolist()) <= {0.0, 5.0, 10.0}
    t = s.query_points[:, 0].long()
    assert s.visibility[t, torch.arange(expected)].all()  # every strided query is visible at its frame


def test_tapvid_stacking_robotap_and_errors(tmp_path):
    rng = np.random.default_rng(2)
    write_tapvid_pickle(tmp_path / "stack.pkl", [_tapvid_entry(rng)[0], _tapvid_entry(rng)[0]])
    assert len(TapVidDataset(tmp_path / "stack.pkl", "stacking")) == 2
    (tmp_path / "robo").mkdir()
    write_tapvid_pickle(tmp_path / "robo" / "robotap_split0.pkl", {"a": _tapvid_entry(rng)[0]})
    assert TapVidDataset(tmp_path / "robo", "robotap")[0].seq_name == "a"
    with pytest.raises(ValueError, match="dataset_type must be one of"):
        TapVidDataset(tmp_path / "stack.pkl", "sintel")
    with pytest.raises(FileNotFoundError, match="no TAP-Vid kinetics pickles"):
        TapVidDataset(tmp_path / "robo", "kinetics")
    (tmp_path / "bad.pkl").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read TAP-Vid davis pickle .*bad\.pkl"):
        TapVidDataset(tmp_path / "bad.pkl", "davis")
    e = _tapvid_entry(rng)[0]
    e["points"] = e["points"][:, :5]
    write_tapvid_pickle(tmp_path / "short.pkl", {"v": e})
    with pytest.raises(ValueError, match=r"'points' must be \(N, T=10, 2\)"):
        TapVidDataset(tmp_path / "short.pkl", "davis")[0]


# ----------------------------------------------------------------------------------------------- PoseTrack
def _posetrack_fixture(root, T=5, H=30, W=40, P=2):
    rng = np.random.default_rng(3)
    frames = _video(rng, T, H, W)
    kp = rng.uniform([1, 1], [W - 2, H - 2], size=(T, P, 17, 2)).astype(np.float32)
    vis = rng.random((T, P, 17)) < 0.7
    vis[1, :, 1:] = True  # every other keypoint visible at least once
    vis[:, :, 0] = False  # noses never visible: dropped
    present = np.ones((T, P), bool)
    present[0, 1] = False  # person 1 absent in frame 0
    write_posetrack_video(root, root / "ann", "vid1", frames, kp, vis, present=present, track_ids=[7, 9],
                          image_format="png")
    return frames, kp, vis, present


def test_posetrack_loader_values(tmp_path):
    frames, kp, vis, present = _posetrack_fixture(tmp_path)
    ds = PoseTrackDataset(tmp_path, tmp_path / "ann", max_frames=4, interp_shape=(60, 79))
    s = ds[0]
    assert s.video.shape == (4, 3, 60, 79)
    keep = np.concatenate([np.arange(1, 17), 17 + np.arange(1, 17)])  # noses dropped
    assert s.trajectory.shape == (4, 32, 2)
    np.testing.assert_array_equal(s.keypoint_ids.numpy(), np.tile(np.arange(1, 17), 2))
    np.testing.assert_array_equal(s.person_ids.numpy(), np.repeat([7, 9], 16))
    flat = kp[:4].reshape(4, -1, 2)[:, keep]
    # Coordinates scale align-corners: x * (79 - 1) / (40 - 1), y * (60 - 1) / (30 - 1).
    expected = flat * np.array([78 / 39, 59 / 29], np.float32)
    valid = s.valid.numpy()
    np.testing.assert_allclose(s.trajectory.numpy()[valid], expected[valid], rtol=1e-4, atol=1e-3)
    exp_vis = (vis[:4] & present[:4, :, None]).reshape(4, -1)[:, keep]
    np.testing.assert_array_equal(s.visibility.numpy(), exp_vis)
    assert not valid[0, 16:].any() and valid[1:].all()  # person 9 absent in frame 0
    t0 = s.query_points[:, 0].long()
    assert s.visibility[t0, torch.arange(32)].all()
    assert (t0 == torch.from_numpy(np.argmax(exp_vis, axis=0))).all()


def test_posetrack_start_frames_and_errors(tmp_path):
    _posetrack_fixture(tmp_path)
    sf = write_posetrack_start_frames(tmp_path / "start.json", [("vid1.json", 2), ("vid1", 0)])
    ds = PoseTrackDataset(tmp_path, tmp_path / "ann", start_frames_json=sf, max_frames=10, interp_shape=None)
    assert len(ds) == 2
    assert ds[0].video.shape[0] == 3 and ds[1].video.shape[0] == 5
    assert ds[0].seq_name == "vid1:2"
    (tmp_path / "bad_start.json").write_text(json.dumps({"0": "vid1"}))
    with pytest.raises(ValueError, match="expected \\[<video json name>, <start frame>\\]"):
        PoseTrackDataset(tmp_path, tmp_path / "ann", start_frames_json=tmp_path / "bad_start.json")
    doc = json.loads((tmp_path / "ann" / "vid1.json").read_text())
    doc["annotations"][0]["keypoints"] = doc["annotations"][0]["keypoints"][:30]
    (tmp_path / "ann" / "vid1.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"vid1\.json.*30 keypoint values; expected 51"):
        ds[1]
    (tmp_path / "images" / "train" / "vid1" / "000001.png").unlink()
    _posetrack_fixture(tmp_path)  # restore the JSON, then drop a frame
    (tmp_path / "images" / "train" / "vid1" / "000001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"000001\.png"):
        ds[1]
    with pytest.raises(FileNotFoundError, match="PoseTrack annotation folder not found"):
        PoseTrackDataset(tmp_path, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no PoseTrack annotation folder found under"):
        PoseTrackDataset(tmp_path / "empty")


def test_posetrack_finds_the_json_folder(tmp_path):
    rng = np.random.default_rng(0)
    kp = rng.uniform(1, 20, size=(3, 1, 17, 2))
    write_posetrack_video(tmp_path, tmp_path / "posetrack_data" / "annotations" / "val", "v", _video(rng, 3, 24, 24),
                          kp, np.ones((3, 1, 17), bool), split="val")
    ds = PoseTrackDataset(tmp_path, interp_shape=None)
    assert ds.json_folder == tmp_path / "posetrack_data" / "annotations" / "val"
    assert ds[0].trajectory.shape == (3, 17, 2)


# ----------------------------------------------------------------------------------------------- Dynamic Replica
def test_dynamic_replica_roundtrip(tmp_path):
    rng = np.random.default_rng(4)
    T, H, W, N = 14, 20, 24, 30
    frames = _video(rng, T, H, W)
    tracks = rng.uniform(0, 19, size=(T, N, 2)).astype(np.float32)
    visible = rng.random((T, N)) < 0.8
    visible[:, :5] = False  # never visible: filtered (needs > 10 visible frames)
    write_dynamic_replica_sequence(tmp_path, "valid", "seqA", frames, tracks, visible)
    write_dynamic_replica_sequence(tmp_path, "valid", "seqB", frames[:12], tracks[:12], visible[:12])
    ds = DynamicReplicaDataset(tmp_path, "valid", sample_len=12, traj_per_sample=8, min_visible_frames=5)
    assert len(ds) == 2
    s = ds[0]
    assert s.seq_name == "seqA" and s.video.shape == (12, 3, H, W) and s.trajectory.shape == (12, 8, 2)
    assert torch.equal(s.video, torch.from_numpy(frames[:12]).permute(0, 3, 1, 2).float())
    cols = [int(np.argmin(np.abs(tracks[:12] - s.trajectory[:, [k]].numpy()).sum(axis=(0, 2)))) for k in range(8)]
    assert min(cols) >= 5
    np.testing.assert_allclose(s.trajectory.numpy(), tracks[:12, cols])
    np.testing.assert_array_equal(s.visibility.numpy(), visible[:12, cols])
    assert (s.query_points[:, 0] == 0).all()
    np.testing.assert_allclose(s.query_points[:, 1:].numpy(), tracks[0, cols])  # frame 0 GT, even if occluded


def test_dynamic_replica_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dynamic Replica root"):
        DynamicReplicaDataset(tmp_path / "none")
    (tmp_path / "valid").mkdir()
    with pytest.raises(FileNotFoundError, match=r"frame_annotations_valid\.jgz"):
        DynamicReplicaDataset(tmp_path)
    (tmp_path / "valid" / "frame_annotations_valid.jgz").write_bytes(gzip.compress(b"{not json"))
    with pytest.raises(ValueError, match="cannot read Dynamic Replica annotations"):
        DynamicReplicaDataset(tmp_path)
    (tmp_path / "valid" / "frame_annotations_valid.jgz").unlink()
    rng = np.random.default_rng(0)
    write_dynamic_replica_sequence(tmp_path, "valid", "s", _video(rng, 3, 8, 8), np.zeros((3, 4, 2)), np.ones((3, 4), bool))
    traj = next((tmp_path / "valid" / "s" / "trajectories").iterdir())
    torch.save({"traj_2d": torch.zeros(4)}, traj)
    with pytest.raises(ValueError, match=r"expected a dict with 'traj_2d' \(N, >=2\) and 'verts_inds_vis'"):
        DynamicReplicaDataset(tmp_path, min_visible_frames=0)[0]


# ----------------------------------------------------------------------------------------------- Mixture
class _Const(torch.utils.data.Dataset):
    def __init__(self, value, n):
        self.value, self.n = value, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        from cotracker.types import CoTrackerData

        z = torch.zeros(1, 1, dtype=torch.bool)
        return CoTrackerData(video=torch.full((1, 3, 2, 2), float(self.value)), trajectory=torch.zeros(1, 1, 2),
                             visibility=z, valid=z, seq_name=f"{self.value}:{i}")


def test_mixed_dataset_proportions_and_determinism():
    mix = MixedDataset([_Const(0, 5), _Const(1, 7)], [0.25, 0.75], seed=1, length=2000)
    src = np.array([mix.choose(i)[0] for i in range(2000)])
    assert abs(src.mean() - 0.75) < 0.04
    assert [mix[i].seq_name for i in range(20)] == [mix[i].seq_name for i in range(20)]
    assert mix[3].extra["source"] == mix.choose(3)[0]
    assert len(MixedDataset([_Const(0, 5), _Const(1, 7)], [1, 1])) == 12
    with pytest.raises(ValueError, match="got 1 probabilities for 2 datasets"):
        MixedDataset([_Const(0, 1), _Const(1, 1)], [1.0])
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        MixedDataset([_Const(0, 1)], [0.0])


def test_kubric_random_frame_rate_takes_strided_frames(tmp_path):
    frames, coords, _ = _kubric_fixture(tmp_path, T=12, H=16, W=16, N=8)
    ds = KubricMovifDataset(tmp_path, crop_size=(16, 16), seq_len=3, traj_per_sample=8, random_frame_rate=True)
    strides = set()
    for seed in range(12):
        ds.seed = seed
        v = ds[0].video.permute(0, 2, 3, 1).numpy().astype(np.uint8)
        idx = [next(t for t in range(12) if np.array_equal(frames[t], f)) for f in v]
        assert idx[1] - idx[0] == idx[2] - idx[1] >= 1
        strides.add(idx[1] - idx[0])
    assert strides <= {1, 2, 3, 4} and len(strides) > 1
