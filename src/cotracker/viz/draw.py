"""Drawing point tracks on frames (numpy / Pillow, arrays in, arrays out).

Points are discs filled with their colour when visible and drawn hollow (outline only) when
occluded. Trails are polylines through a point's last ``trail`` positions, fading towards the past.
All coordinates are ``(x, y)`` pixels of the frame being drawn on (align-corners).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

from cotracker.viz.colors import query_colors

__all__ = ["DrawStyle", "draw_points", "draw_trails", "TrackPainter"]


@dataclass(frozen=True)
class DrawStyle:
    """Sizes used when drawing, in pixels of the drawn frame.

    Attributes:
        radius: disc radius of a point.
        outline: line width of a hollow (occluded) point.
        linewidth: width of trail lines.
        trail_alpha: opacity of the newest trail segment (older ones fade linearly to 0).
    """

    radius: int = 3
    outline: int = 1
    linewidth: int = 2
    trail_alpha: float = 0.9

    @classmethod
    def for_size(cls, height: int, width: int) -> "DrawStyle":
        """A style scaled to the frame: radius 0.5 % of the longest side, at least 3 px."""
        r = max(3, round(max(height, width) / 200))
        return cls(radius=r, outline=max(1, r // 2), linewidth=max(1, r // 2 + 1))


def _finite(xy: np.ndarray) -> np.ndarray:
    return np.isfinite(xy).all(axis=-1)


def draw_points(
    image: np.ndarray,
    xy: np.ndarray,
    visible: np.ndarray,
    colors: np.ndarray,
    style: DrawStyle = DrawStyle(),
    active: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Draw points: filled discs where visible, hollow circles where occluded.

    Args:
        image: (H, W, 3) uint8 RGB (not modified).
        xy: (N, 2) float ``(x, y)`` pixels of ``image``.
        visible: (N,) bool.
        colors: (N, 3) uint8 RGB.
        style: sizes.
        active: optional (N,) bool; inactive points (e.g. before their query frame) are not drawn.

    Returns:
        (H, W, 3) uint8, a new array.
    """
    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(im)
    _draw_points(draw, xy, visible, colors, style, active)
    return np.asarray(im)


def _draw_points(draw, xy, visible, colors, style, active) -> None:
    xy = np.asarray(xy, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    keep = _finite(xy) if active is None else _finite(xy) & np.asarray(active, dtype=bool)
    r = style.radius
    # Occluded points first so that visible ones stay on top.
    for n in list(np.flatnonzero(keep & ~visible)) + list(np.flatnonzero(keep & visible)):
        x, y = xy[n]
        color = tuple(int(c) for c in colors[n])
        box = (x - r, y - r, x + r, y + r)
        if visible[n]:
            draw.ellipse(box, fill=color, outline=color)
        else:
            draw.ellipse(box, fill=None, outline=color, width=style.outline)


def draw_trails(
    image: np.ndarray,
    history: np.ndarray,
    colors: np.ndarray,
    style: DrawStyle = DrawStyle(),
    active: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Draw fading polylines through each point's recent positions.

    Args:
        image: (H, W, 3) uint8 RGB.
        history: (L, N, 2) float, positions from oldest to newest (the newest is the current frame).
        colors: (N, 3) uint8.
        style: sizes; the newest segment has opacity ``trail_alpha``, the oldest ~0.
        active: optional (L, N) bool, segments touching an inactive position are skipped.

    Returns:
        (H, W, 3) uint8, a new array.
    """
    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    _draw_trails(ImageDraw.Draw(layer), history, colors, style, active)
    return np.asarray(Image.alpha_composite(im, layer).convert("RGB"))


def _draw_trails(draw, history, colors, style, active) -> None:
    history = np.asarray(history, dtype=np.float64)
    L, N = history.shape[:2]
    if L < 2:
        return
    ok = _finite(history) if active is None else _finite(history) & np.asarray(active, dtype=bool)  # (L, N)
    for s in range(L - 1):  # segment s joins positions s and s + 1
        alpha = int(round(255 * style.trail_alpha * (s + 1) / (L - 1)))
        both = ok[s] & ok[s + 1]
        for n in np.flatnonzero(both):
            (x0, y0), (x1, y1) = history[s, n], history[s + 1, n]
            c = colors[n]
            draw.line([(x0, y0), (x1, y1)], fill=(int(c[0]), int(c[1]), int(c[2]), alpha), width=style.linewidth)


class TrackPainter:
    """Draws one clip's tracks frame by frame (for streaming overlays).

    Args:
        tracks: (T, N, 2) float ``(x, y)`` in pixels of the frames that will be drawn on.
        visibility: (T, N) bool.
        query_frames: (N,) int, each point's query frame (clip index); it is drawn from there on, or on
            every frame when ``draw_before_query`` (e.g. after backward tracking).
        colors: (N, 3) uint8; default :func:`~cotracker.viz.colors.query_colors` of the query ``y``.
        trail: number of past frames in each point's trail (0 = none).
        style: sizes; default :meth:`DrawStyle.for_size` of the first frame drawn.
        draw_before_query: also draw points before their query frame.
    """

    def __init__(
        self,
        tracks: np.ndarray,
        visibility: np.ndarray,
        query_frames: Optional[np.ndarray] = None,
        colors: Optional[np.ndarray] = None,
        trail: int = 0,
        style: Optional[DrawStyle] = None,
        draw_before_query: bool = False,
    ):
        self.tracks = np.asarray(tracks, dtype=np.float64)
        if self.tracks.ndim != 3 or self.tracks.shape[-1] != 2:
            raise ValueError(f"tracks must be (T, N, 2), got {self.tracks.shape}")
        T, N = self.tracks.shape[:2]
        self.visibility = np.asarray(visibility, dtype=bool)
        if self.visibility.shape != (T, N):
            raise ValueError(f"visibility must be (T, N) = {(T, N)}, got {self.visibility.shape}")
        if trail < 0:
            raise ValueError(f"trail must be >= 0 frames, got {trail}")
        self.query_frames = np.zeros(N, np.int64) if query_frames is None else np.asarray(query_frames).astype(np.int64)
        if colors is None:
            qf = np.clip(self.query_frames, 0, T - 1)
            colors = query_colors(self.tracks[qf, np.arange(N), 1]) if T else np.zeros((N, 3), np.uint8)
        self.colors = np.asarray(colors, dtype=np.uint8)
        self.trail = int(trail)
        self.style = style
        self.draw_before_query = draw_before_query

    @property
    def num_frames(self) -> int:
        return self.tracks.shape[0]

    def active(self, t: int) -> np.ndarray:
        """(N,) bool, which points are drawn at clip frame ``t``."""
        if self.draw_before_query:
            return np.ones(self.tracks.shape[1], bool)
        return self.query_frames <= t

    def draw(self, t: int, image: np.ndarray) -> np.ndarray:
        """Draw frame ``t``'s points (and trails) on ``image`` (H, W, 3) uint8; returns a new array."""
        if not 0 <= t < self.num_frames:
            raise ValueError(f"frame {t} is outside the tracks' 0..{self.num_frames - 1}")
        image = np.asarray(image, dtype=np.uint8)
        style = self.style or DrawStyle.for_size(*image.shape[:2])
        im = Image.fromarray(image)
        if self.trail > 0 and t > 0:
            t0 = max(0, t - self.trail)
            active = np.stack([self.active(s) for s in range(t0, t + 1)])  # (L, N)
            im = im.convert("RGBA")
            layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
            _draw_trails(ImageDraw.Draw(layer), self.tracks[t0 : t + 1], self.colors, style, active)
            im = Image.alpha_composite(im, layer).convert("RGB")
        _draw_points(ImageDraw.Draw(im), self.tracks[t], self.visibility[t], self.colors, style, self.active(t))
        return np.asarray(im)
