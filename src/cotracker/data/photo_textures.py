"""Photographic textures for the synthetic generators: random crops of frames of real videos or photos.

The procedural textures of :mod:`cotracker.data.textures` are noise, stripes and checkers; real footage has fur,
sand, foliage, sky and printed patterns, and a tracker trained on procedural surfaces alone meets them first at test
time. A :class:`PhotoBank` reads a handful of frames from every video (and every photo) in a folder once per
process; :func:`photo_texture` cuts a random crop out of one of them at a random scale, flips it and shifts its
colours, and adds faint fine detail so that flat regions (sky, walls) still carry something to track.

The bank is training data: keep the clips you evaluate on out of it (``exclude``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cotracker.data.base import require_cv2
from cotracker.data.textures import _fine_detail
from cotracker.io.video import VIDEO_SUFFIXES, iter_frames, probe_video

__all__ = ["IMAGE_SUFFIXES", "PhotoBank", "load_photo_bank", "photo_texture"]

#: PNG is left out on purpose: next to videos it is usually a mask or an annotation, not a photo
IMAGE_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True)
class PhotoBank:
    """Frames to cut textures from: ``frames[i]`` is (h, w, 3) uint8 RGB; ``sources[i]`` names its file."""

    frames: tuple[np.ndarray, ...]
    sources: tuple[str, ...]


def _resize_short_side(frame: np.ndarray, short_side: int) -> np.ndarray:
    cv2 = require_cv2()
    h, w = frame.shape[:2]
    s = short_side / min(h, w)
    if s >= 1.0:
        return frame
    return cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _even_picks(count: int, per_video: int) -> np.ndarray:
    """Indices of up to ``per_video`` of ``count`` items, evenly spread from the first to the last."""
    return np.unique(np.linspace(0, count - 1, min(per_video, count)).round().astype(int))


def _video_frames(path: Path, per_video: int, short_side: int) -> list[np.ndarray]:
    """Up to ``per_video`` frames spread evenly over the video, RGB uint8, short side at most ``short_side``.

    Decoded as a stream by :mod:`cotracker.io.video` (its errors name the file), twice: once to count the frames
    (container headers can be off by a few, which would shift every pick) and once keeping only the picked ones,
    so that a long video is never held in memory."""
    info = probe_video(path)
    count = sum(1 for _ in iter_frames(path, info=info))
    wanted = set(_even_picks(count, per_video).tolist())
    return [_resize_short_side(f.image, short_side) for f in iter_frames(path, info=info) if f.index in wanted]


_CACHE: dict = {}


def load_photo_bank(
    folder: str | Path, exclude: Sequence[str] = (), per_video: int = 12, short_side: int = 480
) -> PhotoBank:
    """Read the textures of ``folder`` (cached per process: every DataLoader worker reads them once).

    Args:
        folder: a directory of videos (:data:`cotracker.io.video.VIDEO_SUFFIXES`) and photos
            (:data:`IMAGE_SUFFIXES`).
        exclude: file stems to leave out (e.g. the clips a benchmark scores: ``["bear"]``).
        per_video: frames taken from each video, evenly spread.
        short_side: frames larger than this are downscaled to it (memory: 12 frames of 480x854 are 15 MB).

    Raises:
        FileNotFoundError: the folder is missing.
        ValueError: it has no usable video or photo after the exclusions.
    """
    key = (str(Path(folder).resolve()), tuple(sorted(exclude)), per_video, short_side)
    if key in _CACHE:
        return _CACHE[key]
    cv2 = require_cv2()
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"photo texture folder {root} does not exist; give a directory of videos ({', '.join(VIDEO_SUFFIXES)}) "
            f"or photos ({', '.join(IMAGE_SUFFIXES)}), or set photo_prob to 0"
        )
    frames, sources = [], []
    for path in sorted(root.iterdir()):
        suffix = path.suffix.lower()
        if path.stem in exclude or suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            continue
        if suffix in VIDEO_SUFFIXES:
            got = _video_frames(path, per_video, short_side)
        else:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"cannot read the photo {path}")
            got = [_resize_short_side(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), short_side)]
        frames.extend(got)
        sources.extend([path.name] * len(got))
    if not frames:
        raise ValueError(
            f"no videos ({', '.join(VIDEO_SUFFIXES)}) or photos ({', '.join(IMAGE_SUFFIXES)}) in {root} "
            f"after excluding {list(exclude)}"
        )
    bank = PhotoBank(frames=tuple(frames), sources=tuple(sources))
    _CACHE[key] = bank
    return bank


def photo_texture(
    rng: np.random.Generator, bank: PhotoBank, h: int, w: int, detail: float = 0.1,
    scale_range: tuple[float, float] = (0.5, 1.5), colour_jitter: float = 0.15,
    source: Optional[int] = None,
) -> np.ndarray:
    """A random (h, w) crop of a frame of ``bank``: (h, w, 3) float32 RGB in 0..255.

    The crop covers ``(h, w) / s`` frame pixels for a log-uniform ``s`` in ``scale_range`` (upsampling the frame
    when it is smaller than that), is mirrored left-right half of the time, has its channels scaled by
    ``1 +- colour_jitter``, and gets fine-detail noise of strength ``detail`` on top.
    """
    cv2 = require_cv2()
    if h < 1 or w < 1:
        raise ValueError(f"texture size must be positive, got {(h, w)}")
    frame = bank.frames[int(rng.integers(len(bank.frames))) if source is None else source]
    s = float(np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]))))
    ch, cw = max(2, round(h / s)), max(2, round(w / s))
    fh, fw = frame.shape[:2]
    up = max(ch / fh, cw / fw, 1.0)
    if up > 1.0:
        frame = cv2.resize(frame, (int(np.ceil(fw * up)), int(np.ceil(fh * up))), interpolation=cv2.INTER_LINEAR)
        fh, fw = frame.shape[:2]
    y0, x0 = int(rng.integers(0, fh - ch + 1)), int(rng.integers(0, fw - cw + 1))
    crop = frame[y0:y0 + ch, x0:x0 + cw]
    tex = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR).astype(np.float32)
    if rng.random() < 0.5:
        tex = tex[:, ::-1]
    tex = tex * rng.uniform(1 - colour_jitter, 1 + colour_jitter, size=3).astype(np.float32)
    if detail > 0:
        tex = tex + _fine_detail(rng, h, w, detail)
    return np.ascontiguousarray(np.clip(tex, 0, 255), dtype=np.float32)
