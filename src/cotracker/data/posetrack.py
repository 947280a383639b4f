"""PoseTrack18/21 keypoint tracks: the JSON layout, its writer, and the loader.

Layout (as released)::

    main_folder/images/<split>/<video>/000000.jpg ...
    json_folder/<video>.json     {"images": [{"file_name": "images/<split>/<video>/000000.jpg", "id",
                                              "frame_id", "vid_id", "nframes", "is_labeled", ...}],
                                  "annotations": [{"image_id", "track_id", "keypoints": [x, y, v] * 17,
                                                   "bbox", "bbox_head", "category_id": 1, "id", ...}],
                                  "categories": [{"name": "person", "keypoints": [...], "skeleton": [...]}]}

Keypoints are in PoseTrack order (:data:`cotracker.pose.keypoints.POSETRACK_KEYPOINTS`); ``v > 0`` means
visible. A keypoint stored as ``[0, 0, 0]`` is unannotated (``valid`` False); one with coordinates and
``v = 0`` is occluded at a known place (the synthetic generator writes those).

The optional start-frames file is a JSON object ``{"<sample index>": [<video json name>, <start frame>]}``
(``{"video": ..., "start": ...}`` objects are accepted too): one sample per entry.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from cotracker.data.base import (
    atomic_write,
    first_visible_queries,
    fix_num_tracks,
    read_rgb,
    require_dir,
    rescale_tracks,
    resize_frames,
    to_sample,
    write_image,
)
from cotracker.pose.keypoints import NUM_KEYPOINTS, POSETRACK_KEYPOINTS, SKELETON
from cotracker.types import CoTrackerData

__all__ = ["PoseTrackDataset", "write_posetrack_video", "write_posetrack_start_frames", "read_posetrack_json"]

log = logging.getLogger(__name__)


def _image_id(video_index: int, frame: int) -> int:
    # PoseTrack18 style: 1 + 6-digit video number + 4-digit frame number.
    return int(f"1{video_index:06d}{frame:04d}")


def write_posetrack_video(
    main_folder,
    json_folder,
    video_name: str,
    frames: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    present: Optional[np.ndarray] = None,
    track_ids: Optional[Sequence[int]] = None,
    split: str = "train",
    video_index: int = 0,
    image_format: str = "jpg",
) -> Path:
    """Write one video in the PoseTrack18 layout (frames and the per-video JSON).

    Args:
        main_folder: dataset root; frames go to ``images/<split>/<video_name>/``.
        json_folder: folder of the per-video JSON files.
        video_name: the video's name (folder and JSON stem).
        frames: (T, H, W, 3) uint8.
        keypoints: (T, P, 17, 2) float (x, y) pixels, PoseTrack order.
        visible: (T, P, 17) bool.
        present: (T, P) bool, whether person p is annotated in frame t (default all).
        track_ids: (P,) ints (default 0..P-1).
        split: split name used in the image paths.
        video_index: number used to build PoseTrack-style image ids.
        image_format: "jpg" (as released) or "png".

    Returns:
        The JSON path.
    """
    frames = np.asarray(frames)
    keypoints = np.asarray(keypoints, np.float64)
    visible = np.asarray(visible, bool)
    T = frames.shape[0]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape}")
    if keypoints.ndim != 4 or keypoints.shape[0] != T or keypoints.shape[2:] != (NUM_KEYPOINTS, 2):
        raise ValueError(f"keypoints must be (T={T}, P, 17, 2), got {keypoints.shape}")
    P = keypoints.shape[1]
    if visible.shape != keypoints.shape[:3]:
        raise ValueError(f"visible must be (T, P, 17) = {keypoints.shape[:3]}, got {visible.shape}")
    present = np.ones((T, P), bool) if present is None else np.asarray(present, bool)
    track_ids = list(range(P)) if track_ids is None else [int(i) for i in track_ids]
    images, annotations = [], []
    for t in range(T):
        rel = f"images/{split}/{video_name}/{t:06d}.{image_format}"
        write_image(Path(main_folder) / rel, frames[t])
        iid = _image_id(video_index, t)
        images.append({
            "file_name": rel, "id": iid, "frame_id": iid, "vid_id": f"{video_index:06d}", "nframes": T,
            "is_labeled": True, "has_labeled_person": bool(present[t].any()),
            "ignore_regions_x": [], "ignore_regions_y": [],
        })
        for p in range(P):
            if not present[t, p]:
                continue
            kp = keypoints[t, p]
            flat = np.concatenate([kp, visible[t, p, :, None].astype(np.float64)], axis=1).reshape(-1)
            x0, y0 = kp.min(axis=0)
            x1, y1 = kp.max(axis=0)
            head = kp[[0, 1, 2, 3, 4]]
            hx0, hy0 = head.min(axis=0)
            hx1, hy1 = head.max(axis=0)
            annotations.append({
                "image_id": iid, "track_id": track_ids[p], "person_id": track_ids[p], "category_id": 1,
                "id": iid * 100 + p, "keypoints": [round(float(v), 3) for v in flat],
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "bbox_head": [float(hx0), float(hy0), float(hx1 - hx0), float(hy1 - hy0)],
            })
    doc = {
        "images": images,
        "annotations": annotations,
        "categories": [{
            "supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS),
            "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
        }],
    }
    path = Path(json_folder) / f"{video_name}.json"
    atomic_write(path, lambda f: json.dump(doc, f), binary=False)
    return path


def write_posetrack_start_frames(path, entries: Sequence[tuple[str, int]]) -> Path:
    """Write a start-frames file ``{"0": [json_name, start], ...}`` for :class:`PoseTrackDataset`."""
    doc = {str(i): [str(name), int(start)] for i, (name, start) in enumerate(entries)}
    return atomic_write(path, lambda f: json.dump(doc, f, indent=1), binary=False)


def read_posetrack_json(path) -> dict:
    """Read and check one PoseTrack JSON. Returns ``{"images": [...sorted by frame...], "annotations": [...]}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PoseTrack annotation file not found: {path}")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot parse PoseTrack JSON {path}: {exc}") from None
    if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
        raise ValueError(f"{path}: expected a PoseTrack JSON object with 'images' and 'annotations' lists")
    for a in doc["annotations"]:
        kp = a.get("keypoints")
        if kp is not None and len(kp) != 3 * NUM_KEYPOINTS:
            raise ValueError(
                f"{path}: annotation {a.get('id')} has {len(kp)} keypoint values; expected 51 (17 x [x, y, v])"
            )
    images = sorted(doc["images"], key=lambda im: (im.get("frame_id", im["id"]), im["file_name"]))
    return {"images": images, "annotations": doc["annotations"]}


class PoseTrackDataset(torch.utils.data.Dataset):
    """PoseTrack18/21 clips with every person's 17 keypoints as tracks.

    Args:
        main_folder: dataset root (``file_name`` paths are relative to it).
        json_folder: folder of per-video JSON files. None looks, in order, for
            ``posetrack_data/annotations/val``, ``posetrack_data/annotations/train``, ``annotations/val``,
            ``annotations/train`` under ``main_folder``, then ``main_folder`` itself (the first holding *.json).
        start_frames_json: optional start-frames file (see module docstring); without it, one clip per
            video starting at its first labeled frame.
        max_frames: frames per clip (fewer when the video ends earlier).
        interp_shape: (H, W) the frames are resized to (tracks rescaled align-corners); None keeps the size.
        drop_invisible: drop tracks never visible in the clip.
        num_tracks: optional fixed number of tracks per sample (extra ones dropped, missing ones padded with
            ``valid`` False and ids -1), so that clips batch together.

    Returns (per item): CoTrackerData with video (T, 3, H, W), trajectory (T, N, 2), visibility from the
    flags, valid (keypoint annotated in that frame), query_points at the first visible frame,
    keypoint_ids (N,) 0..16 and person_ids (N,) = track_id.
    """

    def __init__(
        self,
        main_folder,
        json_folder=None,
        start_frames_json=None,
        max_frames: int = 24,
        interp_shape: Optional[Sequence[int]] = (384, 512),
        drop_invisible: bool = True,
        num_tracks: Optional[int] = None,
    ):
        self.num_tracks = num_tracks
        self.main_folder = require_dir(main_folder, "PoseTrack main")
        if json_folder is None:
            json_folder = _find_json_folder(self.main_folder)
        self.json_folder = require_dir(json_folder, "PoseTrack annotation")
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.max_frames = max_frames
        self.interp_shape = None if interp_shape is None else (int(interp_shape[0]), int(interp_shape[1]))
        self.drop_invisible = drop_invisible
        if start_frames_json is not None:
            self.samples = self._read_start_frames(Path(start_frames_json))
        else:
            files = sorted(self.json_folder.glob("*.json"))
            if not files:
                raise FileNotFoundError(f"no PoseTrack *.json files in {self.json_folder}")
            self.samples = [(f.name, None) for f in files]

    def _read_start_frames(self, path: Path) -> list[tuple[str, Optional[int]]]:
        if not path.is_file():
            raise FileNotFoundError(f"PoseTrack start-frames file not found: {path}")
        try:
            with open(path) as f:
                doc = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"cannot parse start-frames JSON {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected an object {{\"<index>\": [<video json>, <start frame>]}}")
        out = []
        for k in sorted(doc, key=lambda s: int(s)):
            v = doc[k]
            if isinstance(v, dict) and ("video" in v or "json" in v) and "start" in v:
                name, start = v.get("video", v.get("json")), v["start"]
            elif isinstance(v, (list, tuple)) and len(v) == 2:
                name, start = v
            else:
                raise ValueError(f"{path}: entry {k!r} is {v!r}; expected [<video json name>, <start frame>]")
            name = str(name) if str(name).endswith(".json") else f"{name}.json"
            out.append((name, int(start)))
        return out

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> CoTrackerData:
        json_name, start = self.samples[index]
        path = self.json_folder / json_name
        doc = read_posetrack_json(path)
        images = doc["images"]
        if not images:
            raise ValueError(f"{path}: the video has no images")
        if start is None:
            labeled = [i for i, im in enumerate(images) if im.get("is_labeled", True)]
            start = labeled[0] if labeled else 0
        if not 0 <= start < len(images):
            raise ValueError(f"{path}: start frame {start} is outside the video's {len(images)} frames")
        clip = images[start : start + self.max_frames]
        T = len(clip)
        frames = np.stack([read_rgb(self.main_folder / im["file_name"]) for im in clip])
        H, W = frames.shape[1:3]
        row = {im["id"]: t for t, im in enumerate(clip)}
        labeled = np.array([bool(im.get("is_labeled", True)) for im in clip])
        track_ids = sorted({int(a["track_id"]) for a in doc["annotations"] if a["image_id"] in row and a.get("keypoints")})
        col = {tid: p for p, tid in enumerate(track_ids)}
        P = len(track_ids)
        kp = np.zeros((T, P, NUM_KEYPOINTS, 3), np.float32)
        have = np.zeros((T, P), bool)
        for a in doc["annotations"]:
            if a["image_id"] in row and a.get("keypoints"):
                t, p = row[a["image_id"]], col[int(a["track_id"])]
                kp[t, p] = np.asarray(a["keypoints"], np.float32).reshape(NUM_KEYPOINTS, 3)
                have[t, p] = True
        tracks = kp[..., :2].reshape(T, P * NUM_KEYPOINTS, 2)
        visible = (kp[..., 2] > 0).reshape(T, -1) & (have & labeled[:, None]).repeat(NUM_KEYPOINTS, axis=1)
        annotated = (kp[..., 2] > 0) | (kp[..., 0] != 0) | (kp[..., 1] != 0)
        valid = (annotated & have[..., None] & labeled[:, None, None]).reshape(T, -1)
        tracks = _fill_unknown(tracks, valid)
        keypoint_ids = np.tile(np.arange(NUM_KEYPOINTS), P)
        person_ids = np.repeat(np.asarray(track_ids, np.int64), NUM_KEYPOINTS)
        if self.drop_invisible:
            keep = visible.any(axis=0)
            tracks, visible, valid = tracks[:, keep], visible[:, keep], valid[:, keep]
            keypoint_ids, person_ids = keypoint_ids[keep], person_ids[keep]
        if self.interp_shape is not None and (H, W) != self.interp_shape:
            frames = resize_frames(frames, self.interp_shape)
            tracks = rescale_tracks(tracks, (H, W), self.interp_shape)
        queries, _ = first_visible_queries(tracks, visible)
        if self.num_tracks is not None:
            tracks, visible, valid, queries, keypoint_ids, person_ids = fix_num_tracks(
                self.num_tracks, tracks, visible, valid, queries, keypoint_ids, person_ids)
        return to_sample(
            frames, tracks, visible, valid=valid, seq_name=f"{Path(json_name).stem}:{start}",
            query_points=queries, keypoint_ids=keypoint_ids, person_ids=person_ids,
        )


JSON_FOLDER_CANDIDATES = (
    "posetrack_data/annotations/val", "posetrack_data/annotations/train", "annotations/val", "annotations/train", ".",
)


def _find_json_folder(main_folder: Path) -> Path:
    for rel in JSON_FOLDER_CANDIDATES:
        p = main_folder / rel
        if p.is_dir() and any(p.glob("*.json")):
            log.info("using PoseTrack annotations in %s", p)
            return p
    raise FileNotFoundError(
        f"no PoseTrack annotation folder found under {main_folder} (looked in {', '.join(JSON_FOLDER_CANDIDATES)}); "
        "pass json_folder explicitly"
    )


def _fill_unknown(tracks: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill positions where ``valid`` is False with the nearest earlier (else later) known position."""
    tracks = tracks.copy()
    T = tracks.shape[0]
    last = np.full(tracks.shape[1:], np.nan, np.float32)
    for t in range(T):
        last = np.where(valid[t, :, None], tracks[t], last)
        tracks[t] = np.where(valid[t, :, None], tracks[t], last)
    nxt = np.full(tracks.shape[1:], np.nan, np.float32)
    for t in range(T - 1, -1, -1):
        nxt = np.where(valid[t, :, None], tracks[t], nxt)
        tracks[t] = np.where(np.isnan(tracks[t]), nxt, tracks[t])
    return np.nan_to_num(tracks, nan=0.0)
