"""Dynamic Replica annotations: writer and evaluation loader.

Layout::

    root/<split>/frame_annotations_<split>.jgz    gzipped JSON list of frame annotations:
        {"sequence_name", "frame_number", "frame_timestamp", "image": {"path", "size": [H, W]},
         "meta": {...}, "camera_name": "left" | "right", "trajectories": {"path"}}
    root/<split>/<paths>                          images, and per-frame trajectory files saved with
                                                  torch.save: {"traj_2d": (N, >=2) pixel x, y, ...,
                                                  "verts_inds_vis": (N,) bool, "img": (H, W, 3) optional}

Paths are relative to ``root/<split>`` (``root`` is tried too). Only the "left" camera is used. The
evaluation protocol takes the first ``sample_len`` frames of each sequence, ``traj_per_sample`` random
tracks visible in more than ``min_visible_frames`` frames, all queried at frame 0 at their ground-truth
position.
"""
from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from cotracker.data.base import atomic_write, read_rgb, require_dir, to_sample, write_image
from cotracker.io.torchfiles import safe_torch_load
from cotracker.types import CoTrackerData

__all__ = ["DynamicReplicaDataset", "write_dynamic_replica_sequence"]

log = logging.getLogger(__name__)


def _annotation_file(root: Path, split: str) -> Path:
    return root / split / f"frame_annotations_{split}.jgz"


def _read_annotations(path: Path) -> list:
    if not path.is_file():
        raise FileNotFoundError(f"Dynamic Replica annotation file not found: {path} (expected frame_annotations_<split>.jgz)")
    try:
        with gzip.open(path, "rt") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
        raise ValueError(f"cannot read Dynamic Replica annotations {path}: {exc}; expected a gzipped JSON list") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of frame annotations, got {type(data).__name__}")
    return data


def write_dynamic_replica_sequence(
    root,
    split: str,
    sequence_name: str,
    frames: np.ndarray,
    tracks: np.ndarray,
    visible: np.ndarray,
    store_image_in_traj: bool = False,
) -> Path:
    """Add one sequence (left camera) to a Dynamic Replica split, appending to its annotation file.

    Args:
        root: dataset root.
        split: e.g. "valid".
        sequence_name: the sequence name.
        frames: (T, H, W, 3) uint8.
        tracks: (T, N, 2) float pixels.
        visible: (T, N) bool.
        store_image_in_traj: also store the frame as ``img`` in each trajectory file (as released).

    Returns:
        The annotation file path.
    """
    frames = np.asarray(frames)
    tracks = np.asarray(tracks, np.float32)
    visible = np.asarray(visible, bool)
    T = frames.shape[0]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape}")
    if tracks.ndim != 3 or tracks.shape[0] != T or tracks.shape[2] != 2:
        raise ValueError(f"tracks must be (T={T}, N, 2), got {tracks.shape}")
    if visible.shape != tracks.shape[:2]:
        raise ValueError(f"visible must be (T, N) = {tracks.shape[:2]}, got {visible.shape}")
    split_dir = Path(root) / split
    ann_path = _annotation_file(Path(root), split)
    annotations = _read_annotations(ann_path) if ann_path.is_file() else []
    annotations = [a for a in annotations if a.get("sequence_name") != sequence_name]
    H, W = frames.shape[1:3]
    for t in range(T):
        img_rel = f"{sequence_name}/images/{sequence_name}-left_{t:04d}.png"
        traj_rel = f"{sequence_name}/trajectories/{sequence_name}-left_{t:06d}.pth"
        write_image(split_dir / img_rel, frames[t])
        # traj_2d carries (x, y, depth-like, 1) columns like the release; only the first two are used.
        traj = np.concatenate([tracks[t], np.ones((tracks.shape[1], 2), np.float32)], axis=1)
        payload = {"traj_2d": torch.from_numpy(traj), "verts_inds_vis": torch.from_numpy(visible[t].copy())}
        if store_image_in_traj:
            payload["img"] = torch.from_numpy(frames[t].copy())
        atomic_write(split_dir / traj_rel, lambda f, p=payload: torch.save(p, f))
        annotations.append({
            "sequence_name": sequence_name, "frame_number": t, "frame_timestamp": float(t) / 30.0,
            "image": {"path": img_rel, "size": [H, W]}, "meta": {}, "camera_name": "left",
            "trajectories": {"path": traj_rel},
        })
    payload = json.dumps(annotations).encode()
    atomic_write(ann_path, lambda f: f.write(gzip.compress(payload)))
    return ann_path


class DynamicReplicaDataset(torch.utils.data.Dataset):
    """Dynamic Replica evaluation clips (left camera).

    Args:
        root: dataset root holding ``<split>/frame_annotations_<split>.jgz``.
        split: "valid" for the benchmark.
        sample_len: frames per clip (-1 for the whole sequence).
        only_first_n_samples: clips taken per sequence (the benchmark uses 1: the first chunk).
        traj_per_sample: random tracks kept per clip (None keeps all qualifying tracks).
        min_visible_frames: a track is kept only if visible in more than this many frames.
        seed: base seed (clip ``i`` uses ``seed + i``).

    Returns (per item): CoTrackerData with query_points ``(0, x, y)`` at the GT position in frame 0.
    """

    def __init__(
        self,
        root,
        split: str = "valid",
        sample_len: int = 300,
        only_first_n_samples: int = 1,
        traj_per_sample: Optional[int] = 256,
        min_visible_frames: int = 10,
        seed: int = 0,
    ):
        self.root = require_dir(root, "Dynamic Replica root")
        self.split = split
        self.sample_len = sample_len
        self.traj_per_sample = traj_per_sample
        self.min_visible_frames = min_visible_frames
        self.seed = seed
        annotations = _read_annotations(_annotation_file(self.root, split))
        per_seq = defaultdict(list)
        for i, a in enumerate(annotations):
            try:
                if a["camera_name"] == "left":
                    per_seq[a["sequence_name"]].append(a)
            except (KeyError, TypeError):
                raise ValueError(
                    f"{_annotation_file(self.root, split)}: entry {i} lacks 'sequence_name'/'camera_name'"
                ) from None
        self.clips = []
        for name in sorted(per_seq):
            frames = sorted(per_seq[name], key=lambda a: a["frame_number"])
            length = len(frames) if sample_len < 0 else sample_len
            starts = range(0, max(len(frames) - length, 0) + 1, max(length, 1))
            for k, s in enumerate(starts):
                if k >= only_first_n_samples:
                    break
                self.clips.append((name, frames[s : s + length]))
        if not self.clips:
            raise ValueError(f"{self.root}/{split}: no left-camera sequences in the annotations")

    def __len__(self) -> int:
        return len(self.clips)

    def _resolve(self, rel: str) -> Path:
        for base in (self.root / self.split, self.root):
            p = base / rel
            if p.exists():
                return p
        raise FileNotFoundError(f"Dynamic Replica file not found: {rel} (looked in {self.root / self.split} and {self.root})")

    def __getitem__(self, index: int) -> CoTrackerData:
        name, frames_ann = self.clips[index]
        imgs, tracks, vis = [], [], []
        for a in frames_ann:
            tpath = self._resolve(a["trajectories"]["path"])
            try:
                traj = safe_torch_load(tpath)
            except Exception as exc:  # torch raises several types for corrupt files
                raise ValueError(f"cannot read Dynamic Replica trajectory file {tpath}: {exc}") from None
            if not isinstance(traj, dict) or "traj_2d" not in traj or "verts_inds_vis" not in traj:
                raise ValueError(f"{tpath}: expected a dict with 'traj_2d' (N, >=2) and 'verts_inds_vis' (N,)")
            t2d = np.asarray(traj["traj_2d"], np.float32)
            v = np.asarray(traj["verts_inds_vis"]).astype(bool)
            if t2d.ndim != 2 or t2d.shape[1] < 2 or v.shape != (t2d.shape[0],):
                raise ValueError(f"{tpath}: 'traj_2d' must be (N, >=2) and 'verts_inds_vis' (N,), got {t2d.shape}, {v.shape}")
            tracks.append(t2d[:, :2])
            vis.append(v)
            try:
                img = read_rgb(self._resolve(a["image"]["path"]))
            except FileNotFoundError:
                if "img" not in traj:
                    raise
                img = np.asarray(traj["img"], np.uint8)
            imgs.append(img)
        if len({t.shape[0] for t in tracks}) != 1:
            raise ValueError(f"Dynamic Replica sequence '{name}': the number of tracks changes between frames")
        frames = np.stack(imgs)
        tracks = np.stack(tracks)  # (T, N, 2)
        visible = np.stack(vis)  # (T, N)
        keep = np.flatnonzero(visible.sum(axis=0) > self.min_visible_frames)
        rng = np.random.default_rng(self.seed + index)
        if self.traj_per_sample is not None and keep.size > self.traj_per_sample:
            keep = np.sort(rng.choice(keep, self.traj_per_sample, replace=False))
        tracks, visible = tracks[:, keep], visible[:, keep]
        q = np.concatenate([np.zeros((keep.size, 1), np.float32), tracks[0]], axis=1)
        return to_sample(frames, tracks, visible, seq_name=name, query_points=q)

