"""Training augmentations that keep tracks and visibility exact.

Photometric: colour jitter (per-frame parameters), Gaussian blur, *eraser* boxes (filled with
their mean colour) and *replace* boxes (filled with a patch of another, jittered frame); points
under a box become occluded. Spatial: padding, a per-frame scale with a smoothed drift, a crop
that follows the first-frame points with a drifting offset, and flips (``x -> W - 1 - x``,
the package's align-corners convention). Points that leave the crop become occluded.

Arrays: frames (T, H, W, 3) float32 0..255, tracks (T, N, 2) float32 pixels, visible (T, N) bool.
Every function takes an explicit ``np.random.Generator``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from cotracker.data.base import require_cv2, rescale_tracks, resize_align_corners

__all__ = [
    "AugmentConfig",
    "AugmentedClip",
    "color_jitter",
    "gaussian_blur",
    "erase_boxes",
    "replace_boxes",
    "scale_crop_with_drift",
    "center_crop",
    "flip",
    "mark_outside_occluded",
    "photometric_augment",
    "apply_augmentations",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation parameters (defaults follow the official Kubric training recipe).

    Attributes:
        color_prob: probability per clip of colour jitter (parameters drawn per frame).
        brightness, contrast, saturation: jitter ranges (factor in [1 - v, 1 + v]).
        hue: hue shift range as a fraction of a turn.
        blur_prob: probability per clip of Gaussian blur.
        blur_kernel: kernel side; blur_sigma: sigma range.
        eraser_prob, replace_prob: probability per frame (after the first) of boxes.
        max_boxes: up to this many boxes per frame; box_side: side range in pixels.
        pad_max: padding per side, 0..pad_max pixels.
        scale_range: initial per-axis scale range; scale_drift: per-frame drift; scale_limits: clip range.
        offset_drift: per-frame crop-offset drift in pixels.
        hflip_prob, vflip_prob: flip probabilities.
    """

    color_prob: float = 0.25
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.25 / 3.14
    blur_prob: float = 0.25
    blur_kernel: int = 11
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    eraser_prob: float = 0.5
    replace_prob: float = 0.5
    max_boxes: int = 10
    box_side: tuple[int, int] = (2, 100)
    pad_max: int = 25
    scale_range: tuple[float, float] = (0.75, 1.25)
    scale_drift: float = 0.05
    scale_limits: tuple[float, float] = (0.2, 2.0)
    offset_drift: float = 15.0
    hflip_prob: float = 0.5
    vflip_prob: float = 0.5


class AugmentedClip(NamedTuple):
    """frames (T, h, w, 3) float32, tracks (T, N, 2), visible (T, N) bool, and which flips were applied."""

    frames: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray
    hflipped: bool = False
    vflipped: bool = False


_GRAY = np.array([0.299, 0.587, 0.114], np.float32)


def _hue_rotation(delta: float) -> np.ndarray:
    """3x3 RGB matrix rotating hue by ``delta`` turns (rotation about the grey axis, in YIQ space)."""
    a = 2 * np.pi * delta
    c, s = np.cos(a), np.sin(a)
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return (np.linalg.inv(to_yiq) @ rot @ to_yiq).astype(np.float32)


def jitter_affine(mean_gray: float, b: float, c: float, s: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The colour jitter of one frame as one affine map of its RGB row vectors: ``f -> f @ M + v``.

    Brightness ``b`` scales; contrast ``c`` pulls towards the brightened frame's mean grey (``b * mean_gray``);
    saturation ``s`` pulls each pixel towards its own grey; the hue turns by ``h`` (:func:`_hue_rotation`). Each step
    is affine and the grey weights sum to 1, so the composition is ``M = c b A R^T`` and ``v = (1 - c) b mean_gray
    (1 A R^T)`` with ``A = s I + (1 - s) gray 1^T`` and ``R`` the hue rotation.
    """
    rotation_t = _hue_rotation(h).T.astype(np.float64)
    a = s * np.eye(3) + (1 - s) * np.outer(_GRAY.astype(np.float64), np.ones(3))
    m = c * b * (a @ rotation_t)
    v = (1 - c) * b * mean_gray * (np.ones(3) @ a @ rotation_t)
    return m.astype(np.float32), v.astype(np.float32)


def color_jitter(frames: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Brightness, contrast, saturation and hue jitter with parameters drawn per frame, clipped to 0..255.

    Returns a new float32 array. One affine map per frame (:func:`jitter_affine`), applied with OpenCV.
    """
    cv2 = require_cv2()
    out = np.empty(frames.shape, dtype=np.float32)
    for t, frame in enumerate(frames):
        b = rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
        c = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
        s = rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
        h = rng.uniform(-cfg.hue, cfg.hue)
        f = np.ascontiguousarray(frame, dtype=np.float32)
        mean_gray = float(np.asarray(cv2.mean(f)[:3]) @ _GRAY)
        m, v = jitter_affine(mean_gray, b, c, s, h)
        cv2.transform(f, np.concatenate([m.T, v[:, None]], axis=1), dst=out[t])  # written in place
        np.clip(out[t], 0, 255, out=out[t])
    return out


def gaussian_blur(frames: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Gaussian blur of every frame with one sigma per clip drawn from ``cfg.blur_sigma``."""
    cv2 = require_cv2()
    sigma = rng.uniform(*cfg.blur_sigma)
    k = cfg.blur_kernel | 1
    return np.stack([cv2.GaussianBlur(f.astype(np.float32), (k, k), sigma) for f in frames])


def _random_boxes(rng: np.random.Generator, H: int, W: int, cfg: AugmentConfig) -> list[tuple[int, int, int, int]]:
    boxes = []
    for _ in range(int(rng.integers(1, cfg.max_boxes + 1))):
        xc, yc = rng.uniform(0, W - 1), rng.uniform(0, H - 1)
        dx, dy = rng.integers(cfg.box_side[0], cfg.box_side[1], size=2)
        x0, x1 = int(np.clip(xc - dx / 2, 0, W - 1)), int(np.clip(xc + dx / 2, 0, W - 1))
        y0, y1 = int(np.clip(yc - dy / 2, 0, H - 1)), int(np.clip(yc + dy / 2, 0, H - 1))
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
    return boxes


def _occlude_in_box(tracks_t: np.ndarray, visible_t: np.ndarray, box) -> None:
    """Mark points inside the pixel box [x0, x1] x [y0, y1] (inclusive, as filled) occluded, in place."""
    x0, y0, x1, y1 = box
    x, y = tracks_t[:, 0], tracks_t[:, 1]
    inside = (x >= x0 - 0.5) & (x <= x1 + 0.5) & (y >= y0 - 0.5) & (y <= y1 + 0.5)
    visible_t[inside] = False


def erase_boxes(frames, tracks, visible, rng, cfg: AugmentConfig = AugmentConfig()):
    """Eraser occluders: with ``cfg.eraser_prob`` per frame after the first, 1..max_boxes boxes filled with
    their mean colour; points inside become occluded. Returns (frames, visible) copies."""
    frames = frames.astype(np.float32, copy=True)
    visible = visible.copy()
    T, H, W = frames.shape[:3]
    for t in range(1, T):
        if rng.random() >= cfg.eraser_prob:
            continue
        for box in _random_boxes(rng, H, W, cfg):
            x0, y0, x1, y1 = box
            patch = frames[t, y0 : y1 + 1, x0 : x1 + 1]
            patch[:] = patch.reshape(-1, 3).mean(axis=0)
            _occlude_in_box(tracks[t], visible[t], box)
    return frames, visible


def replace_boxes(frames, tracks, visible, rng, cfg: AugmentConfig = AugmentConfig()):
    """Replace occluders: boxes filled with a same-sized patch from a random, colour-jittered frame;
    points inside become occluded. Returns (frames, visible) copies."""
    frames = frames.astype(np.float32, copy=True)
    visible = visible.copy()
    T, H, W = frames.shape[:3]
    source = None
    for t in range(1, T):
        if rng.random() >= cfg.replace_prob:
            continue
        if source is None:
            source = color_jitter(color_jitter(frames, rng, cfg), rng, cfg)
        for box in _random_boxes(rng, H, W, cfg):
            x0, y0, x1, y1 = box
            bw, bh = x1 - x0 + 1, y1 - y0 + 1
            s = int(rng.integers(T))
            sx, sy = int(rng.integers(0, W - bw + 1)), int(rng.integers(0, H - bh + 1))
            frames[t, y0 : y1 + 1, x0 : x1 + 1] = source[s, sy : sy + bh, sx : sx + bw]
            _occlude_in_box(tracks[t], visible[t], box)
    return frames, visible


def mark_outside_occluded(tracks: np.ndarray, visible: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    """Visibility with points outside ``[0, W-1] x [0, H-1]`` set occluded (a copy)."""
    H, W = size_hw
    x, y = tracks[..., 0], tracks[..., 1]
    return visible & (x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1)


def flip(frames: np.ndarray, tracks: np.ndarray, horizontal: bool = True):
    """Flip frames and tracks: horizontal maps ``x -> W - 1 - x``, vertical ``y -> H - 1 - y``."""
    T, H, W = frames.shape[:3]
    tracks = tracks.copy()
    if horizontal:
        frames = frames[:, :, ::-1]
        tracks[..., 0] = (W - 1) - tracks[..., 0]
    else:
        frames = frames[:, ::-1]
        tracks[..., 1] = (H - 1) - tracks[..., 1]
    return np.ascontiguousarray(frames), tracks


def center_crop(frames, tracks, visible, crop_hw, rng: np.random.Generator):
    """Crop without augmentation: random x0 and y0 (upscaling first when the frames are too small).
    Points outside the crop become occluded. Returns (frames, tracks, visible)."""
    T, H, W = frames.shape[:3]
    ch, cw = crop_hw
    if H < ch or W < cw:
        s = max(ch / H, cw / W)
        nh, nw = max(ch, int(np.ceil(H * s))), max(cw, int(np.ceil(W * s)))
        frames = np.stack([resize_align_corners(f, (nh, nw)) for f in frames])
        tracks = rescale_tracks(tracks, (H, W), (nh, nw))
        H, W = nh, nw
    y0 = int(rng.integers(0, H - ch + 1))
    x0 = int(rng.integers(0, W - cw + 1))
    frames = frames[:, y0 : y0 + ch, x0 : x0 + cw]
    tracks = tracks - np.array([x0, y0], np.float32)
    return np.ascontiguousarray(frames), tracks, mark_outside_occluded(tracks, visible, (ch, cw))


def scale_crop_with_drift(frames, tracks, visible, crop_hw, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()):
    """Pad, rescale each frame with a drifting scale, and crop a window that drifts around the
    first-frame points. Tracks follow exactly (align-corners rescaling, then the crop offset).

    Returns:
        (frames (T, ch, cw, 3) float32, tracks (T, N, 2), visible (T, N)).
    """
    T, H, W = frames.shape[:3]
    ch, cw = crop_hw
    pad = rng.integers(0, cfg.pad_max + 1, size=4)  # left, right, top, bottom
    frames = np.pad(frames.astype(np.float32), ((0, 0), (pad[2], pad[3]), (pad[0], pad[1]), (0, 0)))
    tracks = tracks + np.array([pad[0], pad[2]], np.float32)
    H, W = frames.shape[1:3]

    scale = rng.uniform(*cfg.scale_range, size=2)
    delta = np.zeros(2)
    out_f, out_t = [], []
    offset_delta = np.zeros(2)
    offset = np.zeros(2)
    vis0 = visible[0]
    centre = tracks[0][vis0].mean(axis=0) if vis0.any() else np.array([(W - 1) / 2, (H - 1) / 2])
    out_v = visible.copy()
    for t in range(T):
        if t > 0:
            delta = 0.8 * delta + 0.2 * rng.uniform(-cfg.scale_drift, cfg.scale_drift, size=2)
            scale = np.clip(scale + delta, *cfg.scale_limits)
            offset_delta = 0.8 * offset_delta + 0.2 * rng.uniform(-cfg.offset_drift, cfg.offset_drift, size=2)
            offset = offset + offset_delta
        nh = max(int(round(H * scale[1])), ch + 10)
        nw = max(int(round(W * scale[0])), cw + 10)
        f = resize_align_corners(frames[t], (nh, nw))
        tr = rescale_tracks(tracks[t], (H, W), (nh, nw))
        c = rescale_tracks(centre, (H, W), (nh, nw)) + offset
        x0 = int(np.clip(round(c[0] - cw / 2), 0, nw - cw))
        y0 = int(np.clip(round(c[1] - ch / 2), 0, nh - ch))
        out_f.append(f[y0 : y0 + ch, x0 : x0 + cw])
        out_t.append(tr - np.array([x0, y0], np.float32))
    frames = np.stack(out_f)
    tracks = np.stack(out_t).astype(np.float32)
    return frames, tracks, mark_outside_occluded(tracks, out_v, (ch, cw))


def photometric_augment(frames, tracks, visible, rng, cfg: AugmentConfig = AugmentConfig(), eraser=True, replace=True):
    """Eraser, replace, colour jitter and blur. Returns (frames float32, visible)."""
    frames = frames.astype(np.float32)
    if eraser:
        frames, visible = erase_boxes(frames, tracks, visible, rng, cfg)
    if replace:
        frames, visible = replace_boxes(frames, tracks, visible, rng, cfg)
    if rng.random() < cfg.color_prob:
        frames = color_jitter(frames, rng, cfg)
    if rng.random() < cfg.blur_prob:
        frames = gaussian_blur(frames, rng, cfg)
    return frames, visible


def apply_augmentations(frames, tracks, visible, crop_hw, rng, cfg: AugmentConfig = AugmentConfig()) -> AugmentedClip:
    """The full training pipeline: photometric, then scale/crop with drift, then flips."""
    frames, visible = photometric_augment(frames, tracks, visible, rng, cfg)
    frames, tracks, visible = scale_crop_with_drift(frames, tracks, visible, crop_hw, rng, cfg)
    hf = rng.random() < cfg.hflip_prob
    vf = rng.random() < cfg.vflip_prob
    if hf:
        frames, tracks = flip(frames, tracks, horizontal=True)
    if vf:
        frames, tracks = flip(frames, tracks, horizontal=False)
    return AugmentedClip(frames, tracks, visible, hf, vf)
