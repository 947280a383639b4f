"""A small 2D layered renderer with exact point ground truth, shared by the synthetic generators.

A scene is a stack of :class:`Layer` s. Each layer is a premultiplied RGBA texture in its own
*canonical* pixel frame, placed in every frame ``t`` by an affine map ``A_t`` (canonical -> image)
and, optionally, a smooth non-rigid :class:`Warp`. Rendering uses the inverse map: the image pixel
``p`` shows canonical point ``u = q + w_t(q)`` with ``q = A_t^{-1} p``. The ground-truth image
position of a canonical point ``u`` solves ``q + w_t(q) = u`` (a contraction, solved by fixed-point
iteration to ~1e-4 px) and is ``p = A_t q``.

Layers are composited far to near by their per-frame depth; an id buffer records which layer is
on top at every pixel (alpha > 0.5), which gives each point's visibility: it is visible in frame
``t`` when it lies inside the image and its own layer is on top at its (rounded) pixel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from cotracker.data.base import require_cv2

__all__ = [
    "Warp", "Layer", "RenderedClip", "render_layers", "layer_points_to_image", "sample_canonical_points",
    "visibility_from_ids", "premultiply",
]

FIXED_POINT_ITERS = 14


@dataclass
class Warp:
    """Smooth non-rigid displacement in canonical pixels: ``w_t(q)_c = amp_c * sin(q . wave_c + phase_t,c)``.

    Attributes:
        amplitude: (2,) displacement amplitude (canonical px) for x and y.
        wave: (2, 2) wave vectors (rad / px), row c drives the c-th displacement component.
        phase: (T, 2) phase per frame.

    Keep ``|amp| * |wave| < 0.5`` so the inverse is a contraction.
    """

    amplitude: np.ndarray
    wave: np.ndarray
    phase: np.ndarray

    def displacement(self, q: np.ndarray, t: int) -> np.ndarray:
        """(..., 2) canonical points -> (..., 2) displacement at frame t."""
        arg = q @ self.wave.T + self.phase[t]  # (..., 2)
        return (self.amplitude * np.sin(arg)).astype(np.float32)


@dataclass
class Layer:
    """One textured surface.

    Attributes:
        rgba: (h, w, 4) float32 premultiplied colour (0..255) and alpha (0..1) in canonical pixels.
        affine: (T, 2, 3) float64 canonical -> image maps, one per frame.
        depth: (T,) float, smaller is nearer the camera.
        gain: optional (T,) brightness multiplier of this layer.
        warp: optional non-rigid warp.
        full_frame: True for a background that covers the whole image (rendered with border reflection).
    """

    rgba: np.ndarray
    affine: np.ndarray
    depth: np.ndarray
    gain: Optional[np.ndarray] = None
    warp: Optional[Warp] = None
    full_frame: bool = False


@dataclass
class RenderedClip:
    """Output of :func:`render_layers`.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        tracks: (T, N, 2) float32 ``(x, y)`` image pixels of the requested canonical points.
        visible: (T, N) bool.
        point_layer: (N,) int64, index of the layer each point lies on.
        id_buffer: (T, H, W) int16, index of the top layer at each pixel (-1 where nothing).
        layer_kind: optional name of what each layer is (e.g. ``"background"``, ``"object"``, ``"limb"``), one per
            layer, set by generators that know it (empty when unknown).
    """

    frames: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray
    point_layer: np.ndarray
    id_buffer: np.ndarray
    layer_kind: tuple[str, ...] = ()


def _invert_affine(a: np.ndarray) -> np.ndarray:
    m = np.vstack([a, [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]


def layer_points_to_image(layer: Layer, canon: np.ndarray, frame_indices: Optional[Sequence[int]] = None) -> np.ndarray:
    """Exact image positions of canonical points on a layer in every frame (or in ``frame_indices``, in order).

    Args:
        layer: the layer.
        canon: (n, 2) canonical ``(x, y)`` pixels.
        frame_indices: the frames to compute (default: all of the layer's).

    Returns:
        (T, n, 2) float32 image ``(x, y)`` pixels, T the number of frames computed.
    """
    times = range(layer.affine.shape[0]) if frame_indices is None else frame_indices
    out = np.empty((len(times), canon.shape[0], 2), np.float32)
    u = canon.astype(np.float64)
    for k, t in enumerate(times):
        q = u
        if layer.warp is not None:
            for _ in range(FIXED_POINT_ITERS):
                q = u - layer.warp.displacement(q, t)
        a = layer.affine[t]
        out[k] = q @ a[:, :2].T + a[:, 2]
    return out


def sample_canonical_points(rng: np.random.Generator, mask: np.ndarray, n: int) -> np.ndarray:
    """``n`` random canonical points inside ``mask`` ((h, w) bool), jittered within their pixel. (n, 2) float32."""
    idx = np.flatnonzero(mask)
    if idx.size == 0 or n <= 0:
        return np.zeros((0, 2), np.float32)
    pick = rng.choice(idx, size=n, replace=idx.size < n)
    ys, xs = np.divmod(pick, mask.shape[1])
    jitter = rng.uniform(-0.35, 0.35, size=(n, 2))
    return (np.stack([xs, ys], axis=1) + jitter).astype(np.float32)


def _layer_bbox(layer: Layer, t: int, H: int, W: int) -> Optional[tuple[int, int, int, int]]:
    """Image bounding box (x0, y0, x1, y1), exclusive end, of a layer in frame t; None when off-screen."""
    h, w = layer.rgba.shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    a = layer.affine[t]
    img = corners @ a[:, :2].T + a[:, 2]
    pad = 2.0
    if layer.warp is not None:
        pad += float(np.abs(layer.warp.amplitude).max()) * float(np.abs(a[:, :2]).sum(axis=1).max())
    x0 = max(int(np.floor(img[:, 0].min() - pad)), 0)
    y0 = max(int(np.floor(img[:, 1].min() - pad)), 0)
    x1 = min(int(np.ceil(img[:, 0].max() + pad)) + 1, W)
    y1 = min(int(np.ceil(img[:, 1].max() + pad)) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _warp_layer(layer: Layer, t: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Resample a layer's premultiplied RGBA over an image box. (y1-y0, x1-x0, 4) float32."""
    cv2 = require_cv2()
    x0, y0, x1, y1 = box
    inv = _invert_affine(layer.affine[t])
    if layer.warp is None:
        # Shift the inverse so the output starts at the box corner; one warpAffine, no maps.
        m = inv.copy()
        m[:, 2] += inv[:, :2] @ np.array([x0, y0], np.float64)
        return cv2.warpAffine(
            layer.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    px, py = np.meshgrid(xs, ys)
    qx = inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]
    qy = inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]
    q = np.stack([qx, qy], axis=-1).astype(np.float32)  # (h, w, 2)
    u = q + layer.warp.displacement(q, t)
    return cv2.remap(layer.rgba, u[..., 0], u[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def render_layers(
    layers: Sequence[Layer],
    size_hw: Sequence[int],
    points: Sequence[np.ndarray],
    frame_gain: Optional[np.ndarray] = None,
    blur_kernels: Optional[Sequence[Optional[np.ndarray]]] = None,
    frame_indices: Optional[Sequence[int]] = None,
) -> RenderedClip:
    """Render a layered scene and the ground truth of canonical points.

    Args:
        layers: the layers; layer 0 is usually the full-frame background.
        size_hw: output (H, W).
        points: one (n_i, 2) array of canonical points per layer (may be empty).
        frame_gain: optional (T,) global brightness multiplier (applied after visibility).
        blur_kernels: optional per-frame 2D kernels (None = sharp), e.g. a motion-blur line.
        frame_indices: render only these frames of the layers' time line, in this order (default: all). Each frame
            is rendered on its own, so the result equals the same frames taken from a full render.

    Returns:
        A :class:`RenderedClip` with one entry per rendered frame.
    """
    cv2 = require_cv2()
    H, W = int(size_hw[0]), int(size_hw[1])
    T = layers[0].affine.shape[0]
    times = list(range(T)) if frame_indices is None else [int(t) for t in frame_indices]
    if any(not 0 <= t < T for t in times):
        raise ValueError(f"frame_indices must lie in [0, {T - 1}] (the layers' frames), got {times}")
    frames = np.empty((len(times), H, W, 3), np.uint8)
    ids = np.full((len(times), H, W), -1, np.int16)
    depth = np.stack([ly.depth for ly in layers], axis=1)  # (T, L)
    # Opaque full-frame layers are warped as plain RGB straight into the canvas.
    opaque_rgb = {i: np.ascontiguousarray(ly.rgba[..., :3]) for i, ly in enumerate(layers)
                  if ly.full_frame and bool((ly.rgba[..., 3] >= 1.0).all())}
    for k, t in enumerate(times):  # k: output frame, t: frame of the layers' time line
        canvas = None
        for li in np.argsort(-depth[t], kind="stable"):  # far to near
            ly = layers[li]
            if canvas is None and li in opaque_rgb:
                canvas = cv2.warpAffine(opaque_rgb[li], ly.affine[t], (W, H), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT_101)
                if ly.gain is not None:
                    canvas *= ly.gain[t]
                ids[k] = li
                continue
            if ly.full_frame:
                rgba = cv2.warpAffine(ly.rgba, ly.affine[t], (W, H), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT_101)
                box = (0, 0, W, H)
            else:
                box = _layer_bbox(ly, t, H, W)
                if box is None:
                    continue
                rgba = _warp_layer(ly, t, box)
            x0, y0, x1, y1 = box
            a = rgba[..., 3:4]
            col = rgba[..., :3] if ly.gain is None else rgba[..., :3] * ly.gain[t]
            if canvas is None:
                canvas = np.zeros((H, W, 3), np.float32)
            roi = canvas[y0:y1, x0:x1]
            roi *= 1.0 - a
            roi += col
            ids[k, y0:y1, x0:x1][a[..., 0] > 0.5] = li
        if canvas is None:
            canvas = np.zeros((H, W, 3), np.float32)
        if blur_kernels is not None and blur_kernels[t] is not None:
            canvas = cv2.filter2D(canvas, -1, blur_kernels[t], borderType=cv2.BORDER_REFLECT_101)
        gain_t = 1.0 if frame_gain is None else float(frame_gain[t])
        frames[k] = cv2.convertScaleAbs(canvas, alpha=gain_t)  # scale, round and saturate to uint8

    tracks, owner = [], []
    for li, (ly, pts) in enumerate(zip(layers, points)):
        if len(pts):
            tracks.append(layer_points_to_image(ly, np.asarray(pts), times))
            owner.append(np.full(len(pts), li, np.int64))
    if tracks:
        tr = np.concatenate(tracks, axis=1)  # (T, N, 2)
        own = np.concatenate(owner)
    else:
        tr, own = np.zeros((len(times), 0, 2), np.float32), np.zeros((0,), np.int64)
    vis = visibility_from_ids(ids, tr, own)
    return RenderedClip(frames=frames, tracks=tr, visible=vis, point_layer=own, id_buffer=ids)


def visibility_from_ids(ids: np.ndarray, tracks: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Visibility of points from an id buffer.

    Args:
        ids: (T, H, W) int, top layer per pixel.
        tracks: (T, N, 2) float pixels.
        owner: (N,) int layer of each point, or (N, K) int with -1 padding: any of K layers counts as its own.

    Returns:
        (T, N) bool: inside the image and one of the point's own layers on top at its rounded pixel.
    """
    T, H, W = ids.shape
    x, y = tracks[..., 0], tracks[..., 1]
    inside = (x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1)
    xi = np.clip(np.rint(x), 0, W - 1).astype(np.int64)
    yi = np.clip(np.rint(y), 0, H - 1).astype(np.int64)
    top = ids[np.arange(T)[:, None], yi, xi]  # (T, N)
    if owner.ndim == 1:
        mine = top == owner[None]
    else:
        mine = ((top[..., None] == owner[None]) & (owner[None] >= 0)).any(axis=-1)
    return inside & mine


def premultiply(texture: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(h, w, 3) colour 0..255 and (h, w) alpha 0..1 -> (h, w, 4) float32 premultiplied RGBA."""
    a = alpha.astype(np.float32)[..., None]
    return np.concatenate([texture.astype(np.float32) * a, a], axis=-1)
