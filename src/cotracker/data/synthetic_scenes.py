"""A Kubric-like procedural generator of point-tracking scenes, with exact ground truth.

A scene is a textured background seen by a moving camera (pan, zoom, roll) and 3 to 15 textured
foreground objects (polygons, ellipses, smooth blobs) that translate, rotate, scale, shear and
deform mildly, change depth order, enter and leave the frame, and change brightness. Tracks come
from the known transforms and visibility from the depth order and the frame bounds (see
:mod:`cotracker.data.render`).

Optional, off by default (the default scenes, and so the seeded held-out sets, do not change): thin
bars (poles, fence rails), articulated limbs that swing about a joint on their parent object, in front
of it or behind it (legs, arms, tails: fast local motion and self-occlusion), and plain low-contrast
surfaces (walls, skies) whose points can only be placed from the motion of their surroundings; fences
(parallel rails fixed in the world, nearer than every object) and a camera that follows one object, so
that the followed object moves slowly in the image while the background and the fence sweep past and
over it (a horse jumping a fence, filmed by a panning camera).

Use :func:`generate_scene` for one clip, :class:`SyntheticSceneDataset` to draw clips on the fly
as a torch Dataset (no disk), and :func:`write_kubric_sequence` to store them in the Kubric MOVi-F
layout (``cotracker generate kubric``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from cotracker.data.augment import AugmentConfig
from cotracker.data.base import require_cv2
from cotracker.data.photo_textures import load_photo_bank, photo_texture
from cotracker.data.render import (
    Layer,
    RenderedClip,
    Warp,
    premultiply,
    render_layers,
    sample_canonical_points,
)
from cotracker.data.textures import random_texture
from cotracker.types import CoTrackerData

__all__ = ["LAYER_KINDS", "SceneConfig", "generate_scene", "SyntheticSceneDataset", "smooth_curve"]

LAYER_KINDS = ("background", "object", "limb", "fence")  # RenderedClip.layer_kind of the generated scenes


@dataclass(frozen=True)
class SceneConfig:
    """Parameters of the synthetic scene generator. Fractions are of the image size unless said otherwise.

    Attributes:
        num_frames: T.
        size_hw: rendered (H, W).
        min_objects, max_objects: number of foreground objects (inclusive range).
        num_points: ground-truth tracks per clip, spread over all surfaces.
        background_fraction: share of the tracks that lie on the background.
        object_size: range of object sizes as a fraction of min(H, W).
        max_translation: largest object displacement over the clip (fraction of W).
        max_rotation_deg: largest object rotation over the clip.
        scale_change: log-scale range of object scale changes.
        max_shear: largest shear factor.
        nonrigid: non-rigid warp amplitude as a fraction of the object size (0 disables it).
        nonrigid_prob: probability that an object deforms.
        camera_pan: largest camera pan over the clip (fraction of W).
        camera_zoom: log-zoom range of the camera.
        camera_rotation_deg: largest camera roll.
        brightness: amplitude of the global and per-object brightness changes.
        motion_blur_prob: probability that a clip gets motion blur along the camera motion.
        erode_px: points are sampled at least this many canonical pixels inside an object's outline.
        thin_prob: probability that an object is a thin bar (length / width in ``thin_aspect``).
        thin_aspect: range of a bar's length-to-width ratio.
        limb_prob: probability that an object carries articulated limbs.
        max_limbs: most limbs on one object (at least 1 when it has any).
        limb_length: range of a limb's length as a fraction of its parent's size.
        limb_swing_deg: largest swing amplitude of a limb about its joint.
        limb_cycles: range of the number of swings over the clip.
        plain_prob: probability that a surface (background or object) is plain: low contrast, faint detail.
        fence_prob: probability that a clip has a fence: ``fence_rails`` parallel bars fixed in the world, nearer
            than every object (they occlude objects that pass behind them and move only with the camera).
        fence_rails: range of the number of rails (inclusive).
        follow_prob: probability that the camera pans with one object (``follow_gain`` of its image motion is
            taken out), so the background and fences move fast in the image and the object slowly.
        follow_gain: range of the share of the followed object's image motion the camera removes.
        photo_prob: probability that a surface (background or object) is a crop of a real photo or video frame
            from ``photo_dir`` (:mod:`cotracker.data.photo_textures`) instead of a procedural texture.
        photo_dir: a folder of videos and photos; needed when ``photo_prob`` > 0.
        photo_exclude: file stems in ``photo_dir`` to leave out (the clips a benchmark scores).
    """

    num_frames: int = 24
    size_hw: tuple[int, int] = (512, 512)
    min_objects: int = 3
    max_objects: int = 15
    num_points: int = 2048
    background_fraction: float = 0.3
    object_size: tuple[float, float] = (0.12, 0.45)
    max_translation: float = 0.7
    max_rotation_deg: float = 90.0
    scale_change: float = 0.35
    max_shear: float = 0.25
    nonrigid: float = 0.03
    nonrigid_prob: float = 0.5
    camera_pan: float = 0.25
    camera_zoom: float = 0.2
    camera_rotation_deg: float = 10.0
    brightness: float = 0.15
    motion_blur_prob: float = 0.0
    erode_px: int = 3
    thin_prob: float = 0.0
    thin_aspect: tuple[float, float] = (4.0, 10.0)
    limb_prob: float = 0.0
    max_limbs: int = 4
    limb_length: tuple[float, float] = (0.5, 1.1)
    limb_swing_deg: float = 40.0
    limb_cycles: tuple[float, float] = (0.5, 1.5)
    plain_prob: float = 0.0
    fence_prob: float = 0.0
    fence_rails: tuple[int, int] = (2, 4)
    follow_prob: float = 0.0
    follow_gain: tuple[float, float] = (0.6, 1.0)
    photo_prob: float = 0.0
    photo_dir: Optional[str] = None
    photo_exclude: tuple[str, ...] = ()

    def __post_init__(self):
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        if len(self.size_hw) != 2 or min(self.size_hw) < 16:
            raise ValueError(f"size_hw must be (H, W) with both >= 16, got {self.size_hw}")
        if not 0 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 0 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if self.num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {self.num_points}")
        for name in ("thin_prob", "limb_prob", "plain_prob", "nonrigid_prob", "motion_blur_prob", "fence_prob",
                     "follow_prob", "photo_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("thin_aspect", "limb_length", "limb_cycles", "object_size"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range (low, high) with 0 < low <= high, got {(lo, hi)}")
        if self.max_limbs < 1:
            raise ValueError(f"max_limbs must be >= 1, got {self.max_limbs}")
        if not 1 <= self.fence_rails[0] <= self.fence_rails[1]:
            raise ValueError(f"fence_rails must be a range (low, high) with 1 <= low <= high, got {self.fence_rails}")
        if not 0.0 <= self.follow_gain[0] <= self.follow_gain[1] <= 1.0:
            raise ValueError(f"follow_gain must be a range (low, high) with 0 <= low <= high <= 1, got {self.follow_gain}")
        if self.photo_prob > 0 and not self.photo_dir:
            raise ValueError(f"photo_prob is {self.photo_prob} but photo_dir is not set; give photo_dir (a folder of "
                             "videos or photos to cut textures from) or set photo_prob to 0")
        if isinstance(self.photo_exclude, str):
            raise ValueError(f"photo_exclude must be a list of file stems, got the string {self.photo_exclude!r}")


def smooth_curve(rng: np.random.Generator, num_frames: int, dims: int, amplitude) -> np.ndarray:
    """A smooth random curve over the clip: drift + ease + a slow wiggle. (T, dims) float64, |.| <~ amplitude."""
    tau = np.linspace(0.0, 1.0, num_frames)[:, None]
    v = rng.uniform(-1, 1, size=(1, dims))
    acc = rng.uniform(-1, 1, size=(1, dims))
    wig = rng.uniform(0, 0.25, size=(1, dims))
    freq = rng.uniform(0.5, 2.0, size=(1, dims))
    phase = rng.uniform(0, 2 * np.pi, size=(1, dims))
    curve = 0.7 * v * tau + 0.6 * acc * tau * (tau - 1) + wig * (np.sin(2 * np.pi * freq * tau + phase) - np.sin(phase))
    return curve * np.asarray(amplitude, np.float64)


def _rot(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def _compose(lin: np.ndarray, trans: np.ndarray) -> np.ndarray:
    return np.concatenate([lin, trans[:, None]], axis=1)


def _chain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Affine a after b (both (2, 3))."""
    return _compose(a[:, :2] @ b[:, :2], a[:, :2] @ b[:, 2] + a[:, 2])


def _shape_alpha(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random anti-aliased silhouette (polygon, ellipse or blob) filling an (h, w) canvas. float32 0..1."""
    cv2 = require_cv2()
    canvas = np.zeros((h, w), np.uint8)
    cx, cy, rx, ry = (w - 1) / 2, (h - 1) / 2, (w - 4) / 2, (h - 4) / 2
    kind = rng.integers(3)
    if kind == 1:
        cv2.ellipse(canvas, (int(round(cx * 16)), int(round(cy * 16))), (int(rx * 16), int(ry * 16)), 0, 0, 360,
                    255, -1, cv2.LINE_AA, shift=4)
    else:
        n = int(rng.integers(5, 12)) if kind == 0 else 64
        ang = np.sort(rng.uniform(0, 2 * np.pi, n)) if kind == 0 else np.linspace(0, 2 * np.pi, n, endpoint=False)
        if kind == 0:
            r = rng.uniform(0.55, 1.0, n)
        else:
            r = np.ones(n)
            for k in range(2, 6):
                r += rng.uniform(-0.12, 0.12) * np.sin(k * ang + rng.uniform(0, 2 * np.pi))
            r = r / r.max()
        pts = np.stack([cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)], axis=1)
        cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _camera(cfg: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    """World -> image affine per frame (T, 2, 3): image = centre + zoom * R(roll) (world - cam)."""
    H, W = cfg.size_hw
    T = cfg.num_frames
    pan = smooth_curve(rng, T, 2, [cfg.camera_pan * W, cfg.camera_pan * H])
    zoom = np.exp(smooth_curve(rng, T, 1, cfg.camera_zoom))[:, 0]
    roll = np.deg2rad(smooth_curve(rng, T, 1, cfg.camera_rotation_deg))[:, 0]
    centre = np.array([(W - 1) / 2, (H - 1) / 2])
    out = np.empty((T, 2, 3))
    for t in range(T):
        lin = zoom[t] * _rot(roll[t])
        cam = centre + pan[t]
        out[t] = _compose(lin, centre - lin @ cam)
    return out


def _bar_alpha(h: int, w: int) -> np.ndarray:
    """A filled rectangle with anti-aliased edges filling an (h, w) canvas (a pole, a rail, a limb). float32 0..1."""
    cv2 = require_cv2()
    canvas = np.zeros((h, w), np.uint8)
    corners = np.array([[1, 1], [w - 2, 1], [w - 2, h - 2], [1, h - 2]], np.float64)
    cv2.fillPoly(canvas, [np.round(corners * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _surface_texture(cfg: SceneConfig, rng: np.random.Generator, h: int, w: int, detail: float = 0.35) -> np.ndarray:
    """A random texture, or with probability ``cfg.plain_prob`` a plain one: faint detail, 10-35% of the contrast.

    Otherwise, with probability ``cfg.photo_prob``, a crop of a real frame from ``cfg.photo_dir``. Draws nothing
    extra from ``rng`` when ``plain_prob`` and ``photo_prob`` are 0 (the default scenes stay as they were)."""
    if cfg.plain_prob > 0 and rng.random() < cfg.plain_prob:
        tex = random_texture(rng, h, w, detail=0.03)
        mean = tex.reshape(-1, 3).mean(axis=0)
        return (mean + rng.uniform(0.1, 0.35) * (tex - mean)).astype(np.float32)
    if cfg.photo_prob > 0 and rng.random() < cfg.photo_prob:
        bank = load_photo_bank(cfg.photo_dir, exclude=cfg.photo_exclude)
        return photo_texture(rng, bank, h, w, detail=min(detail, 0.1))
    return random_texture(rng, h, w, detail=detail)


def _inner_mask(alpha: np.ndarray, erode_px: int) -> np.ndarray:
    """Where points may be sampled: fully opaque and at least ``erode_px`` pixels inside the outline."""
    cv2 = require_cv2()
    k = 2 * erode_px + 1
    return cv2.erode((alpha > 0.99).astype(np.uint8), np.ones((k, k), np.uint8)) > 0


def _object_layer(
    cfg: SceneConfig, rng: np.random.Generator, camera: np.ndarray
) -> tuple[Layer, np.ndarray, float]:
    """One foreground object: its layer, the mask where its points may be sampled, and its size in pixels."""
    H, W = cfg.size_hw
    T = cfg.num_frames
    size = rng.uniform(*cfg.object_size) * min(H, W)
    aspect = rng.uniform(0.6, 1.6)
    if cfg.thin_prob > 0 and rng.random() < cfg.thin_prob:  # a bar: longer than a blob, never under 10 px wide
        length = 1.5 * size
        h = max(12, int(round(length)))
        w = max(2 * cfg.erode_px + 4, int(round(length / rng.uniform(*cfg.thin_aspect))))
        alpha = _bar_alpha(h, w)
    else:
        h = max(12, int(round(size / np.sqrt(aspect))))
        w = max(12, int(round(size * np.sqrt(aspect))))
        alpha = _shape_alpha(rng, h, w)
    tex = _surface_texture(cfg, rng, h, w)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])

    start = np.array([rng.uniform(-0.1, 1.1) * W, rng.uniform(-0.1, 1.1) * H])
    path = start + smooth_curve(rng, T, 2, [cfg.max_translation * W, cfg.max_translation * H])
    theta = rng.uniform(0, 2 * np.pi) + np.deg2rad(smooth_curve(rng, T, 1, cfg.max_rotation_deg))[:, 0]
    scale = np.exp(smooth_curve(rng, T, 1, cfg.scale_change))[:, 0]
    shear = smooth_curve(rng, T, 1, cfg.max_shear)[:, 0]
    affine = np.empty((T, 2, 3))
    for t in range(T):
        lin = _rot(theta[t]) @ np.array([[1.0, shear[t]], [0.0, 1.0]]) * scale[t]
        obj = _compose(lin, path[t] - lin @ centre)  # canonical -> world
        affine[t] = _chain(camera[t], obj)
    depth = rng.uniform(0, 1) + smooth_curve(rng, T, 1, 0.8)[:, 0]
    gain = 1.0 + smooth_curve(rng, T, 1, 0.5 * cfg.brightness)[:, 0]
    warp = None
    if cfg.nonrigid > 0 and rng.random() < cfg.nonrigid_prob:
        lam = rng.uniform(0.6, 1.2, size=2) * size
        direction = rng.uniform(0, 2 * np.pi, size=2)
        wave = (2 * np.pi / lam)[:, None] * np.stack([np.cos(direction), np.sin(direction)], axis=1)
        amp = cfg.nonrigid * size * rng.uniform(0.3, 1.0, size=2)
        phase = rng.uniform(0, 2 * np.pi, size=(1, 2)) + 2 * np.pi * rng.uniform(0.3, 1.5, size=(1, 2)) * np.linspace(0, 1, T)[:, None]
        warp = Warp(amplitude=amp.astype(np.float32), wave=wave.astype(np.float32), phase=phase.astype(np.float32))
    layer = Layer(rgba=premultiply(tex, alpha), affine=affine, depth=depth, gain=gain, warp=warp)
    return layer, _inner_mask(alpha, cfg.erode_px), size


def _limb_layers(
    cfg: SceneConfig, rng: np.random.Generator, parent: Layer, parent_inner: np.ndarray, parent_size: float
) -> list[tuple[Layer, np.ndarray]]:
    """Articulated limbs of one object: bars hinged at a point of the parent that swing about it.

    A limb's canonical frame maps into its parent's by ``attach + R(angle_t) (u - pivot)``, with ``pivot`` near
    the limb's top end and ``angle_t = base + amplitude * sin(2 pi cycles t / (T - 1) + phase)``; its image map is
    the parent's map after that one, so it moves with the parent and swings on top of it. It lies just in front of
    or just behind its parent (a near and a far leg).
    """
    T = cfg.num_frames
    idx = np.flatnonzero(parent_inner)
    if idx.size == 0:
        return []
    tau = np.linspace(0.0, 1.0, T)
    out = []
    for _ in range(int(rng.integers(1, cfg.max_limbs + 1))):
        length = rng.uniform(*cfg.limb_length) * parent_size
        h = max(12, int(round(length)))
        w = max(2 * cfg.erode_px + 4, int(round(length / rng.uniform(3.0, 6.0))))
        alpha = _bar_alpha(h, w)
        tex = _surface_texture(cfg, rng, h, w)
        ay, ax = np.divmod(int(rng.choice(idx)), parent_inner.shape[1])
        attach = np.array([ax, ay], np.float64)
        pivot = np.array([(w - 1) / 2, min(w / 2, (h - 1) / 2)])
        amplitude = np.deg2rad(cfg.limb_swing_deg) * rng.uniform(0.3, 1.0)
        angle = rng.uniform(0, 2 * np.pi) + amplitude * np.sin(
            2 * np.pi * rng.uniform(*cfg.limb_cycles) * tau + rng.uniform(0, 2 * np.pi))
        side = 1.0 if rng.random() < 0.5 else -1.0
        depth = parent.depth + side * rng.uniform(0.002, 0.02)
        affine = np.empty((T, 2, 3))
        for t in range(T):
            rot = _rot(angle[t])
            affine[t] = _chain(parent.affine[t], _compose(rot, attach - rot @ pivot))
        layer = Layer(rgba=premultiply(tex, alpha), affine=affine, depth=depth, gain=parent.gain)
        out.append((layer, _inner_mask(alpha, cfg.erode_px)))
    return out


def _fence_layers(cfg: SceneConfig, rng: np.random.Generator, camera: np.ndarray,
                  nearest: float) -> list[tuple[Layer, np.ndarray]]:
    """A fence: parallel rails (mostly horizontal, or upright posts) fixed in the world, all nearer than ``nearest``.

    The first view's world frame is its image frame (the camera starts at the identity), so the fence is placed in
    the first view and then moves only with the camera.
    """
    H, W = cfg.size_hw
    T = cfg.num_frames
    upright = rng.random() < 0.3
    theta = np.deg2rad(rng.uniform(-15, 15) + (90.0 if upright else 0.0))
    n = int(rng.integers(cfg.fence_rails[0], cfg.fence_rails[1] + 1))
    length = rng.uniform(0.8, 2.0) * (H if upright else W)
    h = max(2 * cfg.erode_px + 4, int(round(rng.uniform(0.02, 0.05) * min(H, W))))  # the rail's width
    w = max(12, int(round(length)))
    gap = rng.uniform(2.0, 5.0) * h  # between the rails' centre lines: the objects behind show between them
    centre = np.array([rng.uniform(0.25, 0.75) * W, rng.uniform(0.35, 0.75) * H])
    along = np.array([np.cos(theta), np.sin(theta)])
    across = np.array([-along[1], along[0]])
    rot = _rot(theta)
    depth = nearest - 1.0 - rng.uniform(0.0, 0.1)
    out = []
    for k in range(n):
        tex = _surface_texture(cfg, rng, h, w)
        alpha = _bar_alpha(h, w)
        mid = centre + (k - (n - 1) / 2) * gap * across
        obj = _compose(rot, mid - rot @ np.array([(w - 1) / 2, (h - 1) / 2]))  # canonical -> world, fixed
        affine = np.stack([_chain(camera[t], obj) for t in range(T)])
        out.append((Layer(rgba=premultiply(tex, alpha), affine=affine, depth=np.full(T, depth - 1e-3 * k)),
                    _inner_mask(alpha, cfg.erode_px)))
    return out


def _follow_shift(cfg: SceneConfig, rng: np.random.Generator, candidates: Sequence[Layer]) -> Optional[np.ndarray]:
    """(T, 2) image translations that make the camera pan with one of ``candidates`` (taking out ``follow_gain`` of
    its image motion), or None when no candidate starts inside the view."""
    H, W = cfg.size_hw
    starts = []
    for ly in candidates:
        h, w = ly.rgba.shape[:2]
        c = ly.affine[:, :, :2] @ np.array([(w - 1) / 2, (h - 1) / 2]) + ly.affine[:, :, 2]  # (T, 2) image centre
        if 0 <= c[0, 0] < W and 0 <= c[0, 1] < H:
            starts.append(c)
    if not starts:
        return None
    c = starts[int(rng.integers(len(starts)))]
    return rng.uniform(*cfg.follow_gain) * (c[:1] - c)


def _motion_blur_kernels(camera: np.ndarray, size_hw) -> list:
    """Line kernels along the image motion of the view centre between frames (None when it is < 1.5 px)."""
    cv2 = require_cv2()
    H, W = size_hw
    c = np.array([(W - 1) / 2, (H - 1) / 2, 1.0])
    # Follow the world point under the first view's centre.
    inv0 = np.linalg.inv(np.vstack([camera[0], [0, 0, 1]]))
    world = inv0 @ c
    pos = camera @ world
    kernels = [None]
    for t in range(1, len(camera)):
        v = pos[t] - pos[t - 1]
        length = float(np.linalg.norm(v)) * 0.5
        if length < 1.5:
            kernels.append(None)
            continue
        k = int(np.ceil(length)) | 1
        ker = np.zeros((k, k), np.float32)
        d = v / np.linalg.norm(v) * (k - 1) / 2
        m = (k - 1) / 2
        cv2.line(ker, (int(round(m - d[0])), int(round(m - d[1]))), (int(round(m + d[0])), int(round(m + d[1]))), 1.0, 1)
        kernels.append(ker / ker.sum())
    return kernels


def generate_scene(
    config: SceneConfig,
    rng: np.random.Generator,
    choose_frames: Optional[Callable[[np.random.Generator], Sequence[int]]] = None,
) -> RenderedClip:
    """Render one synthetic scene with exact tracks.

    Args:
        config: the generator parameters.
        rng: the only source of randomness (seed it per clip for reproducibility).
        choose_frames: called with ``rng`` once the whole scene (its motion over ``config.num_frames``) is drawn,
            before anything is rendered; only the frames it returns are rendered, in that order. The result equals
            those frames of the full clip, and ``rng`` is left where the full clip would leave it after the same
            call (rendering draws nothing). Default: every frame.

    Returns:
        :class:`~cotracker.data.render.RenderedClip`: frames (T, H, W, 3) uint8, tracks (T, N, 2) float32
        image pixels, visible (T, N) bool, point_layer (N,) (0 = background), id_buffer (T, H, W), layer_kind
        (one of :data:`LAYER_KINDS` per layer).
    """
    H, W = config.size_hw
    T = config.num_frames
    camera = _camera(config, rng)

    # Background: a texture twice the view, centred on the world origin of the first view.
    bh, bw = 2 * H, 2 * W
    bg_tex = _surface_texture(config, rng, bh, bw, detail=0.3)
    offset = np.array([-(bw - W) / 2, -(bh - H) / 2])
    bg_affine = np.stack([_chain(camera[t], _compose(np.eye(2), offset)) for t in range(T)])
    layers = [Layer(rgba=premultiply(bg_tex, np.ones((bh, bw), np.float32)), affine=bg_affine,
                    depth=np.full(T, np.inf), full_frame=True)]
    masks = [None]
    kinds = ["background"]  # what each layer is (RenderedClip.layer_kind): background, object, limb, fence
    n_obj = int(rng.integers(config.min_objects, config.max_objects + 1))
    bodies = []  # the objects without their limbs
    for _ in range(n_obj):
        ly, inner, size = _object_layer(config, rng, camera)
        bodies.append(ly)
        layers.append(ly)
        masks.append(inner)
        kinds.append("object")
        if config.limb_prob > 0 and rng.random() < config.limb_prob:
            for limb, limb_inner in _limb_layers(config, rng, ly, inner, size):
                layers.append(limb)
                masks.append(limb_inner)
                kinds.append("limb")
    if config.fence_prob > 0 and rng.random() < config.fence_prob:
        nearest = min((float(ly.depth.min()) for ly in layers[1:]), default=0.0)  # the objects and their limbs
        for rail, rail_inner in _fence_layers(config, rng, camera, nearest):
            layers.append(rail)
            masks.append(rail_inner)
            kinds.append("fence")
    if config.follow_prob > 0 and rng.random() < config.follow_prob:
        shift = _follow_shift(config, rng, bodies)
        if shift is not None:  # a pan in image space: every layer (bg_affine is layers[0].affine) and the camera
            for ly in layers:    # move by it; each layer owns its affine array
                ly.affine[:, :, 2] += shift
            camera[:, :, 2] += shift
    n_obj = len(layers) - 1

    # Points: background points seen in frame 0, T//2 or T-1; object points proportional to area.
    n_bg = int(round(config.num_points * config.background_fraction)) if n_obj else config.num_points
    ref_t = rng.choice([0, T // 2, T - 1], size=n_bg)
    img_pts = rng.uniform([0, 0], [W - 1, H - 1], size=(n_bg, 2))
    bg_pts = np.empty((n_bg, 2), np.float32)
    for t in np.unique(ref_t):
        sel = ref_t == t
        inv = np.linalg.inv(np.vstack([bg_affine[t], [0, 0, 1]]))[:2]
        bg_pts[sel] = img_pts[sel] @ inv[:, :2].T + inv[:, 2]
    points = [bg_pts]
    areas = np.array([m.sum() for m in masks[1:]], np.float64)
    n_left = config.num_points - n_bg
    if n_obj and areas.sum() > 0:
        counts = rng.multinomial(n_left, areas / areas.sum())
        for m, c in zip(masks[1:], counts):
            points.append(sample_canonical_points(rng, m, int(c)))
    else:
        points += [np.zeros((0, 2), np.float32)] * n_obj

    gain = 1.0 + smooth_curve(rng, T, 1, config.brightness)[:, 0]
    blur = _motion_blur_kernels(camera, config.size_hw) if rng.random() < config.motion_blur_prob else None
    frame_indices = None if choose_frames is None else choose_frames(rng)
    clip = render_layers(layers, config.size_hw, points, frame_gain=gain.astype(np.float32), blur_kernels=blur,
                         frame_indices=frame_indices)
    return replace(clip, layer_kind=tuple(kinds))


class SyntheticSceneDataset(torch.utils.data.Dataset):
    """Synthetic Kubric-like clips drawn on the fly (no disk), processed exactly like Kubric MOVi-F files.

    Item ``i`` is rendered with ``np.random.default_rng(seed + i)``, so the dataset is deterministic and
    safe across DataLoader workers.

    Args:
        num_sequences: the dataset length.
        config: generator parameters (``num_frames`` is the rendered length).
        seed: base seed.
        crop_size: (H, W) of the returned clips; None keeps the rendered size.
        seq_len: frames per sample (<= num_frames); None keeps all.
        traj_per_sample: tracks per sample.
        sample_vis_1st_frame: only sample tracks visible in the first frame.
        use_augs: apply the training augmentations of :mod:`cotracker.data.augment`.
        aug_config: their parameters.
        query_kinds: sample tracks only on layers of these kinds (:data:`LAYER_KINDS`), e.g. ``("limb",)`` for
            points on articulated limbs only; None (default) samples all points. A clip with fewer such points
            than ``traj_per_sample`` repeats some (see :func:`~cotracker.data.base.sample_track_indices`).
    """

    def __init__(
        self,
        num_sequences: int,
        config: SceneConfig = SceneConfig(),
        seed: int = 0,
        crop_size: Optional[Sequence[int]] = None,
        seq_len: Optional[int] = None,
        traj_per_sample: int = 256,
        sample_vis_1st_frame: bool = False,
        use_augs: bool = False,
        aug_config: AugmentConfig = AugmentConfig(),
        query_kinds: Optional[Sequence[str]] = None,
    ):
        if num_sequences < 1:
            raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
        if query_kinds is not None:
            query_kinds = tuple(query_kinds)
            unknown = [k for k in query_kinds if k not in LAYER_KINDS]
            if not query_kinds or unknown:
                raise ValueError(f"query_kinds must be a non-empty subset of {LAYER_KINDS}, got {query_kinds}")
            possible = {"background", "object"} | ({"limb"} if config.limb_prob > 0 else set()) | (
                {"fence"} if config.fence_prob > 0 else set())
            if not possible & set(query_kinds):
                raise ValueError(f"query_kinds={query_kinds}: these scenes have no such layers; set "
                                 "SceneConfig.limb_prob > 0 for limbs, fence_prob > 0 for fences")
        self.query_kinds = query_kinds
        self.num_sequences = num_sequences
        self.config = config
        self.seed = seed
        self.crop_size = tuple(crop_size) if crop_size is not None else tuple(config.size_hw)
        self.seq_len = seq_len or config.num_frames
        if self.seq_len > config.num_frames:
            raise ValueError(f"seq_len {self.seq_len} exceeds the rendered num_frames {config.num_frames}")
        self.traj_per_sample = traj_per_sample
        self.sample_vis_1st_frame = sample_vis_1st_frame
        self.use_augs = use_augs
        self.aug_config = aug_config

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, index: int) -> CoTrackerData:
        from cotracker.data.kubric import process_clip, sample_window  # noqa: PLC0415

        if not 0 <= index < self.num_sequences:
            raise IndexError(f"index {index} out of range for {self.num_sequences} synthetic scenes")
        rng = np.random.default_rng(self.seed + index)
        # Only the sample's window is rendered; the window is drawn from rng where process_clip would draw it, so
        # the sample is the one a full render would give.
        def window(r: np.random.Generator) -> range:
            return range(self.config.num_frames)[sample_window(r, self.config.num_frames, self.seq_len)]

        clip = generate_scene(self.config, rng, choose_frames=window)
        tracks, visible = clip.tracks, clip.visible
        if self.query_kinds is not None:
            keep = np.isin(np.asarray(clip.layer_kind, dtype=object)[clip.point_layer], self.query_kinds)
            tracks, visible = tracks[:, keep], visible[:, keep]
        return process_clip(
            clip.frames, tracks, visible, rng,
            crop_size=self.crop_size, seq_len=self.seq_len, traj_per_sample=self.traj_per_sample,
            sample_vis_1st_frame=self.sample_vis_1st_frame, use_augs=self.use_augs,
            aug_config=self.aug_config, seq_name=f"synthetic_{self.seed + index:06d}", windowed=True,
        )
