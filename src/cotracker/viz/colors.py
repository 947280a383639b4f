"""Colour maps for drawing tracks (no matplotlib needed).

* :func:`rainbow` — matplotlib's ``gist_rainbow`` colour map, re-expressed as its published
  piecewise-linear control points (red -> yellow -> green -> cyan -> blue -> magenta).
* :func:`query_colors` — the tracking overlay's convention: each point is coloured by the ``y`` of its
  query, normalised over the points' ``y`` range, so that neighbouring points get similar colours.
* :func:`person_colors` — a fixed palette of well separated colours for people / objects.
"""
from __future__ import annotations

import numpy as np

__all__ = ["GIST_RAINBOW", "rainbow", "query_colors", "PERSON_PALETTE", "person_colors"]

# (position, (r, g, b)) control points of gist_rainbow, linear in between.
GIST_RAINBOW: tuple[tuple[float, tuple[float, float, float]], ...] = (
    (0.000, (1.00, 0.00, 0.16)),
    (0.030, (1.00, 0.00, 0.00)),
    (0.215, (1.00, 1.00, 0.00)),
    (0.400, (0.00, 1.00, 0.00)),
    (0.586, (0.00, 1.00, 1.00)),
    (0.770, (0.00, 0.00, 1.00)),
    (0.954, (1.00, 0.00, 1.00)),
    (1.000, (1.00, 0.00, 0.75)),
)

# Twelve distinct, saturated colours (RGB), for people / object ids.
PERSON_PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
        (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40),
    ],
    dtype=np.uint8,
)


def rainbow(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (clipped) to gist_rainbow colours.

    Args:
        values: (N,) float.

    Returns:
        (N, 3) uint8 RGB.
    """
    values = np.clip(np.asarray(values, dtype=np.float64).reshape(-1), 0.0, 1.0)
    pos = np.array([p for p, _ in GIST_RAINBOW])
    rgb = np.array([c for _, c in GIST_RAINBOW])  # (8, 3)
    out = np.stack([np.interp(values, pos, rgb[:, c]) for c in range(3)], axis=-1)  # (N, 3)
    return np.rint(out * 255).astype(np.uint8)


def query_colors(query_y: np.ndarray) -> np.ndarray:
    """Colour each point by its query ``y`` normalised over the points' range (all red for a single row).

    Args:
        query_y: (N,) float, the ``y`` pixel of each point at its query frame.

    Returns:
        (N, 3) uint8 RGB.
    """
    y = np.asarray(query_y, dtype=np.float64).reshape(-1)
    if y.size == 0:
        return np.zeros((0, 3), np.uint8)
    lo, hi = float(y.min()), float(y.max())
    return rainbow((y - lo) / (hi - lo) if hi > lo else np.zeros_like(y))


def person_colors(ids) -> np.ndarray:
    """Palette colour of each integer id (cycles after 12).

    Args:
        ids: (P,) int, or an int P meaning ids 0..P-1.

    Returns:
        (P, 3) uint8 RGB.
    """
    ids = np.arange(ids) if np.isscalar(ids) else np.asarray(ids, dtype=np.int64).reshape(-1)
    return PERSON_PALETTE[np.mod(ids, len(PERSON_PALETTE))]
