"""The synthetic generators: exact ground truth, determinism, and round trips through the loaders."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from cotracker.data import (
    KubricMovifDataset,
    PeopleConfig,
    PoseTrackDataset,
    SceneConfig,
    SyntheticPeopleDataset,
    SyntheticSceneDataset,
    generate_people,
    generate_scene,
    write_kubric_sequence,
    write_people_sequence,
)
from cotracker.data.kubric import process_clip, sample_window
from cotracker.data.render import Layer, Warp, layer_points_to_image, premultiply, render_layers
from cotracker.geometry import bilinear_sample
from cotracker.pose.keypoints import SKELETON

SMALL = SceneConfig(num_frames=8, size_hw=(96, 128), num_points=400, brightness=0.0, min_objects=3, max_objects=6)


def _sample_colors(frames: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """Bilinear colour (T, N, 3) of (T, H, W, 3) frames at (T, N, 2) tracks."""
    v = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    xy = torch.from_numpy(np.ascontiguousarray(tracks)).float()
    out = [bilinear_sample(v[t : t + 1], xy[t][None, None])[0, :, 0].T for t in range(len(frames))]
    return torch.stack(out).numpy()


def _color_error(frames, tracks, visible):
    col = _sample_colors(frames, tracks)
    first = np.argmax(visible, axis=0)
    ref = col[first, np.arange(col.shape[1])]
    return np.abs(col - ref[None]).mean(-1)[visible]


def test_scene_ground_truth_matches_rendered_colours():
    clip = generate_scene(SMALL, np.random.default_rng(5))
    assert clip.frames.shape == (8, 96, 128, 3) and clip.tracks.shape == (8, 400, 2)
    err = _color_error(clip.frames, clip.tracks, clip.visible)
    shifted = clip.tracks + np.random.default_rng(0).normal(0, 2.0, clip.tracks.shape).astype(np.float32)
    err_shift = _color_error(clip.frames, shifted, clip.visible)
    # Along the true tracks, a visible point keeps its colour; 2 px off it does not.
    assert np.median(err) < 2.0
    assert np.median(err_shift) > 4 * np.median(err)
    assert 0.2 < clip.visible.mean() < 0.95  # occlusions and exits happen


def test_scene_determinism_and_variety():
    a = generate_scene(SMALL, np.random.default_rng(11))
    b = generate_scene(SMALL, np.random.default_rng(11))
    c = generate_scene(SMALL, np.random.default_rng(12))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.tracks, b.tracks)
    assert not np.array_equal(a.frames, c.frames)
    n_obj = a.id_buffer.max()
    assert 3 <= len(np.unique(a.point_layer)) - 1 <= 6 and n_obj <= 6


def test_scene_points_enter_and_leave_the_frame():
    cfg = SceneConfig(num_frames=12, size_hw=(64, 80), num_points=600, max_translation=1.0)
    clip = generate_scene(cfg, np.random.default_rng(3))
    x, y = clip.tracks[..., 0], clip.tracks[..., 1]
    inside = (x >= 0) & (x <= 79) & (y >= 0) & (y <= 63)
    assert (inside.any(0) & ~inside.all(0)).sum() > 10  # some tracks cross the border
    assert not (clip.visible & ~inside).any()


def test_motion_blur_changes_pixels_not_tracks():
    sharp = generate_scene(SceneConfig(num_frames=6, size_hw=(64, 80), num_points=50, camera_pan=0.6),
                           np.random.default_rng(1))
    blurred = generate_scene(SceneConfig(num_frames=6, size_hw=(64, 80), num_points=50, camera_pan=0.6,
                                         motion_blur_prob=1.0), np.random.default_rng(1))
    assert np.array_equal(sharp.tracks, blurred.tracks) and np.array_equal(sharp.visible, blurred.visible)
    grad = lambda f: np.abs(np.diff(f[1:].astype(np.float32), axis=2)).mean()  # noqa: E731
    assert grad(blurred.frames) < grad(sharp.frames)


def test_render_visibility_from_depth_order_hand_computed():
    """A 10x10 square slides over a background point: hidden exactly while the square covers it."""
    T, H, W = 5, 20, 40
    bg = Layer(rgba=premultiply(np.full((H, W, 3), 50.0), np.ones((H, W))), affine=np.tile(np.eye(2, 3), (T, 1, 1)),
               depth=np.full(T, 10.0), full_frame=True)
    xs = np.array([0.0, 8.0, 16.0, 24.0, 32.0])  # square's left edge per frame
    aff = np.tile(np.eye(2, 3), (T, 1, 1))
    aff[:, 0, 2] = xs
    aff[:, 1, 2] = 5.0
    sq = Layer(rgba=premultiply(np.full((10, 10, 3), 200.0), np.ones((10, 10))), affine=aff, depth=np.zeros(T))
    bg_pt = np.array([[20.0, 10.0]])  # background canonical == image (identity)
    sq_pt = np.array([[4.0, 4.0]])
    clip = render_layers([bg, sq], (H, W), [bg_pt, sq_pt])
    # Square covers x in [xs, xs + 9]; 20 is covered when xs in {16} only ... and xs=8 covers 8..17.
    np.testing.assert_array_equal(clip.visible[:, 0], [True, True, False, True, True])
    np.testing.assert_allclose(clip.tracks[:, 1, 0], xs + 4.0)
    assert clip.visible[:, 1].all()
    assert clip.frames[2, 10, 20, 0] == 200 and clip.frames[0, 10, 20, 0] == 50
    # Same scene with the square behind the background: the square's point is always hidden.
    sq.depth = np.full(T, 20.0)
    assert not render_layers([bg, sq], (H, W), [bg_pt, sq_pt]).visible[:, 1].any()


def test_warp_inverse_is_exact():
    T = 3
    warp = Warp(amplitude=np.array([2.0, 1.5], np.float32), wave=np.array([[0.1, 0.05], [-0.04, 0.12]], np.float32),
                phase=np.array([[0.0, 1.0], [0.5, 2.0], [1.0, 3.0]], np.float32))
    aff = np.stack([np.array([[1.2, 0.1, 5.0], [-0.2, 0.9, 3.0]])] * T)
    ly = Layer(rgba=np.zeros((40, 40, 4), np.float32), affine=aff, depth=np.zeros(T), warp=warp)
    u = np.random.default_rng(0).uniform(5, 35, size=(50, 2))
    p = layer_points_to_image(ly, u)  # (T, 50, 2)
    for t in range(T):
        inv = np.linalg.inv(np.vstack([aff[t], [0, 0, 1]]))[:2]
        q = p[t].astype(np.float64) @ inv[:, :2].T + inv[:, 2]
        np.testing.assert_allclose(q + warp.displacement(q, t), u, atol=2e-3)


def test_synthetic_scene_dataset_is_the_kubric_pipeline(tmp_path):
    ds = SyntheticSceneDataset(3, SMALL, seed=7, crop_size=(64, 96), seq_len=6, traj_per_sample=32)
    s = ds[1]
    assert s.video.shape == (6, 3, 64, 96) and s.trajectory.shape == (6, 32, 2)
    assert torch.equal(s.trajectory, ds[1].trajectory)
    with pytest.raises(IndexError):
        ds[3]
    # The same clip written to disk and read back by the Kubric loader gives the same tracks.
    clip = generate_scene(SMALL, np.random.default_rng(8))
    write_kubric_sequence(tmp_path, "s", clip.frames, clip.tracks.transpose(1, 0, 2), ~clip.visible.T)
    k = KubricMovifDataset(tmp_path, crop_size=(96, 128), seq_len=8, traj_per_sample=400, sample_vis_1st_frame=True)[0]
    order = [int(np.argmin(np.abs(clip.tracks[0] - p.numpy()).sum(1))) for p in k.trajectory[0]]
    np.testing.assert_allclose(k.trajectory.numpy(), clip.tracks[:, order], atol=1e-4)
    np.testing.assert_array_equal(k.visibility.numpy(), clip.visible[:, order])
    assert torch.equal(k.video, torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float())


@pytest.mark.parametrize("config", [SMALL, replace(SMALL, limb_prob=1.0, fence_prob=1.0, motion_blur_prob=1.0)])
def test_rendering_chosen_frames_equals_those_frames_of_the_full_clip(config):
    full = generate_scene(config, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    part = generate_scene(config, rng, choose_frames=lambda r: [5, 1, 2])
    np.testing.assert_array_equal(part.frames, full.frames[[5, 1, 2]])
    np.testing.assert_array_equal(part.tracks, full.tracks[[5, 1, 2]])
    np.testing.assert_array_equal(part.visible, full.visible[[5, 1, 2]])
    np.testing.assert_array_equal(part.id_buffer, full.id_buffer[[5, 1, 2]])
    assert part.layer_kind == full.layer_kind
    # the callback gets the generator after the whole scene is drawn, and rendering draws nothing
    after = np.random.default_rng(3)
    generate_scene(config, after)
    assert rng.integers(2**62) == after.integers(2**62)


def test_render_rejects_frames_outside_the_clip():
    with pytest.raises(ValueError, match=r"frame_indices must lie in \[0, 7\]"):
        generate_scene(SMALL, np.random.default_rng(0), choose_frames=lambda r: [0, 8])


@pytest.mark.parametrize("use_augs", [False, True])
def test_dataset_renders_only_the_window_and_gives_the_full_render_sample(use_augs):
    # What the dataset did before it rendered only the sample's window: the full clip through process_clip.
    ds = SyntheticSceneDataset(4, SMALL, seed=11, crop_size=(64, 96), seq_len=5, traj_per_sample=32, use_augs=use_augs)
    for i in range(4):
        rng = np.random.default_rng(11 + i)
        clip = generate_scene(SMALL, rng)
        ref = process_clip(clip.frames, clip.tracks, clip.visible, rng, crop_size=(64, 96), seq_len=5,
                           traj_per_sample=32, use_augs=use_augs, seq_name=f"synthetic_{11 + i:06d}")
        s = ds[i]
        assert torch.equal(s.video, ref.video) and torch.equal(s.trajectory, ref.trajectory)
        assert torch.equal(s.visibility, ref.visibility) and torch.equal(s.valid, ref.valid)


def test_sample_window_and_windowed_clip_errors():
    rng = np.random.default_rng(0)
    w = sample_window(rng, 10, 4)
    assert w.step == 1 and 0 <= w.start <= 6 and w.stop - w.start == 4
    w = sample_window(np.random.default_rng(1), 12, 3, random_frame_rate=True)
    assert len(range(12)[w]) == 3
    with pytest.raises(ValueError, match="seq_len must be in"):
        sample_window(rng, 3, 4)
    clip = generate_scene(SMALL, np.random.default_rng(0))
    with pytest.raises(ValueError, match="windowed=True needs the window's 4 frames"):
        process_clip(clip.frames, clip.tracks, clip.visible, rng, crop_size=(64, 96), seq_len=4, traj_per_sample=8,
                     windowed=True)


PEOPLE = PeopleConfig(num_frames=8, size_hw=(96, 128), min_people=2, max_people=3, surface_points_per_person=64,
                      background_points=32)


def test_people_keypoints_and_self_occlusion():
    clip = generate_people(PEOPLE, np.random.default_rng(2))
    T, P = clip.keypoints.shape[:2]
    assert clip.frames.shape == (8, 96, 128, 3) and 2 <= P <= 3 and clip.keypoints.shape[2:] == (17, 2)
    # Proportions: head_top above nose above shoulders above hips above ankles when standing upright.
    kp = clip.keypoints
    assert (kp[:, :, 2, 1] < kp[:, :, 5, 1]).all() and (kp[:, :, 11, 1] < kp[:, :, 15, 1]).all()
    bones = np.linalg.norm(kp[:, :, [b for _, b in SKELETON]] - kp[:, :, [a for a, _ in SKELETON]], axis=-1)
    assert np.isfinite(bones).all() and bones.max() < 96
    # Visibility: keypoints outside the image are occluded, and some inside are hidden (by others or themselves).
    inside = (kp[..., 0] >= 0) & (kp[..., 0] <= 127) & (kp[..., 1] >= 0) & (kp[..., 1] <= 95)
    assert not (clip.keypoint_visible & ~inside).any()
    assert (~clip.keypoint_visible & inside).any() and clip.keypoint_visible.any()
    # Surface points keep their colour along visible tracks (exact GT, as for scenes).
    err = _color_error(clip.frames, clip.surface_tracks, clip.surface_visible)
    assert np.median(err) < 3.0


def test_people_side_view_hides_far_shoulder():
    cfg = PeopleConfig(num_frames=4, size_hw=(128, 128), min_people=1, max_people=1, motions=("walk",),
                       person_height=(0.6, 0.6))
    hidden_far = 0
    for seed in range(4):
        clip = generate_people(cfg, np.random.default_rng(seed))
        v = clip.keypoint_visible[:, 0]
        # A walker is seen from the side: exactly one shoulder is visible in most frames.
        hidden_far += int((v[:, 5] ^ v[:, 6]).sum())
    assert hidden_far >= 8


def test_people_roundtrip_posetrack_and_kubric(tmp_path):
    clip = generate_people(PEOPLE, np.random.default_rng(4))
    paths = write_people_sequence(tmp_path, "vid", clip)
    s = PoseTrackDataset(tmp_path, paths["posetrack_json"].parent, max_frames=8, interp_shape=None,
                         drop_invisible=False)[0]
    P = clip.keypoints.shape[1]
    assert s.trajectory.shape == (8, 17 * P, 2)
    np.testing.assert_allclose(s.trajectory.numpy(), clip.keypoints.reshape(8, -1, 2), atol=1e-3)
    np.testing.assert_array_equal(s.visibility.numpy(), clip.keypoint_visible.reshape(8, -1))
    assert s.valid.all()
    k = KubricMovifDataset(tmp_path / "kubric", crop_size=(96, 128), seq_len=8, traj_per_sample=16)[0]
    assert k.trajectory.shape == (8, 16, 2)
    ds = SyntheticPeopleDataset(2, PEOPLE, seed=4, surface_points=10, interp_shape=(48, 64))
    d = ds[0]
    assert d.video.shape == (8, 3, 48, 64)
    n_kp = int((d.keypoint_ids >= 0).sum())
    assert (d.keypoint_ids[n_kp:] == -1).all() and d.trajectory.shape[1] == n_kp + 10
    keep = clip.keypoint_visible.reshape(8, -1).any(0)
    expected = clip.keypoints.reshape(8, -1, 2)[:, keep] * np.array([63 / 127, 47 / 95], np.float32)
    np.testing.assert_allclose(d.trajectory[:, :n_kp].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_dataloader_workers_give_the_same_batches():
    from cotracker.types import collate_samples

    ds = SyntheticSceneDataset(4, SceneConfig(num_frames=4, size_hw=(32, 48), num_points=64), seed=2,
                               traj_per_sample=8)
    serial = [collate_samples([ds[0], ds[1]]), collate_samples([ds[2], ds[3]])]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_samples)
    for a, b in zip(serial, loader):
        assert torch.equal(a.video, b.video) and torch.equal(a.trajectory, b.trajectory)


def test_people_num_tracks_pads_and_batches():
    from cotracker.types import collate_samples

    ds = SyntheticPeopleDataset(2, PEOPLE, seed=0, num_tracks=60)
    a, b = ds[0], ds[1]
    batch = collate_samples([a, b])
    assert batch.trajectory.shape == (2, 8, 60, 2) and batch.keypoint_ids.shape == (2, 60)
    n_real = int((a.keypoint_ids >= 0).sum())
    assert not a.valid[:, n_real:].any() and (a.person_ids[n_real:] == -1).all()
    assert a.valid[:, :n_real].all()
    short = SyntheticPeopleDataset(1, PEOPLE, seed=0, num_tracks=5)[0]
    assert torch.equal(short.trajectory, a.trajectory[:, :5])


# -- articulated limbs, thin bars, plain surfaces (off by default) ------------------------------------------


def test_default_scenes_draw_the_same_random_numbers_as_before_the_options():
    # The seeded held-out sets (evaluate --dataset synthetic) must not change when options are added: the default
    # config consumes exactly the random stream it did before limbs, bars and plain surfaces existed.
    rng = np.random.default_rng(0)
    generate_scene(SMALL, rng)
    assert rng.integers(2**62) == 3815590522465733415


def test_limbs_swing_about_a_fixed_joint_of_their_parent():
    from cotracker.data.synthetic_scenes import _limb_layers

    cfg = SceneConfig(num_frames=12, size_hw=(96, 128), limb_prob=1.0, max_limbs=3, limb_swing_deg=40.0)
    T = cfg.num_frames
    still = np.tile(np.array([[1.0, 0, 30], [0, 1.0, 20]]), (T, 1, 1))  # a parent that does not move
    parent = Layer(rgba=np.ones((40, 50, 4), np.float32), affine=still, depth=np.full(T, 0.5))
    inner = np.zeros((40, 50), bool)
    inner[10:30, 10:40] = True
    limbs = _limb_layers(cfg, np.random.default_rng(3), parent, inner, 45.0)
    assert 1 <= len(limbs) <= 3
    for layer, limb_inner in limbs:
        h, w = layer.rgba.shape[:2]
        pivot = np.array([(w - 1) / 2, min(w / 2, (h - 1) / 2), 1.0])
        tip = np.array([(w - 1) / 2, h - 1.0, 1.0])
        joint = layer.affine @ pivot  # (T, 2) image position of the joint
        assert np.allclose(joint, joint[0], atol=1e-9)  # the joint stays where it is attached
        x, y = joint[0] - still[0, :, 2]
        assert inner[int(round(y)), int(round(x))]  # ... on the parent's surface
        tip_path = layer.affine @ tip
        assert np.ptp(tip_path, axis=0).max() > 2.0  # while the far end swings
        lengths = np.linalg.norm(tip_path - joint, axis=1)
        assert np.allclose(lengths, lengths[0])  # rigidly
        assert np.all(np.abs(layer.depth - parent.depth) > 0) and np.ptp(layer.depth - parent.depth) == 0
        assert limb_inner.any() and h >= 12 and w >= 10


def test_articulated_scene_ground_truth_matches_rendered_colours():
    cfg = SceneConfig(num_frames=8, size_hw=(96, 128), num_points=400, brightness=0.0, min_objects=3, max_objects=3,
                      limb_prob=1.0, thin_prob=0.5)
    clip = generate_scene(cfg, np.random.default_rng(5))
    layers = np.unique(clip.point_layer)
    assert layers.max() > 3  # limbs were added as layers of their own, and carry points
    err = _color_error(clip.frames, clip.tracks, clip.visible)
    shifted = clip.tracks + np.random.default_rng(0).normal(0, 2.0, clip.tracks.shape).astype(np.float32)
    assert np.median(err) < 2.0 and np.median(_color_error(clip.frames, shifted, clip.visible)) > 4 * np.median(err)
    limb_points = clip.point_layer > 3
    assert limb_points.any() and clip.visible[:, limb_points].any()


def test_thin_bars_and_plain_surfaces():
    from cotracker.data.synthetic_scenes import _camera, _object_layer

    cfg = SceneConfig(num_frames=4, size_hw=(240, 320), object_size=(0.3, 0.45), thin_prob=1.0, thin_aspect=(5.0, 8.0))
    rng = np.random.default_rng(1)
    for _ in range(5):
        layer, inner, _ = _object_layer(cfg, rng, _camera(cfg, rng))
        h, w = layer.rgba.shape[:2]
        assert h / w >= 4.5 and w >= 10 and inner.any()  # long and thin (but wide enough to hold points)
    textured = generate_scene(SceneConfig(num_frames=2, size_hw=(64, 64), min_objects=0, max_objects=0),
                              np.random.default_rng(2))
    plain = generate_scene(SceneConfig(num_frames=2, size_hw=(64, 64), min_objects=0, max_objects=0, plain_prob=1.0),
                           np.random.default_rng(2))
    grad = lambda f: np.abs(np.diff(f[0].astype(np.float32), axis=1)).mean()  # noqa: E731
    assert grad(plain.frames) < 0.4 * grad(textured.frames)


def test_fence_rails_are_fixed_in_the_world_and_nearer_than_every_object():
    from cotracker.data.synthetic_scenes import _camera, _fence_layers

    cfg = SceneConfig(num_frames=10, size_hw=(96, 128), fence_prob=1.0, fence_rails=(3, 3))
    rng = np.random.default_rng(4)
    camera = _camera(cfg, rng)
    rails = _fence_layers(cfg, rng, camera, nearest=-0.3)
    assert len(rails) == 3
    cam = np.concatenate([camera, np.tile([[[0.0, 0.0, 1.0]]], (10, 1, 1))], axis=1)
    for layer, inner in rails:
        assert np.all(layer.depth < -1.29) and np.ptp(layer.depth) == 0  # in front of everything, always
        world = np.linalg.inv(cam) @ np.concatenate([layer.affine, np.tile([[[0.0, 0.0, 1.0]]], (10, 1, 1))], axis=1)
        assert np.allclose(world, world[0], atol=1e-9)  # canonical -> world does not change: only the camera moves it
        assert inner.any()
    mids = np.array([ly.affine[0] @ np.array([(ly.rgba.shape[1] - 1) / 2, (ly.rgba.shape[0] - 1) / 2, 1.0])
                     for ly, _ in rails])
    steps = np.diff(mids, axis=0)
    assert np.allclose(steps, steps[0]) and np.linalg.norm(steps[0]) > 2 * rails[0][0].rgba.shape[0] - 1e-6  # parallel, apart


def test_a_fence_occludes_the_objects_behind_it_and_the_ground_truth_stays_exact():
    cfg = SceneConfig(num_frames=8, size_hw=(96, 128), num_points=600, brightness=0.0, min_objects=3, max_objects=4,
                      fence_prob=1.0, fence_rails=(3, 3), follow_prob=1.0)
    H, W = cfg.size_hw
    hidden_by_rails = 0
    for seed in range(4):
        clip = generate_scene(cfg, np.random.default_rng(seed))
        n_layers = int(clip.id_buffer.max()) + 1
        rails = np.arange(n_layers - 3, n_layers)  # the rails are the last layers
        assert np.median(_color_error(clip.frames, clip.tracks, clip.visible)) < 2.0
        x, y = clip.tracks[..., 0], clip.tracks[..., 1]
        inside = (x >= 0.5) & (x <= W - 1.5) & (y >= 0.5) & (y <= H - 1.5)
        on_rail = np.isin(clip.point_layer, rails)
        assert on_rail.any()
        assert clip.visible[:, on_rail][inside[:, on_rail]].all()  # nothing is ever in front of a rail
        xi, yi = np.clip(np.round(x), 0, W - 1).astype(int), np.clip(np.round(y), 0, H - 1).astype(int)
        top = clip.id_buffer[np.arange(len(x))[:, None], yi, xi]  # (T, N) layer drawn at each point
        behind = ~on_rail[None] & (clip.point_layer[None] > 0) & inside & ~clip.visible
        hidden_by_rails += int(np.isin(top[behind], rails).sum())
    assert hidden_by_rails > 0  # object points pass behind the rails and are marked occluded there


def test_the_camera_follows_an_object():
    from cotracker.data.synthetic_scenes import _follow_shift

    base = SceneConfig(num_frames=12, size_hw=(96, 128), num_points=300, min_objects=1, max_objects=1,
                       object_size=(0.3, 0.4), max_translation=0.7, camera_pan=0.0, camera_zoom=0.0,
                       camera_rotation_deg=0.0)
    moved, followed = [], []
    for seed in range(8):
        free = generate_scene(base, np.random.default_rng(seed))
        pan = generate_scene(SceneConfig(**{**base.__dict__, "follow_prob": 1.0, "follow_gain": (1.0, 1.0)}),
                             np.random.default_rng(seed))
        obj = free.point_layer == 1
        if not obj.any() or not free.visible[0, obj].any():
            continue
        moved.append(np.abs(free.tracks[-1, obj] - free.tracks[0, obj]).mean())
        followed.append(np.abs(pan.tracks[-1, pan.point_layer == 1] - pan.tracks[0, pan.point_layer == 1]).mean())
    assert len(moved) >= 3
    assert np.median(followed) < 0.5 * np.median(moved)  # the followed object moves much less in the image
    T = 5
    still = Layer(rgba=np.ones((20, 20, 4), np.float32), affine=np.tile([[1.0, 0, 900.0], [0, 1.0, 0]], (T, 1, 1)),
                  depth=np.zeros(T))
    assert _follow_shift(SceneConfig(num_frames=T), np.random.default_rng(0), [still]) is None  # none in view


@pytest.mark.parametrize("bad", [dict(limb_prob=1.5), dict(thin_prob=-0.1), dict(plain_prob=2.0),
                                 dict(limb_length=(0.8, 0.5)), dict(thin_aspect=(0.0, 3.0)), dict(max_limbs=0),
                                 dict(fence_prob=1.2), dict(follow_prob=-1.0), dict(fence_rails=(0, 2)),
                                 dict(fence_rails=(3, 2)), dict(follow_gain=(0.5, 1.5))])
def test_scene_config_rejects_bad_options(bad):
    with pytest.raises(ValueError):
        SceneConfig(**bad)


def test_layer_kinds_name_every_layer(monkeypatch):
    import cotracker.data.synthetic_scenes as scenes

    calls = []  # the layers each builder returned, in the order the scene was assembled
    for name, kind in (("_object_layer", "object"), ("_limb_layers", "limb"), ("_fence_layers", "fence")):
        real = getattr(scenes, name)

        def spy(*args, _real=real, _kind=kind, **kwargs):
            out = _real(*args, **kwargs)
            calls.extend([_kind] * (1 if _kind == "object" else len(out)))
            return out

        monkeypatch.setattr(scenes, name, spy)
    cfg = SceneConfig(num_frames=4, size_hw=(96, 128), num_points=600, min_objects=2, max_objects=4, limb_prob=1.0,
                      fence_prob=1.0)
    clip = generate_scene(cfg, np.random.default_rng(7))
    assert set(scenes.LAYER_KINDS) == {"background", "object", "limb", "fence"}
    assert clip.layer_kind == ("background", *calls)
    assert {"limb", "fence"} <= set(clip.layer_kind) and clip.point_layer.max() < len(clip.layer_kind)
    plain = generate_scene(SceneConfig(num_frames=4, size_hw=(96, 128), min_objects=2, max_objects=2),
                           np.random.default_rng(7))
    assert plain.layer_kind == ("background", "object", "object")


def test_dataset_samples_queries_on_the_chosen_layer_kinds_only():
    cfg = SceneConfig(num_frames=8, size_hw=(96, 128), num_points=1500, min_objects=3, max_objects=4, limb_prob=1.0)
    ds = SyntheticSceneDataset(2, cfg, seed=11, traj_per_sample=12, query_kinds=("limb",))
    for i in range(2):
        sample = ds[i]
        clip = generate_scene(cfg, np.random.default_rng(11 + i))
        kind = np.asarray(clip.layer_kind, dtype=object)[clip.point_layer]
        traj = sample.trajectory.numpy()  # (T, 12, 2); the crop is the full frame here
        for n in range(traj.shape[1]):
            match = np.flatnonzero(np.abs(clip.tracks - traj[:, n : n + 1]).max(axis=(0, 2)) < 1e-4)
            assert match.size and set(kind[match]) == {"limb"}
    everywhere = SyntheticSceneDataset(1, cfg, seed=11, traj_per_sample=64)[0].trajectory.numpy()
    clip = generate_scene(cfg, np.random.default_rng(11))
    kind = np.asarray(clip.layer_kind, dtype=object)[clip.point_layer]
    found = {kind[np.argmin(np.abs(clip.tracks - everywhere[:, n : n + 1]).max(axis=(0, 2)))] for n in range(64)}
    assert found - {"limb"}  # without query_kinds the points lie elsewhere too


@pytest.mark.parametrize("kinds, cfg, match", [
    (("leg",), SceneConfig(limb_prob=1.0), "non-empty subset"),
    ((), SceneConfig(limb_prob=1.0), "non-empty subset"),
    (("limb",), SceneConfig(), "limb_prob > 0"),
    (("fence",), SceneConfig(), "fence_prob > 0"),
    (("limb", "fence"), SceneConfig(), "no such layers"),
])
def test_bad_query_kinds(kinds, cfg, match):
    with pytest.raises(ValueError, match=match):
        SyntheticSceneDataset(1, cfg, query_kinds=kinds)


def test_training_config_can_put_the_queries_on_limbs():
    from cotracker.training.config import DataConfig, DatasetConfig
    from cotracker.training.data import build_dataset

    entry = DatasetConfig(type="synthetic_scene", options={"query_kinds": ["limb"], "scene": {
        "limb_prob": 1.0, "num_points": 1500, "min_objects": 3, "max_objects": 4}})
    ds = build_dataset(entry, DataConfig(crop_size=(96, 128), seq_len=8, traj_per_sample=16), seed=3)
    assert ds.query_kinds == ("limb",)
    sample = ds[0]
    assert tuple(sample.trajectory.shape) == (8, 16, 2) and bool(sample.valid.any())
