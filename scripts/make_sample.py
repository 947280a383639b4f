#!/usr/bin/env python
"""Regenerate the sample clip bundled with the package: ``src/cotracker/assets/sample.mp4``.

The clip is rendered procedurally (no external data): a slowly panning, smoothly textured background
and three textured shapes that move, rotate and occlude each other, 36 frames of 320x240 at 18 fps
(2 seconds), encoded with :class:`cotracker.io.video.VideoWriter` (libx264 when available). Rendering is
deterministic (a fixed seed); the encoded bytes may differ between FFmpeg builds.

Usage::

    python scripts/make_sample.py [--out PATH] [--frames 36] [--fps 18]
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "cotracker" / "assets" / "sample.mp4"


@dataclass(frozen=True)
class SampleConfig:
    """Size and timing of the sample clip."""

    height: int = 240
    width: int = 320
    frames: int = 36
    fps: float = 18.0
    pan_px_per_frame: float = 1.5  # camera pan of the background
    seed: int = 7


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) float in 0..1: random colours on a coarse grid, upsampled bicubically."""
    coarse = (rng.random((cells[0], cells[1], 3)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


def render_background(cfg: SampleConfig, rng: np.random.Generator) -> np.ndarray:
    """A background wider than the frame (for panning): smooth colour blobs plus fine speckle."""
    w = cfg.width + int(np.ceil(cfg.pan_px_per_frame * cfg.frames)) + 2
    base = 0.6 * smooth_noise(rng, cfg.height, w, (6, 10)) + 0.4 * smooth_noise(rng, cfg.height, w, (24, 40))
    speckle = rng.random((cfg.height, w, 1)).astype(np.float32)
    return np.clip(0.85 * base + 0.15 * speckle, 0, 1)


def shape_layer(cfg: SampleConfig, kind: str, center, angle: float, size: float, colors) -> tuple[np.ndarray, np.ndarray]:
    """Render one textured shape: returns (mask (H, W) bool, rgb (H, W, 3) float)."""
    yy, xx = np.mgrid[0 : cfg.height, 0 : cfg.width].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u = c * (xx - center[0]) + s * (yy - center[1])  # shape-local coordinates
    v = -s * (xx - center[0]) + c * (yy - center[1])
    if kind == "disc":
        mask = u**2 + v**2 <= size**2
        pattern = (np.floor(np.hypot(u, v) / 5) % 2) * 0.5 + (np.floor((np.arctan2(v, u) + np.pi) / (np.pi / 4)) % 2) * 0.5
    elif kind == "square":
        mask = (np.abs(u) <= size) & (np.abs(v) <= size)
        pattern = ((np.floor(u / 7) + np.floor(v / 7)) % 2).astype(np.float32)
    elif kind == "triangle":
        mask = (v <= size * 0.6) & (v >= -size) & (np.abs(u) <= (v + size) * 0.6)
        pattern = 0.5 + 0.5 * np.sin(u / 2.5) * np.cos(v / 3.5)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    a, b = np.asarray(colors[0], np.float32), np.asarray(colors[1], np.float32)
    rgb = a + (b - a) * pattern[..., None]
    return mask, rgb


def render(cfg: SampleConfig = SampleConfig()) -> np.ndarray:
    """Render the clip: (T, H, W, 3) uint8."""
    rng = np.random.default_rng(cfg.seed)
    background = render_background(cfg, rng)
    frames = []
    for t in range(cfg.frames):
        f = t / max(cfg.frames - 1, 1)  # 0..1 over the clip
        x0 = int(round(cfg.pan_px_per_frame * t))
        img = background[:, x0 : x0 + cfg.width].copy()
        shapes = [
            # (kind, centre (x, y), angle, half size, two texture colours); later shapes are in front
            ("square", (40 + 230 * f, 70 + 20 * np.sin(2 * np.pi * f)), 1.2 * np.pi * f, 26, ((0.9, 0.2, 0.1), (1.0, 0.9, 0.3))),
            ("triangle", (270 - 200 * f, 190 - 90 * f), -0.8 * np.pi * f, 30, ((0.1, 0.3, 0.9), (0.6, 0.95, 1.0))),
            ("disc", (160 + 60 * np.cos(2 * np.pi * f), 130 + 45 * np.sin(2 * np.pi * f)), 2 * np.pi * f, 28, ((0.1, 0.6, 0.2), (0.95, 0.95, 0.9))),
        ]
        for kind, center, angle, size, colors in shapes:
            mask, rgb = shape_layer(cfg, kind, center, angle, size, colors)
            img[mask] = rgb[mask]
        frames.append(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))
    return np.stack(frames)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output mp4 (default {DEFAULT_OUT})")
    parser.add_argument("--frames", type=int, default=SampleConfig.frames, help="number of frames")
    parser.add_argument("--fps", type=float, default=SampleConfig.fps, help="frames per second")
    args = parser.parse_args(argv)

    from cotracker.io.atomic import atomic_path
    from cotracker.io.video import write_video

    cfg = SampleConfig(frames=args.frames, fps=args.fps)
    frames = render(cfg)
    with atomic_path(args.out) as tmp:
        write_video(tmp, frames, cfg.fps)
    print(f"wrote {args.out}: {len(frames)} frames {cfg.width}x{cfg.height} @ {cfg.fps:g} fps, {args.out.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
