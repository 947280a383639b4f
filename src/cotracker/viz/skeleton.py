"""Drawing pose skeletons: one colour per person, hollow joints where occluded.

Keypoints follow the package's PoseTrack-17 order (:mod:`cotracker.pose.keypoints`) unless another
``skeleton`` (pairs of keypoint indices) is given. Coordinates are ``(x, y)`` pixels of the frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from cotracker.pose.keypoints import SKELETON
from cotracker.viz.colors import person_colors

__all__ = ["SkeletonStyle", "draw_skeleton"]


@dataclass(frozen=True)
class SkeletonStyle:
    """Sizes in pixels: joint radius, hollow-joint outline, bone width; bones touching an occluded joint
    are drawn ``occluded_bone_width`` wide."""

    radius: int = 3
    outline: int = 1
    bone_width: int = 2
    occluded_bone_width: int = 1


def draw_skeleton(
    image: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    colors: Optional[np.ndarray] = None,
    skeleton: Sequence[tuple[int, int]] = SKELETON,
    valid: Optional[np.ndarray] = None,
    style: SkeletonStyle = SkeletonStyle(),
) -> np.ndarray:
    """Draw people's skeletons on a frame.

    Args:
        image: (H, W, 3) uint8 RGB (not modified).
        keypoints: (P, K, 2) float ``(x, y)`` pixels, or (K, 2) for one person.
        visible: (P, K) bool (or (K,)): filled joint when True, hollow when False.
        colors: (P, 3) uint8 per person; default the palette of :func:`person_colors`.
        skeleton: bones as pairs of keypoint indices (default PoseTrack-17 :data:`SKELETON`).
        valid: (P, K) bool, joints that exist at all (absent ones and their bones are not drawn);
            default: joints with finite coordinates.
        style: sizes.

    Returns:
        (H, W, 3) uint8, a new array.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    vis = np.asarray(visible, dtype=bool)
    if kp.ndim == 2:
        kp, vis = kp[None], vis[None]
        valid = None if valid is None else np.asarray(valid, dtype=bool)[None]
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (P, K, 2) or (K, 2), got {np.asarray(keypoints).shape}")
    P, K = kp.shape[:2]
    if vis.shape != (P, K):
        raise ValueError(f"visible must be (P, K) = {(P, K)}, got {vis.shape}")
    ok = np.isfinite(kp).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool).reshape(P, K)
    for a, b in skeleton:
        if not (0 <= a < K and 0 <= b < K):
            raise ValueError(f"bone ({a}, {b}) refers to a keypoint outside 0..{K - 1}")
    colors = person_colors(P) if colors is None else np.asarray(colors, dtype=np.uint8).reshape(P, 3)
    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(im)
    r = style.radius
    for p in range(P):
        color = tuple(int(c) for c in colors[p])
        for a, b in skeleton:
            if ok[p, a] and ok[p, b]:
                width = style.bone_width if vis[p, a] and vis[p, b] else style.occluded_bone_width
                draw.line([tuple(kp[p, a]), tuple(kp[p, b])], fill=color, width=width)
        for k in range(K):
            if not ok[p, k]:
                continue
            x, y = kp[p, k]
            box = (x - r, y - r, x + r, y + r)
            if vis[p, k]:
                draw.ellipse(box, fill=color, outline=color)
            else:
                draw.ellipse(box, fill=None, outline=color, width=style.outline)
    return np.asarray(im)
