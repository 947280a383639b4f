"""Procedural textures for the synthetic generators: noise, stripes, checkers, gradients, and
clothing-like fabrics, always with fine detail on top so that every surface point is trackable.

All functions take an explicit ``np.random.Generator`` and return (h, w, 3) float32 RGB in 0..255.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from cotracker.data.base import require_cv2

__all__ = [
    "TEXTURE_KINDS",
    "value_noise",
    "fractal_noise",
    "random_texture",
    "clothing_texture",
    "skin_texture",
]

TEXTURE_KINDS = ("noise", "stripes", "checkers", "gradient", "blobs")


def value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1]: a random grid of one value per ``cell`` pixels, cubic-upsampled. (h, w) float32."""
    cv2 = require_cv2()
    gh, gw = max(2, int(np.ceil(h / cell)) + 2), max(2, int(np.ceil(w / cell)) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    oy, ox = rng.integers(0, max(1, big.shape[0] - h)), rng.integers(0, max(1, big.shape[1] - w))
    out = big[oy : oy + h, ox : ox + w]
    if out.shape != (h, w):  # tiny sizes
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def fractal_noise(rng: np.random.Generator, h: int, w: int, base_cell: float, octaves: int = 4) -> np.ndarray:
    """Sum of value-noise octaves (cell halves, amplitude halves each octave), normalised to [0, 1]. (h, w)."""
    out = np.zeros((h, w), np.float32)
    amp, total, cell = 1.0, 0.0, float(base_cell)
    for _ in range(octaves):
        out += amp * value_noise(rng, h, w, max(cell, 1.5))
        total += amp
        amp *= 0.5
        cell /= 2.0
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    """k random but distinct-enough RGB colours (k, 3) float32 0..255."""
    base = rng.uniform(0, 255, size=3)
    cols = [base]
    for _ in range(k - 1):
        c = rng.uniform(0, 255, size=3)
        if np.linalg.norm(c - cols[-1]) < 80:  # push it away from the previous colour
            c = 255 - c
        cols.append(c)
    return np.asarray(cols, np.float32)


def _coords(h: int, w: int):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def _lerp(c0: np.ndarray, c1: np.ndarray, t: np.ndarray) -> np.ndarray:
    return c0[None, None] + (c1 - c0)[None, None] * t[..., None]


def _fine_detail(rng: np.random.Generator, h: int, w: int, strength: float) -> np.ndarray:
    """Zero-mean high-frequency luminance (h, w, 1), about +-strength*128: makes every point distinctive."""
    d = 0.6 * value_noise(rng, h, w, rng.uniform(2.0, 4.0)) + 0.4 * value_noise(rng, h, w, rng.uniform(5.0, 9.0))
    return ((d - 0.5) * 2.0 * strength * 128.0)[..., None]


def random_texture(
    rng: np.random.Generator, h: int, w: int, kind: Optional[str] = None, detail: float = 0.35
) -> np.ndarray:
    """A random textured patch.

    Args:
        rng: the random generator.
        h, w: size in pixels.
        kind: one of :data:`TEXTURE_KINDS`, random when None.
        detail: strength of the fine-detail noise added on top (0 disables it).

    Returns:
        (h, w, 3) float32 RGB in 0..255.
    """
    kind = kind or TEXTURE_KINDS[rng.integers(len(TEXTURE_KINDS))]
    xs, ys = _coords(h, w)
    pal = _palette(rng, 3)
    scale = float(min(h, w))
    if kind == "noise":
        t = fractal_noise(rng, h, w, base_cell=scale * rng.uniform(0.1, 0.4), octaves=5)
        img = _lerp(pal[0], pal[1], t)
    elif kind == "stripes":
        ang = rng.uniform(0, np.pi)
        period = scale * rng.uniform(0.03, 0.2)
        u = xs * np.cos(ang) + ys * np.sin(ang)
        warp = fractal_noise(rng, h, w, scale * 0.3, 3) * period * rng.uniform(0, 1.5)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (u + warp) / period)
        img = _lerp(pal[0], pal[1], t)
    elif kind == "checkers":
        period = scale * rng.uniform(0.04, 0.25)
        ang = rng.uniform(0, np.pi / 2)
        u = xs * np.cos(ang) + ys * np.sin(ang)
        v = -xs * np.sin(ang) + ys * np.cos(ang)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
        img = _lerp(pal[0], pal[1], t)
    elif kind == "gradient":
        ang = rng.uniform(0, 2 * np.pi)
        u = xs * np.cos(ang) + ys * np.sin(ang)
        t = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
        img = _lerp(pal[0], pal[1], t)
        img = img + (fractal_noise(rng, h, w, scale * 0.15, 4)[..., None] - 0.5) * 90
    elif kind == "blobs":
        t = fractal_noise(rng, h, w, base_cell=scale * rng.uniform(0.08, 0.25), octaves=3)
        thr = rng.uniform(0.4, 0.6)
        img = np.where((t > thr)[..., None], pal[0][None, None], pal[1][None, None])
        spots = value_noise(rng, h, w, scale * rng.uniform(0.02, 0.06)) > 0.7
        img = np.where(spots[..., None], pal[2][None, None], img)
    else:
        raise ValueError(f"unknown texture kind {kind!r}; expected one of {TEXTURE_KINDS}")
    img = img.astype(np.float32) + _fine_detail(rng, h, w, detail)
    return np.clip(img, 0, 255).astype(np.float32)


def clothing_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fabric-like texture: plain, striped, plaid or printed cloth with a weave and folds. (h, w, 3) float32."""
    xs, ys = _coords(h, w)
    pal = _palette(rng, 3)
    style = rng.integers(4)
    if style == 0:  # plain dyed cloth
        img = np.broadcast_to(pal[0], (h, w, 3)).astype(np.float32)
    elif style == 1:  # stripes across the limb
        period = rng.uniform(4, 14)
        t = (np.sin(2 * np.pi * ys / period) > rng.uniform(-0.5, 0.5)).astype(np.float32)
        img = _lerp(pal[0], pal[1], t)
    elif style == 2:  # plaid
        p1, p2 = rng.uniform(6, 18, size=2)
        t1 = (np.sin(2 * np.pi * xs / p1) > 0.3).astype(np.float32)
        t2 = (np.sin(2 * np.pi * ys / p2) > 0.3).astype(np.float32)
        img = _lerp(pal[0], pal[1], 0.5 * t1 + 0.5 * t2) + 40 * (t1 * t2)[..., None]
    else:  # printed pattern
        t = fractal_noise(rng, h, w, rng.uniform(6, 20), 3)
        img = _lerp(pal[0], pal[2], (t > 0.55).astype(np.float32))
    weave = (np.sin(xs * rng.uniform(2.0, 3.0)) * np.sin(ys * rng.uniform(2.0, 3.0)))[..., None] * 10
    folds = (fractal_noise(rng, h, w, max(h, w) * 0.5, 2)[..., None] - 0.5) * 70
    img = img + weave + folds + _fine_detail(rng, h, w, 0.2)
    return np.clip(img, 0, 255).astype(np.float32)


def skin_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Skin-coloured patch with pores-scale detail and soft shading. (h, w, 3) float32."""
    tones = np.array([[236, 200, 170], [205, 150, 115], [160, 110, 80], [110, 72, 50], [75, 50, 35]], np.float32)
    base = tones[rng.integers(len(tones))] * rng.uniform(0.9, 1.1)
    shade = (fractal_noise(rng, h, w, max(h, w) * 0.4, 3)[..., None] - 0.5) * 50
    img = base[None, None] + shade + _fine_detail(rng, h, w, 0.15)
    return np.clip(img, 0, 255).astype(np.float32)
