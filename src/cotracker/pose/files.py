"""Keypoint files in and out: read query keypoints (PoseTrack / COCO JSON or a simple list), write predictions.

Readable inputs (:func:`read_keypoints_file`):

* a **PoseTrack18/21 video JSON**: ``images`` (one per frame), ``annotations`` (``image_id``, ``track_id``,
  ``keypoints`` = ``[x, y, v] * 17``), ``categories[0].keypoints`` naming the 17 slots;
* a **COCO keypoints JSON**: the same ``images`` / ``annotations`` / ``categories`` structure (no ``track_id``);
* a **simple list** ``[{"person": id, "keypoints": [x, y, v] * 17, "frame": t}, ...]`` (``frame`` defaults to 0,
  ``person`` to the entry's position).

Frames of a JSON with ``images`` are the images' positions once sorted by ``frame_id`` (or ``id``), i.e. the
frame index in the video made from them. The layout is read from the category's keypoint names
(``head_bottom`` -> PoseTrack, ``left_eye`` -> COCO); without names a file with ``track_id`` is taken as
PoseTrack and otherwise COCO; a simple list is PoseTrack (the package's order) unless told otherwise.

Predictions are written (:func:`posetrack_prediction_json`) in the PoseTrack18 format, which poseval and
:class:`cotracker.data.PoseTrackDataset` read: ``images``, ``annotations`` with ``track_id``,
``keypoints = [x, y, v] * 17`` (v = 1 predicted visible, 0 occluded or not tracked; ``[0, 0, 0]`` where the
keypoint has no position), per-keypoint ``scores`` (1 visible, 0 otherwise), a ``bbox`` around the tracked
keypoints, and the PoseTrack ``categories``.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from cotracker.pose.keypoints import COCO_KEYPOINTS, NUM_KEYPOINTS, POSETRACK_KEYPOINTS, SKELETON
from cotracker.pose.layouts import check_layout

__all__ = [
    "KeypointRecord",
    "KeypointFile",
    "PoseQuerySet",
    "read_keypoints_file",
    "parse_keypoints_json",
    "select_queries",
    "first_appearance",
    "posetrack_prediction_json",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

NUMBERS_PER_PERSON = 3 * NUM_KEYPOINTS


@dataclass(frozen=True)
class KeypointRecord:
    """One person's keypoints at one frame.

    Attributes:
        person: person / track id.
        frame: frame index in the video.
        keypoints: (17, 3) float64 ``[x, y, v]`` pixels; v > 0 marks a labelled keypoint.
    """

    person: int
    frame: int
    keypoints: np.ndarray


@dataclass
class KeypointFile:
    """The parsed contents of a keypoint file.

    Attributes:
        records: every person-frame annotation with at least one labelled keypoint.
        layout: ``"posetrack"`` or ``"coco"``, the slot order of the keypoints.
        kind: ``"posetrack"``, ``"coco"`` (JSON with images/annotations) or ``"list"`` (simple list).
        images: the JSON's image entries in frame order (empty for a simple list).
        source: where it was read from (for messages).
    """

    records: list[KeypointRecord]
    layout: str
    kind: str
    images: list[dict] = field(default_factory=list)
    source: str = "<keypoints>"

    @property
    def frames(self) -> list[int]:
        """The frames that hold at least one annotated person, sorted."""
        return sorted({r.frame for r in self.records})


@dataclass(frozen=True)
class PoseQuerySet:
    """Keypoints ready for :func:`cotracker.pose.track_pose`.

    Attributes:
        keypoints: (P, 17, 3) float64 ``[x, y, v]``.
        query_frames: (P, 17) int64 frame of each keypoint (-1 where not labelled).
        person_ids: (P,) int64.
    """

    keypoints: np.ndarray
    query_frames: np.ndarray
    person_ids: np.ndarray


def _fail(source: str, message: str) -> ValueError:
    return ValueError(f"{source}: {message}")


def _keypoint_array(values: Any, source: str, what: str) -> np.ndarray:
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise _fail(source, f"{what}: 'keypoints' must be a flat list of numbers [x, y, v] * {NUM_KEYPOINTS}, "
                            f"got {type(values).__name__}")
    if len(values) != NUMBERS_PER_PERSON:
        hint = ""
        if len(values) == 2 * NUM_KEYPOINTS:
            hint = " (it looks like [x, y] * 17: add a visibility flag v after each pair)"
        elif len(values) % 3 == 0:
            hint = f" ({len(values) // 3} keypoints: only 17-keypoint COCO / PoseTrack layouts are supported)"
        raise _fail(source, f"{what} has {len(values)} keypoint numbers; expected {NUMBERS_PER_PERSON} "
                            f"([x, y, v] for each of the {NUM_KEYPOINTS} keypoints){hint}")
    kp = np.asarray(values, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    if not np.isfinite(kp).all():
        raise _fail(source, f"{what} has non-finite keypoint values")
    return kp


def _layout_from_names(names: Any, source: str) -> Optional[str]:
    if not names:
        return None
    names = [str(n).lower() for n in names]
    if len(names) != NUM_KEYPOINTS:
        raise _fail(source, f"the category lists {len(names)} keypoint names; expected {NUM_KEYPOINTS} "
                            "(the COCO or PoseTrack layout)")
    if tuple(names) == POSETRACK_KEYPOINTS or "head_bottom" in names or "head_top" in names:
        return "posetrack"
    if tuple(names) == COCO_KEYPOINTS or "left_eye" in names:
        return "coco"
    raise _fail(source, f"unknown keypoint names {names[:3]}...; expected the COCO or PoseTrack 17-keypoint layout "
                        "(pass --layout coco|posetrack to override)")


def _frame_order(images: list[dict]) -> list[dict]:
    for key in ("frame_id", "id"):
        if images and all(isinstance(im.get(key), (int, float)) for im in images):
            return sorted(images, key=lambda im: im[key])
    return list(images)


def _parse_coco_like(data: dict, source: str, layout: Optional[str]) -> KeypointFile:
    images = data.get("images")
    anns = data.get("annotations")
    if not isinstance(images, list) or not isinstance(anns, list):
        raise _fail(source, "a PoseTrack / COCO keypoints JSON needs lists 'images' and 'annotations'")
    cats = data.get("categories") or []
    names = None
    if isinstance(cats, list) and cats and isinstance(cats[0], dict):
        names = cats[0].get("keypoints")
    detected = _layout_from_names(names, source)
    has_track_ids = any(isinstance(a, dict) and "track_id" in a for a in anns)
    kind = "posetrack" if (detected == "posetrack" or (detected is None and has_track_ids)) else "coco"
    if detected is None:
        detected = kind
        logger.info("%s names no keypoints: assuming the %s layout", source, detected)
    if layout is not None and layout != detected:
        logger.warning("%s looks like the %s layout; using %s as asked", source, detected, layout)
    ordered = _frame_order(images)
    frame_of = {}
    for t, im in enumerate(ordered):
        if not isinstance(im, dict) or "id" not in im:
            raise _fail(source, f"image entry {t} has no 'id'")
        frame_of[im["id"]] = t
    records = []
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise _fail(source, f"annotation {i} is a {type(ann).__name__}, expected an object")
        if "keypoints" not in ann:
            continue  # a box-only annotation
        what = f"annotation {i} (image_id {ann.get('image_id')})"
        if ann.get("image_id") not in frame_of:
            raise _fail(source, f"{what} refers to an image id that is not in 'images'")
        kp = _keypoint_array(ann["keypoints"], source, what)
        if not (kp[:, 2] > 0).any():
            continue  # a person with no labelled keypoint in this frame
        person = ann.get("track_id", ann.get("person_id", ann.get("id", i)))
        records.append(KeypointRecord(int(person), frame_of[ann["image_id"]], kp))
    return KeypointFile(records, layout or detected, kind, ordered, source)


def _parse_list(data: list, source: str, layout: Optional[str]) -> KeypointFile:
    records = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "keypoints" not in item:
            raise _fail(source, f"entry {i} must be an object {{\"person\": id, \"keypoints\": [x, y, v] * 17, "
                                f"\"frame\": t}}, got {json.dumps(item)[:80]}")
        what = f"entry {i} (person {item.get('person', i)})"
        kp = _keypoint_array(item["keypoints"], source, what)
        frame = item.get("frame", 0)
        person = item.get("person", i)
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise _fail(source, f"{what}: 'frame' must be a frame index >= 0, got {frame!r}")
        if not isinstance(person, int) or isinstance(person, bool):
            raise _fail(source, f"{what}: 'person' must be an integer id, got {person!r}")
        if not (kp[:, 2] > 0).any():
            raise _fail(source, f"{what} has no labelled keypoint (every v is 0)")
        records.append(KeypointRecord(person, frame, kp))
    if layout is None:
        logger.info("%s: a simple keypoint list; assuming the PoseTrack layout (pass layout='coco' otherwise)", source)
    return KeypointFile(records, layout or "posetrack", "list", [], source)


def parse_keypoints_json(data: Any, layout: Optional[str] = None, source: str = "<keypoints>") -> KeypointFile:
    """Parse already-loaded JSON (see the module docstring for the accepted structures).

    Args:
        data: the decoded JSON.
        layout: force ``"coco"`` or ``"posetrack"``; None detects it.
        source: a name for error messages.

    Raises:
        ValueError: an unknown structure, a wrong keypoint count, no labelled keypoint at all.
    """
    layout = None if layout is None else check_layout(layout)
    if isinstance(data, dict) and "annotations" in data:
        kf = _parse_coco_like(data, source, layout)
    elif isinstance(data, dict) and isinstance(data.get("people"), list):
        kf = _parse_list(data["people"], source, layout or data.get("layout"))
    elif isinstance(data, list):
        kf = _parse_list(data, source, layout)
    else:
        raise _fail(source, "unknown keypoint file structure; expected a PoseTrack / COCO keypoints JSON (with "
                            "'images' and 'annotations') or a list [{\"person\": id, \"keypoints\": [x, y, v] * 17, "
                            "\"frame\": t}]")
    if not kf.records:
        raise _fail(source, "holds no person with a labelled keypoint (v > 0)")
    return kf


def read_keypoints_file(path: PathLike, layout: Optional[str] = None) -> KeypointFile:
    """Read a keypoint file (PoseTrack JSON, COCO keypoints JSON or a simple list).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, or not one of the accepted structures (the message says which rule failed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                         "expected a PoseTrack / COCO keypoints JSON or a list of people") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file; expected a JSON keypoint file") from None
    return parse_keypoints_json(data, layout, str(path))


def first_appearance(records: Sequence[KeypointRecord]) -> PoseQuerySet:
    """Each person's keypoints at their first labelled frame (per keypoint).

    Returns:
        :class:`PoseQuerySet` with people sorted by id; a keypoint never labelled has v = 0 and frame -1.
    """
    people = sorted({r.person for r in records})
    P = len(people)
    kp = np.zeros((P, NUM_KEYPOINTS, 3))
    frames = np.full((P, NUM_KEYPOINTS), -1, dtype=np.int64)
    row = {pid: i for i, pid in enumerate(people)}
    for r in sorted(records, key=lambda r: r.frame):
        i = row[r.person]
        new = (r.keypoints[:, 2] > 0) & (frames[i] < 0)
        kp[i, new] = r.keypoints[new]
        frames[i, new] = r.frame
    return PoseQuerySet(kp, frames, np.asarray(people, dtype=np.int64))


def select_queries(
    kfile: KeypointFile,
    query_frame: Union[int, str, None] = None,
    frame_range: Optional[tuple[int, int]] = None,
) -> PoseQuerySet:
    """Pick the keypoints to track from a keypoint file.

    Args:
        kfile: a parsed file.
        query_frame: an int: the people annotated at that frame (a video frame index); ``"first"``: each
            keypoint at its first labelled frame; None: ``"first"`` for a simple list, else the first
            annotated frame (within ``frame_range``).
        frame_range: ``(start, stop)`` video frames being tracked; annotations outside are ignored and
            query frames are returned relative to ``start``.

    Raises:
        ValueError: no person annotated at the query frame (or in the range).
    """
    start, stop = (0, None) if frame_range is None else frame_range
    records = [r for r in kfile.records if r.frame >= start and (stop is None or r.frame < stop)]
    rng = f"frames [{start}, {stop})" if frame_range is not None else "the file"
    if not records:
        raise _fail(kfile.source, f"no person is annotated in {rng} (annotated frames: "
                                  f"{_frame_list(kfile.frames)}); choose --frames that include them")
    if query_frame is None:
        query_frame = "first" if kfile.kind == "list" else min(r.frame for r in records)
    if query_frame == "first":
        qs = first_appearance(records)
    else:
        if isinstance(query_frame, bool) or not isinstance(query_frame, (int, np.integer)):
            raise ValueError(f"query_frame must be a frame index, 'first' or None, got {query_frame!r}")
        at = [r for r in records if r.frame == int(query_frame)]
        if not at:
            raise _fail(kfile.source, f"no person is annotated at query frame {query_frame} (annotated frames in "
                                      f"{rng}: {_frame_list(sorted({r.frame for r in records}))}); pass one of "
                                      "those as --query-frame, or 'first'")
        qs = first_appearance(at)
    qf = np.where(qs.query_frames >= 0, qs.query_frames - start, -1)
    return PoseQuerySet(qs.keypoints, qf, qs.person_ids)


def _frame_list(frames: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(f) for f in frames[:limit])
    return shown + (", ..." if len(frames) > limit else "") if frames else "none"


def _image_entries(num_frames: int, video_name: str, frame_offset: int, source_images: Sequence[dict]) -> list[dict]:
    """One image entry per tracked frame: the source file's entries where it has them, else generated ones."""
    digits = re.sub(r"\D", "", video_name)[:6]
    base = int(f"1{int(digits):06d}0000") if digits else 0
    out = []
    for t in range(num_frames):
        src = frame_offset + t
        if src < len(source_images):
            im = dict(source_images[src])
        else:
            im = {
                "id": base + src,
                "frame_id": base + src,
                "file_name": f"images/{video_name}/{src:06d}.jpg",
                "vid_id": digits or video_name,
                "ignore_regions_x": [],
                "ignore_regions_y": [],
            }
        im["nframes"] = max(int(im.get("nframes", 0) or 0), len(source_images), frame_offset + num_frames)
        im["is_labeled"] = True
        out.append(im)
    return out


def posetrack_prediction_json(
    tracks: np.ndarray,
    visibility: np.ndarray,
    tracked: np.ndarray,
    person_ids: Sequence[int],
    video_name: str = "video",
    frame_offset: int = 0,
    source_images: Sequence[dict] = (),
) -> dict:
    """Build a PoseTrack18-format prediction JSON (PoseTrack keypoint order).

    Args:
        tracks: (P, T, 17, 2) ``(x, y)`` pixels, PoseTrack order.
        visibility: (P, T, 17) bool.
        tracked: (P, T, 17) bool, where a keypoint has a position (else written as ``[0, 0, 0]``).
        person_ids: (P,) track ids.
        video_name: names generated image entries (``images/<video_name>/<frame:06d>.jpg``; a numeric
            prefix also gives PoseTrack-style ids ``1VVVVVVFFFF``).
        frame_offset: video frame of ``tracks[:, 0]`` (for ``--frames``).
        source_images: the image entries of the input PoseTrack file in frame order; reused (ids, file
            names) so that the predictions line up with that file's ground truth.

    Returns:
        A JSON-serialisable dict with ``images``, ``annotations`` and ``categories``.
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    P, T = tracks.shape[:2]
    images = _image_entries(T, video_name, frame_offset, source_images)
    anns = []
    for t in range(T):
        image_id = images[t]["id"]
        for p in range(P):
            has = np.asarray(tracked[p, t], dtype=bool)
            if not has.any():
                continue
            vis = np.asarray(visibility[p, t], dtype=bool) & has
            xy = np.where(has[:, None], np.nan_to_num(tracks[p, t]), 0.0)
            kps = np.concatenate([xy, vis[:, None].astype(np.float64)], axis=1)  # (17, 3)
            x0, y0 = xy[has].min(0)
            x1, y1 = xy[has].max(0)
            scores = vis.astype(np.float64)
            anns.append({
                "id": len(anns) + 1,
                "image_id": image_id,
                "category_id": 1,
                "track_id": int(person_ids[p]),
                "keypoints": [round(float(v), 3) for v in kps.reshape(-1)],
                "scores": [float(s) for s in scores],
                "score": float(scores[has].mean()),
                "bbox": [round(float(v), 3) for v in (x0, y0, x1 - x0, y1 - y0)],
            })
    categories = [{
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(POSETRACK_KEYPOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
    }]
    return {"images": images, "annotations": anns, "categories": categories}
