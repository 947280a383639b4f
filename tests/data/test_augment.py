"""Augmentations keep tracks and visibility consistent with the pixels (checked numerically)."""
import numpy as np
import pytest
import torch

from cotracker.data.augment import (
    AugmentConfig,
    apply_augmentations,
    color_jitter,
    erase_boxes,
    flip,
    jitter_affine,
    replace_boxes,
    scale_crop_with_drift,
)
from cotracker.geometry import bilinear_sample


def _smooth_video(T=4, H=60, W=80):
    """Frames whose colour is a smooth function of (x, y) (different per channel), plus a time shift."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    f = [np.stack([2 * xs + 3 * t, 3 * ys, xs + ys], axis=-1) for t in range(T)]
    return np.stack(f).astype(np.float32)


def _colors(frames, tracks):
    v = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    xy = torch.from_numpy(np.ascontiguousarray(tracks)).float()
    return torch.stack([bilinear_sample(v[t : t + 1], xy[t][None, None])[0, :, 0].T for t in range(len(v))]).numpy()


def test_flip_maps_x_to_w_minus_1_minus_x():
    frames = _smooth_video()
    tracks = np.array([[[0.0, 0.0], [79.0, 59.0], [10.25, 20.5]]] * 4, np.float32)
    f, tr = flip(frames, tracks, horizontal=True)
    np.testing.assert_allclose(tr[0], [[79, 0], [0, 59], [68.75, 20.5]])
    np.testing.assert_allclose(_colors(f, tr), _colors(frames, tracks), atol=1e-3)
    f, tr = flip(frames, tracks, horizontal=False)
    np.testing.assert_allclose(tr[0, :, 1], [59, 0, 38.5])
    np.testing.assert_allclose(_colors(f, tr), _colors(frames, tracks), atol=1e-3)


def test_scale_crop_with_drift_keeps_tracks_on_their_pixels():
    rng = np.random.default_rng(0)
    frames = _smooth_video(T=5)
    tracks = rng.uniform([5, 5], [74, 54], size=(5, 30, 2)).astype(np.float32)
    vis = np.ones((5, 30), bool)
    f, tr, v = scale_crop_with_drift(frames, tracks, vis, (40, 48), rng, AugmentConfig(pad_max=0))
    assert f.shape == (5, 40, 48, 3)
    before, after = _colors(frames, tracks), _colors(f, tr)
    # The colour is linear in (x, y), so bilinear resizing is exact: visible points keep their colour.
    np.testing.assert_allclose(after[v], before[v], atol=0.05)
    x, y = tr[..., 0], tr[..., 1]
    assert not (v & ((x < 0) | (x > 47) | (y < 0) | (y > 39))).any()
    assert v.any() and not v.all()


def test_eraser_and_replace_occlude_covered_points():
    rng = np.random.default_rng(1)
    frames = _smooth_video(T=6)
    tracks = np.stack(np.meshgrid(np.arange(0, 80, 4.0), np.arange(0, 60, 4.0)), -1).reshape(1, -1, 2)
    tracks = np.repeat(tracks, 6, axis=0).astype(np.float32)
    vis = np.ones(tracks.shape[:2], bool)
    cfg = AugmentConfig(eraser_prob=1.0, replace_prob=1.0, max_boxes=3, box_side=(10, 30))
    for fn in (erase_boxes, replace_boxes):
        out, v = fn(frames, tracks, vis, rng, cfg)
        assert np.array_equal(out[0], frames[0]) and v[0].all()  # the first frame is never touched
        changed = np.abs(out - frames).sum(-1) > 1e-3  # (T, H, W)
        xi, yi = np.rint(tracks[..., 0]).astype(int), np.rint(tracks[..., 1]).astype(int)
        on_changed = changed[np.arange(6)[:, None], yi, xi]
        assert not (v & on_changed).any()  # a point on a modified pixel is occluded
        assert (~v).any()


def test_color_jitter_and_full_pipeline_shapes():
    rng = np.random.default_rng(2)
    frames = _smooth_video()
    j = color_jitter(frames, rng)
    assert j.shape == frames.shape and j.min() >= 0 and j.max() <= 255 and not np.allclose(j, frames)
    tracks = rng.uniform([0, 0], [79, 59], size=(4, 20, 2)).astype(np.float32)
    out = apply_augmentations(frames, tracks, np.ones((4, 20), bool), (32, 40), rng)
    assert out.frames.shape == (4, 32, 40, 3) and out.tracks.shape == (4, 20, 2) and out.visible.dtype == bool


GRAY = np.array([0.299, 0.587, 0.114], np.float32)


def _jitter_step_by_step(f, b, c, s, h):
    """The colour jitter's definition, one step at a time, in float64."""
    a = 2 * np.pi * h
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    g = f.astype(np.float64) * b
    mean = (g @ GRAY).mean()
    g = (g - mean) * c + mean
    gray = (g @ GRAY)[..., None]
    g = gray + (g - gray) * s
    g = g @ (np.linalg.inv(to_yiq) @ rot @ to_yiq).T
    return np.clip(g, 0, 255)


def test_color_jitter_is_the_step_by_step_jitter_with_the_same_draws():
    frames = np.random.default_rng(5).uniform(0, 255, size=(6, 24, 32, 3)).astype(np.float32)
    cfg = AugmentConfig()
    out = color_jitter(frames, np.random.default_rng(9), cfg)
    rng = np.random.default_rng(9)  # the same stream: b, c, s, h per frame
    for t, f in enumerate(frames):
        b, c, s = (rng.uniform(1 - x, 1 + x) for x in (cfg.brightness, cfg.contrast, cfg.saturation))
        h = rng.uniform(-cfg.hue, cfg.hue)
        np.testing.assert_allclose(out[t], _jitter_step_by_step(f, b, c, s, h), atol=2e-3)
    assert out.dtype == np.float32 and not np.allclose(out, frames)


def test_jitter_affine_special_cases():
    f = np.random.default_rng(6).uniform(0, 200, size=(50, 3)).astype(np.float32)
    mean_gray = float((f @ GRAY).mean())
    m, v = jitter_affine(mean_gray, 1.0, 1.0, 1.0, 0.0)  # identity
    np.testing.assert_allclose(f @ m + v, f, atol=1e-3)
    m, v = jitter_affine(mean_gray, 1.2, 1.0, 1.0, 0.0)  # brightness alone scales
    np.testing.assert_allclose(f @ m + v, 1.2 * f, atol=1e-3)
    m, v = jitter_affine(mean_gray, 1.0, 1.0, 0.0, 0.3)  # no saturation: grey, whatever the hue
    g = f @ m + v
    np.testing.assert_allclose(g, np.repeat((f @ GRAY)[:, None], 3, 1), atol=1e-3)
    m, v = jitter_affine(mean_gray, 1.0, 0.0, 1.0, 0.0)  # no contrast: every pixel's grey is the mean grey
    np.testing.assert_allclose((f @ m + v) @ GRAY, mean_gray, atol=1e-3)
    for h in (0.1, -0.25):  # a hue turn keeps each pixel's grey
        m, v = jitter_affine(mean_gray, 1.0, 1.0, 1.0, h)
        np.testing.assert_allclose((f @ m + v) @ GRAY, f @ GRAY, atol=1e-2)


def test_color_jitter_accepts_uint8_and_leaves_the_input_alone():
    frames = np.random.default_rng(7).integers(0, 256, size=(2, 10, 12, 3), dtype=np.uint8)
    before = frames.copy()
    a = color_jitter(frames, np.random.default_rng(1))
    b = color_jitter(frames.astype(np.float32), np.random.default_rng(1))
    np.testing.assert_array_equal(frames, before)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pipeline_without_photometric_keeps_colours(seed):
    rng = np.random.default_rng(seed)
    frames = _smooth_video(T=4)
    tracks = rng.uniform([0, 0], [79, 59], size=(4, 25, 2)).astype(np.float32)
    cfg = AugmentConfig(color_prob=0, blur_prob=0, eraser_prob=0, replace_prob=0, hflip_prob=0.5, vflip_prob=0.5)
    out = apply_augmentations(frames, tracks, np.ones((4, 25), bool), (36, 44), rng, cfg)
    np.testing.assert_allclose(_colors(out.frames, out.tracks)[out.visible], _colors(frames, tracks)[out.visible], atol=0.05)
