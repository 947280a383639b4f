"""Helpers shared by every dataset module: file I/O with clear errors, atomic writes, resizing,
point sampling and the conversion of numpy arrays into a :class:`~cotracker.types.CoTrackerData`.

Array conventions inside :mod:`cotracker.data` (numpy, before the final conversion to torch):

* frames: (T, H, W, 3) uint8 or float32 RGB 0..255,
* tracks: (T, N, 2) float32 ``(x, y)`` align-corners pixels of the frames,
* visible: (T, N) bool, True where the point is visible.

The on-disk formats store tracks point-major (``(N, T, 2)``); the readers transpose them.
"""
from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from cotracker.geometry import rescale_points
from cotracker.types import CoTrackerData

__all__ = [
    "require_cv2",
    "require_dir",
    "require_file",
    "read_rgb",
    "write_image",
    "atomic_write",
    "save_pickle",
    "load_pickle",
    "resize_frames",
    "resize_align_corners",
    "rescale_tracks",
    "first_visible_queries",
    "sample_track_indices",
    "to_sample",
    "check_tracks",
    "fix_num_tracks",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def require_cv2():
    """Import OpenCV lazily (an optional extra) with an error that says how to install it."""
    try:
        import cv2  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - cv2 is installed in the dev environment
        raise ImportError(
            "this part of cotracker.data needs OpenCV; install it with `pip install opencv-python-headless` "
            "or the `eval` extra (`pip install cotracker[eval]`)"
        ) from exc
    return cv2


def require_dir(path, what: str) -> Path:
    """Return ``path`` as a Path if it is a folder, else raise FileNotFoundError naming ``what`` it should hold."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {p} (expected a directory)")
    return p


def require_file(path, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p


def read_rgb(path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB. Errors name the file."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    p = require_file(path, "image file")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot decode image {p}: {exc}; expected a PNG/JPEG frame") from None


def decode_image_bytes(data: bytes, where: str) -> np.ndarray:
    """Decode encoded image bytes (JPEG/PNG) into (H, W, 3) uint8; ``where`` names the source in errors."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot decode an encoded frame in {where}: {exc}") from None


def atomic_write(path, write: Callable[[object], None], binary: bool = True) -> Path:
    """Write a file atomically: ``write(fileobj)`` fills a temp file in the same folder, then it replaces ``path``
    (see :func:`cotracker.io.atomic.atomic_path`)."""
    from cotracker.io.atomic import atomic_path  # noqa: PLC0415

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb" if binary else "w") as f:
        write(f)
    return path


def write_image(path, image: np.ndarray, quality: int = 95) -> Path:
    """Write an (H, W, 3) uint8 RGB image atomically; the format follows the suffix (.png, .jpg)."""
    from PIL import Image  # noqa: PLC0415

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"write_image expects an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported image suffix for {path}; use .png or .jpg")
    try:  # OpenCV encodes PNG several times faster than PIL
        import cv2  # noqa: PLC0415
    except ImportError:
        cv2 = None
    if cv2 is not None:
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "JPEG" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, buf = cv2.imencode(".jpg" if fmt == "JPEG" else ".png", np.ascontiguousarray(image[..., ::-1]), params)
        if not ok:
            raise ValueError(f"OpenCV could not encode {path}")
        return atomic_write(path, lambda f: f.write(buf.tobytes()))
    kwargs = {"quality": quality} if fmt == "JPEG" else {"compress_level": 1}
    return atomic_write(path, lambda f: Image.fromarray(image).save(f, format=fmt, **kwargs))


def save_pickle(path, obj) -> Path:
    return atomic_write(path, lambda f: pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL))


def load_pickle(path, what: str):
    """Unpickle ``path``; corrupt files raise ValueError naming the file and ``what`` was expected."""
    p = require_file(path, what)
    try:
        with open(p, "rb") as f:
            return pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError, IndexError) as exc:
        raise ValueError(f"cannot read {what} {p}: {exc!r}; expected a pickle file") from None


def resize_frames(frames: np.ndarray, hw: Sequence[int], method: str = "linear") -> np.ndarray:
    """Resize (T, H, W, 3) frames to ``hw = (h, w)``.

    Args:
        frames: (T, H, W, 3) uint8 or float32.
        hw: target (h, w).
        method: "linear" (OpenCV INTER_LINEAR, or PIL bilinear without OpenCV) or "lanczos" (PIL, per frame,
            as TAP-Vid's mediapy resize).

    Returns:
        (T, h, w, 3) of the input dtype.
    """
    h, w = int(hw[0]), int(hw[1])
    if frames.shape[1:3] == (h, w):
        return frames
    if method not in ("linear", "lanczos"):
        raise ValueError(f"resize method must be 'linear' or 'lanczos', got {method!r}")
    if method == "lanczos":
        from PIL import Image  # noqa: PLC0415

        out = [np.asarray(Image.fromarray(np.asarray(f, np.uint8)).resize((w, h), Image.LANCZOS)) for f in frames]
        return np.stack(out).astype(frames.dtype)
    return np.stack([resize_align_corners(f, (h, w)) for f in frames])


def resize_align_corners(image: np.ndarray, hw: Sequence[int]) -> np.ndarray:
    """Resize one (H, W, C) image so that pixel ``x`` maps to ``x * (w - 1) / (W - 1)`` exactly.

    This is the image counterpart of :func:`rescale_tracks` (OpenCV's ``resize`` uses a half-pixel
    convention instead). Bilinear; when shrinking by more than 2x the image is first area-averaged
    to about twice the target size to avoid aliasing.
    """
    cv2 = require_cv2()
    h, w = int(hw[0]), int(hw[1])
    H, W = image.shape[:2]
    if (H, W) == (h, w):
        return image
    if H > 4 * h or W > 4 * w:
        image = cv2.resize(image, (max(2 * w, 2), max(2 * h, 2)), interpolation=cv2.INTER_AREA)
        H, W = image.shape[:2]
    sx, sy = (w - 1) / max(W - 1, 1), (h - 1) / max(H - 1, 1)
    m = np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def rescale_tracks(tracks: np.ndarray, from_hw: Sequence[int], to_hw: Sequence[int]) -> np.ndarray:
    """Rescale (..., 2) numpy ``(x, y)`` points between image sizes (align-corners, via geometry)."""
    return rescale_points(torch.from_numpy(np.asarray(tracks, np.float32)), from_hw, to_hw).numpy()


def first_visible_queries(tracks: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Queries at each track's first visible frame.

    Args:
        tracks: (T, N, 2) float pixels.
        visible: (T, N) bool.

    Returns:
        queries (N, 3) float32 ``(t, x, y)`` (frame 0 for never-visible tracks) and
        ever_visible (N,) bool.
    """
    ever = visible.any(axis=0)
    t0 = np.argmax(visible, axis=0)  # first True, 0 if none
    xy = tracks[t0, np.arange(tracks.shape[1])]
    q = np.concatenate([t0[:, None].astype(np.float32), xy.astype(np.float32)], axis=1)
    return q, ever


def sample_track_indices(
    visible: np.ndarray,
    num: int,
    rng: np.random.Generator,
    frames: Sequence[int] = (0,),
) -> Optional[np.ndarray]:
    """Pick ``num`` track indices among points visible at any of ``frames``.

    Candidates are the union of points visible at the listed frames (each point once). A random
    permutation takes ``num`` of them; when there are fewer candidates, they are drawn with
    replacement so the sample keeps its size. Returns None when there is no candidate.
    """
    cand = np.flatnonzero(visible[list(frames)].any(axis=0))
    if cand.size == 0:
        return None
    if cand.size >= num:
        return rng.permutation(cand)[:num]
    log.debug("only %d candidate tracks for %d requested; sampling with replacement", cand.size, num)
    return np.concatenate([rng.permutation(cand), rng.choice(cand, num - cand.size)])


def check_tracks(tracks: np.ndarray, visible: np.ndarray, where: str, num_frames: Optional[int] = None) -> None:
    """Validate (T, N, 2) tracks and (T, N) visibility read from ``where``."""
    if tracks.ndim != 3 or tracks.shape[2] != 2:
        raise ValueError(f"{where}: expected tracks of shape (T, N, 2), got {tracks.shape}")
    if visible.shape != tracks.shape[:2]:
        raise ValueError(f"{where}: visibility shape {visible.shape} does not match tracks {tracks.shape[:2]} (T, N)")
    if num_frames is not None and tracks.shape[0] != num_frames:
        raise ValueError(f"{where}: tracks cover {tracks.shape[0]} frames but the video has {num_frames}")


def to_sample(
    frames: np.ndarray,
    tracks: np.ndarray,
    visible: np.ndarray,
    valid: Optional[np.ndarray] = None,
    seq_name: str = "",
    query_points: Optional[np.ndarray] = None,
    keypoint_ids: Optional[np.ndarray] = None,
    person_ids: Optional[np.ndarray] = None,
    extra: Optional[dict] = None,
) -> CoTrackerData:
    """Pack numpy arrays (see module docstring) into a CoTrackerData with torch tensors."""
    video = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).permute(0, 3, 1, 2)  # (T, 3, H, W)
    if valid is None:
        valid = np.ones(visible.shape, dtype=bool)
    return CoTrackerData(
        video=video.contiguous(),
        trajectory=torch.from_numpy(np.ascontiguousarray(tracks, dtype=np.float32)),
        visibility=torch.from_numpy(np.ascontiguousarray(visible, dtype=bool)),
        valid=torch.from_numpy(np.ascontiguousarray(valid, dtype=bool)),
        seq_name=seq_name,
        query_points=None if query_points is None else torch.from_numpy(np.asarray(query_points, np.float32)),
        keypoint_ids=None if keypoint_ids is None else torch.from_numpy(np.asarray(keypoint_ids, np.int64)),
        person_ids=None if person_ids is None else torch.from_numpy(np.asarray(person_ids, np.int64)),
        extra=extra or {},
    )


def fix_num_tracks(n: int, tracks: np.ndarray, visible: np.ndarray, valid: np.ndarray, queries: np.ndarray,
                   keypoint_ids: np.ndarray, person_ids: np.ndarray):
    """Give a keypoint sample exactly ``n`` tracks so that samples batch together.

    Extra tracks are dropped from the end; missing ones are padding with ``valid`` and ``visible`` False,
    zero positions and queries, and ids -1.

    Args:
        n: the number of tracks wanted.
        tracks: (T, N, 2); visible, valid: (T, N) bool; queries: (N, 3); keypoint_ids, person_ids: (N,).

    Returns:
        The same six arrays with N = n.
    """
    N = tracks.shape[1]
    if N >= n:
        return tracks[:, :n], visible[:, :n], valid[:, :n], queries[:n], keypoint_ids[:n], person_ids[:n]
    k, T = n - N, tracks.shape[0]
    return (
        np.concatenate([tracks, np.zeros((T, k, 2), tracks.dtype)], axis=1),
        np.concatenate([visible, np.zeros((T, k), bool)], axis=1),
        np.concatenate([valid, np.zeros((T, k), bool)], axis=1),
        np.concatenate([queries, np.zeros((k, 3), queries.dtype)]),
        np.concatenate([keypoint_ids, np.full(k, -1, np.int64)]),
        np.concatenate([person_ids, np.full(k, -1, np.int64)]),
    )
