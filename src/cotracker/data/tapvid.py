"""TAP-Vid benchmark pickles (DAVIS, Kinetics, RGB-Stacking, RoboTAP): writer and loader.

Each video entry is a dict ``{"video": (T, H, W, 3) uint8 or a list of encoded JPEG/PNG frames,
"points": (N, T, 2) float (x, y) in [0, 1], "occluded": (N, T) bool}``. Files:

* ``davis``: ``data_root`` is one pickle of ``{video_name: entry}``;
* ``kinetics``: ``data_root`` is a folder of ``*_of_0010.pkl`` pickles, each a list of entries;
* ``stacking``: ``data_root`` is one pickle of a list of entries;
* ``robotap``: ``data_root`` is a folder of ``robotap_split*.pkl`` pickles, each a dict of entries.

Samples are at the 256x256 benchmark scale by default; points convert with
:func:`cotracker.geometry.tapvid_points_to_pixels` (``x * (W - 1)``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from cotracker.data.base import decode_image_bytes, load_pickle, resize_frames, save_pickle, to_sample
from cotracker.geometry import tapvid_points_to_pixels
from cotracker.types import CoTrackerData

__all__ = ["TapVidDataset", "write_tapvid_pickle", "make_tapvid_entry", "TAPVID_TYPES", "STRIDED_QUERY_STEP"]

log = logging.getLogger(__name__)

TAPVID_TYPES = ("davis", "kinetics", "stacking", "robotap")
STRIDED_QUERY_STEP = 5


def make_tapvid_entry(video: np.ndarray, points01: np.ndarray, occluded: np.ndarray, encode_jpeg: bool = False) -> dict:
    """Build one TAP-Vid entry, checking shapes.

    Args:
        video: (T, H, W, 3) uint8.
        points01: (N, T, 2) float (x, y) in [0, 1].
        occluded: (N, T) bool.
        encode_jpeg: store frames as a list of JPEG bytes (as the Kinetics release does).
    """
    video = np.asarray(video, np.uint8)
    points01 = np.asarray(points01, np.float32)
    occluded = np.asarray(occluded, bool)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"video must be (T, H, W, 3) uint8, got {video.shape}")
    if points01.ndim != 3 or points01.shape[1:] != (video.shape[0], 2):
        raise ValueError(f"points must be (N, T={video.shape[0]}, 2) in [0, 1], got {points01.shape}")
    if occluded.shape != points01.shape[:2]:
        raise ValueError(f"occluded must be (N, T) = {points01.shape[:2]}, got {occluded.shape}")
    frames = video
    if encode_jpeg:
        import io  # noqa: PLC0415

        from PIL import Image  # noqa: PLC0415

        frames = []
        for f in video:
            buf = io.BytesIO()
            Image.fromarray(f).save(buf, format="JPEG", quality=95)
            frames.append(buf.getvalue())
    return {"video": frames, "points": points01, "occluded": occluded}


def write_tapvid_pickle(path, data: Union[dict, list]) -> Path:
    """Write a TAP-Vid pickle atomically: a dict ``{name: entry}`` (DAVIS, RoboTAP) or a list of entries
    (Kinetics shards, RGB-Stacking). Entries come from :func:`make_tapvid_entry` (or have its keys)."""
    entries = data.values() if isinstance(data, dict) else data
    if not isinstance(data, (dict, list)):
        raise TypeError(f"TAP-Vid data must be a dict or a list of entries, got {type(data).__name__}")
    for e in entries:
        if not isinstance(e, dict) or not {"video", "points", "occluded"} <= set(e):
            raise ValueError("every TAP-Vid entry must be a dict with 'video', 'points' and 'occluded'")
    return save_pickle(path, data)


def _load_entries(data_root: Path, dataset_type: str) -> list[tuple[str, dict]]:
    if dataset_type not in TAPVID_TYPES:
        raise ValueError(f"dataset_type must be one of {TAPVID_TYPES}, got {dataset_type!r}")
    if dataset_type in ("davis", "stacking"):
        data = load_pickle(data_root, f"TAP-Vid {dataset_type} pickle")
        if dataset_type == "davis":
            if not isinstance(data, dict):
                raise ValueError(f"{data_root}: expected a dict {{video_name: entry}} for TAP-Vid DAVIS, got {type(data).__name__}")
            return [(str(k), v) for k, v in data.items()]
        if not isinstance(data, list):
            raise ValueError(f"{data_root}: expected a list of entries for TAP-Vid RGB-Stacking, got {type(data).__name__}")
        return [(f"stacking_{i:04d}", v) for i, v in enumerate(data)]
    if not data_root.is_dir():
        raise FileNotFoundError(f"TAP-Vid {dataset_type} folder not found: {data_root} (expected a directory of pickles)")
    pattern = "*_of_0010.pkl" if dataset_type == "kinetics" else "robotap_split*.pkl"
    files = sorted(data_root.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no TAP-Vid {dataset_type} pickles matching {pattern} in {data_root}")
    out = []
    for f in files:
        data = load_pickle(f, f"TAP-Vid {dataset_type} pickle")
        if dataset_type == "kinetics":
            if not isinstance(data, list):
                raise ValueError(f"{f}: expected a list of entries, got {type(data).__name__}")
            out += [(f"{f.stem}_{i:04d}", v) for i, v in enumerate(data)]
        else:
            if not isinstance(data, dict):
                raise ValueError(f"{f}: expected a dict of entries, got {type(data).__name__}")
            out += [(str(k), v) for k, v in data.items()]
    return out


class TapVidDataset(torch.utils.data.Dataset):
    """TAP-Vid evaluation clips with the benchmark's queries.

    Args:
        data_root: pickle file (davis, stacking) or folder of pickles (kinetics, robotap).
        dataset_type: "davis", "kinetics", "stacking" or "robotap".
        queried_first: True for "first" queries (each track visible somewhere, queried at its first
            visible frame); False for "strided" (every ``STRIDED_QUERY_STEP``-th frame, every track visible
            there becomes a query with the full track, so a track can appear several times).
        resize_to: (H, W) of the returned frames, default the 256x256 benchmark scale; None keeps the size.

    Returns (per item): CoTrackerData with video (T, 3, H, W), trajectory (T, N, 2) pixels of the
    returned frames, visibility, valid (all True), query_points (N, 3) ``(t, x, y)``.
    """

    def __init__(
        self,
        data_root,
        dataset_type: str = "davis",
        queried_first: bool = True,
        resize_to: Optional[Sequence[int]] = (256, 256),
    ):
        self.data_root = Path(data_root)
        self.dataset_type = dataset_type
        self.queried_first = queried_first
        self.resize_to = None if resize_to is None else (int(resize_to[0]), int(resize_to[1]))
        self.entries = _load_entries(self.data_root, dataset_type)
        if not self.entries:
            raise ValueError(f"{self.data_root}: the TAP-Vid {dataset_type} data holds no videos")
        self.video_names = [n for n, _ in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def _frames(self, name: str, entry: dict) -> np.ndarray:
        video = entry["video"]
        where = f"TAP-Vid video '{name}' of {self.data_root}"
        if isinstance(video, (list, tuple)) and video and isinstance(video[0], (bytes, bytearray)):
            video = np.stack([decode_image_bytes(b, where) for b in video])
        video = np.asarray(video)
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"{where}: 'video' must be (T, H, W, 3) uint8 or a list of JPEG bytes, got {video.shape}")
        return video

    def __getitem__(self, index: int) -> CoTrackerData:
        name, entry = self.entries[index]
        where = f"TAP-Vid video '{name}' of {self.data_root}"
        if not isinstance(entry, dict) or not {"video", "points", "occluded"} <= set(entry):
            raise ValueError(f"{where}: expected a dict with 'video', 'points' and 'occluded'")
        frames = self._frames(name, entry)
        T, H, W = frames.shape[:3]
        points = np.asarray(entry["points"], np.float32)
        occluded = np.asarray(entry["occluded"]).astype(bool)
        if points.ndim != 3 or points.shape[1:] != (T, 2):
            raise ValueError(f"{where}: 'points' must be (N, T={T}, 2) in [0, 1], got {points.shape}")
        if occluded.shape != points.shape[:2]:
            raise ValueError(f"{where}: 'occluded' must be (N, T) = {points.shape[:2]}, got {occluded.shape}")
        hw = self.resize_to or (H, W)
        if self.resize_to is not None:
            frames = resize_frames(frames, hw, method="lanczos")
        tracks = tapvid_points_to_pixels(torch.from_numpy(points), hw).numpy().transpose(1, 0, 2)  # (T, N, 2)
        visible = ~occluded.T  # (T, N)
        if self.queried_first:
            keep = visible.any(axis=0)
            tracks, visible = tracks[:, keep], visible[:, keep]
            t0 = np.argmax(visible, axis=0)
            q = np.concatenate([t0[:, None], tracks[t0, np.arange(tracks.shape[1])]], axis=1)
        else:
            sel, qs = [], []
            for t in range(0, T, STRIDED_QUERY_STEP):
                ids = np.flatnonzero(visible[t])
                sel.append(ids)
                qs.append(np.concatenate([np.full((ids.size, 1), t), tracks[t, ids]], axis=1))
            sel = np.concatenate(sel) if sel else np.zeros(0, np.int64)
            tracks, visible = tracks[:, sel], visible[:, sel]
            q = np.concatenate(qs) if qs else np.zeros((0, 3))
        return to_sample(frames, tracks, visible, seq_name=name, query_points=q.astype(np.float32))
