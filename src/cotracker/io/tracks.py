"""Track files: ``tracks.npz`` (everything, loads back exactly), ``tracks.csv`` and ``tracks.json``.

Coordinates are ``(x, y)`` pixels of the *original* input video (align-corners, see
:mod:`cotracker.geometry`), whatever size the overlay was drawn at. ``tracks`` are indexed by clip
frame ``0..T-1``; ``frame_indices`` maps each clip frame to its frame number in the source video
(they differ when a frame range or stride was used). Query ``t`` values are clip-frame indices.

``tracks.npz`` keys (no pickles, loads with ``allow_pickle=False``):

=================  ==================  ===========================================================
key                shape / dtype       meaning
=================  ==================  ===========================================================
tracks             (T, N, 2) float32   ``(x, y)`` per frame and point
visibility         (T, N) bool         True where the point is predicted visible
queries            (N, 3) float32      ``(t, x, y)``, t a clip-frame index
frame_size         (2,) int64          ``(H, W)`` of the source video
fps                () float64          frames per second of the clip (source fps / stride)
frame_indices      (T,) int64          source frame number of each clip frame
model_name         () str              checkpoint name or file the tracks came from
point_names        (N,) str            optional names of the query points ("" when unnamed)
video              () str              the source video path
format_version     () int64            1
=================  ==================  ===========================================================

``tracks.csv`` has one row per frame and point, columns ``frame, point, x, y, visible`` with
``frame`` the *source* frame number, ``point`` the point index and ``visible`` 0/1.
"""
from __future__ import annotations

import csv
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from cotracker.io.atomic import atomic_path, atomic_write

__all__ = ["TrackFile", "save_tracks_npz", "load_tracks", "save_tracks_csv", "load_tracks_csv", "save_tracks_json"]

PathLike = Union[str, os.PathLike]
FORMAT_VERSION = 1
CSV_COLUMNS = ("frame", "point", "x", "y", "visible")


@dataclass
class TrackFile:
    """The content of a track file (one video, batch dimension removed).

    Attributes:
        tracks: (T, N, 2) float32 ``(x, y)`` source-video pixels.
        visibility: (T, N) bool.
        queries: (N, 3) float32 ``(t, x, y)``, t a clip-frame index.
        frame_size: ``(H, W)`` of the source video.
        fps: frames per second of the clip.
        model_name: checkpoint name or file.
        frame_indices: (T,) int64 source frame numbers; defaults to ``0..T-1``.
        point_names: N names ("" for unnamed points); defaults to all "".
        video: source video path.
    """

    tracks: np.ndarray
    visibility: np.ndarray
    queries: np.ndarray
    frame_size: tuple[int, int]
    fps: float
    model_name: str = ""
    frame_indices: Optional[np.ndarray] = None
    point_names: Optional[list[str]] = None
    video: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.tracks = np.asarray(self.tracks, dtype=np.float32)
        self.visibility = np.asarray(self.visibility).astype(bool)
        self.queries = np.asarray(self.queries, dtype=np.float32)
        if self.tracks.ndim != 3 or self.tracks.shape[-1] != 2:
            raise ValueError(f"tracks must be (T, N, 2), got shape {self.tracks.shape}")
        T, N = self.tracks.shape[:2]
        if self.visibility.shape != (T, N):
            raise ValueError(f"visibility must be (T, N) = {(T, N)} to match tracks, got {self.visibility.shape}")
        if self.queries.shape != (N, 3):
            raise ValueError(f"queries must be (N, 3) = {(N, 3)} to match tracks, got {self.queries.shape}")
        self.frame_indices = np.arange(T, dtype=np.int64) if self.frame_indices is None else np.asarray(self.frame_indices, dtype=np.int64)
        if self.frame_indices.shape != (T,):
            raise ValueError(f"frame_indices must be (T,) = ({T},), got {self.frame_indices.shape}")
        self.point_names = [""] * N if self.point_names is None else [str(n) for n in self.point_names]
        if len(self.point_names) != N:
            raise ValueError(f"point_names must have N = {N} entries, got {len(self.point_names)}")
        self.frame_size = (int(self.frame_size[0]), int(self.frame_size[1]))
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return self.tracks.shape[0]

    @property
    def num_points(self) -> int:
        return self.tracks.shape[1]


def save_tracks_npz(path: PathLike, data: TrackFile) -> Path:
    """Write ``data`` to ``path`` (``.npz``, compressed) atomically; see the module docstring for the keys."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                tracks=data.tracks,
                visibility=data.visibility,
                queries=data.queries,
                frame_size=np.asarray(data.frame_size, dtype=np.int64),
                fps=np.float64(data.fps),
                frame_indices=data.frame_indices,
                model_name=np.str_(data.model_name),
                point_names=np.asarray(data.point_names, dtype=np.str_).reshape(-1),
                video=np.str_(data.video),
                format_version=np.int64(FORMAT_VERSION),
            )
    return path


def load_tracks(path: PathLike) -> TrackFile:
    """Read a ``tracks.npz`` written by :func:`save_tracks_npz` (or ``cotracker track``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a track file (missing keys or unreadable).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"track file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"cannot read track file {path}: not an .npz archive; expected a tracks.npz written by cotracker")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("tracks", "visibility", "queries", "frame_size", "fps") if k not in z.files]
            if missing:
                raise ValueError(f"{path} is not a cotracker track file: missing {', '.join(missing)}")
            version = int(z["format_version"]) if "format_version" in z.files else FORMAT_VERSION
            if version > FORMAT_VERSION:
                raise ValueError(f"{path} has track format version {version}; this cotracker reads up to {FORMAT_VERSION}")
            return TrackFile(
                tracks=z["tracks"],
                visibility=z["visibility"],
                queries=z["queries"],
                frame_size=tuple(int(v) for v in z["frame_size"]),
                fps=float(z["fps"]),
                model_name=str(z["model_name"]) if "model_name" in z.files else "",
                frame_indices=z["frame_indices"] if "frame_indices" in z.files else None,
                point_names=[str(n) for n in z["point_names"]] if "point_names" in z.files else None,
                video=str(z["video"]) if "video" in z.files else "",
            )
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read track file {path}: {exc}; expected a tracks.npz written by cotracker") from None


def save_tracks_csv(path: PathLike, data: TrackFile) -> Path:
    """Write one row per frame and point: ``frame, point, x, y, visible`` (frame = source frame number)."""
    path = Path(path)
    T, N = data.visibility.shape
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for t in range(T):
            frame = int(data.frame_indices[t])
            xs, ys, vis = data.tracks[t, :, 0], data.tracks[t, :, 1], data.visibility[t]
            writer.writerows((frame, n, f"{xs[n]:.3f}", f"{ys[n]:.3f}", int(vis[n])) for n in range(N))
    return path


def load_tracks_csv(path: PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``tracks.csv`` back.

    Returns:
        ``(frames (T,) int64 source frame numbers, tracks (T, N, 2) float32, visibility (T, N) bool)``.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
            raise ValueError(f"{path} is not a tracks CSV: expected the header {','.join(CSV_COLUMNS)}, got {header}")
        rows = np.asarray([[float(v) for v in row] for row in reader if row], dtype=np.float64).reshape(-1, 5)
    frames = np.unique(rows[:, 0]).astype(np.int64)
    points = np.unique(rows[:, 1]).astype(np.int64)
    T, N = len(frames), len(points)
    if len(rows) != T * N:
        raise ValueError(f"{path} has {len(rows)} rows; expected one per frame and point ({T} x {N})")
    fi = np.searchsorted(frames, rows[:, 0].astype(np.int64))
    pi = np.searchsorted(points, rows[:, 1].astype(np.int64))
    tracks = np.zeros((T, N, 2), np.float32)
    vis = np.zeros((T, N), bool)
    tracks[fi, pi] = rows[:, 2:4]
    vis[fi, pi] = rows[:, 4] > 0.5
    return frames, tracks, vis


def save_tracks_json(path: PathLike, data: TrackFile) -> Path:
    """Write a JSON file: metadata plus per point ``{"name", "query": [t, x, y], "xy": [[x, y], ...], "visible": [...]}``."""
    path = Path(path)
    doc = {
        "format_version": FORMAT_VERSION,
        "video": data.video,
        "model_name": data.model_name,
        "frame_size": list(data.frame_size),
        "fps": data.fps,
        "frame_indices": data.frame_indices.tolist(),
        "points": [
            {
                "name": data.point_names[n],
                "query": [round(float(v), 3) for v in data.queries[n]],
                "xy": np.round(data.tracks[:, n], 3).tolist(),
                "visible": data.visibility[:, n].astype(int).tolist(),
            }
            for n in range(data.num_points)
        ],
    }
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh)
    return path
