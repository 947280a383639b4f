"""Sparse-keyframe joint evaluation: the BADJA protocol (animal joints annotated every few frames).

BADJA (Biggs et al., ACCV 2018) annotates 37 joint slots of an animal on a subset of DAVIS frames,
as ``(row, col)`` pixels of the 1920 x 1080 full-resolution frames with a visibility flag each. The
frame of a record is the number in its ``image_path`` (``.../00012.jpg`` is frame 12).

Protocol (as used by PIPs): query every joint visible at the **first annotated frame** there, track
through the clip, and at each **later** annotated frame score the joints visible in both: PCK with the
threshold ``0.2 * sqrt(foreground mask area)`` of that frame where a mask exists, and PCK at fixed pixel
thresholds (of the evaluated frames) always. A joint is correct when its error is strictly below the threshold.

Folder layout searched under ``data_root`` (the shared data folder, or any folder shaped like it)::

    [realgt/]badja/<name>.json               annotations
    [realgt/]<name>/frames/*.jpg             frames (preferred), or
    [videos/]<name>.mp4                      the clip (decoded with PyAV)
    [realgt/]<name>/masks/*.png              optional foreground masks, one per frame (non-zero = foreground)
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

__all__ = [
    "BADJA_SOURCE_HW",
    "BadjaConfig",
    "BadjaAnnotations",
    "BadjaSequence",
    "read_badja_annotations",
    "find_badja_sequences",
    "load_badja_sequence",
    "badja_queries",
    "compute_badja_pck",
    "BadjaPair",
    "PairedInterval",
    "badja_paired_bootstrap",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

# BADJA coordinates are (row, col) pixels of the DAVIS full-resolution frames.
BADJA_SOURCE_HW: tuple[int, int] = (1080, 1920)

_FRAME_NUMBER = re.compile(r"(\d+)\.[A-Za-z]+$")


@dataclass(frozen=True)
class BadjaConfig:
    """Thresholds of the BADJA protocol.

    Attributes:
        area_factor: the mask threshold is ``area_factor * sqrt(mask area in pixels)``.
        pixel_thresholds: fixed thresholds in pixels of the evaluated frames.
    """

    area_factor: float = 0.2
    pixel_thresholds: tuple[float, ...] = (8.0, 16.0, 32.0)


@dataclass
class BadjaAnnotations:
    """Joints of one clip at its annotated frames.

    Attributes:
        frame_indices: (K,) int64 annotated frames, increasing.
        joints: (K, J, 2) float32 ``(x, y)`` pixels of frames of size ``frame_hw``.
        visible: (K, J) bool.
        frame_hw: ``(H, W)`` the joints were scaled to.
    """

    frame_indices: np.ndarray
    joints: np.ndarray
    visible: np.ndarray
    frame_hw: tuple[int, int]


@dataclass
class BadjaSequence:
    """A BADJA clip ready to evaluate.

    Attributes:
        name: clip name (``"bear"``).
        frames: (T, H, W, 3) uint8 RGB.
        annotations: joints at the annotated frames (in ``frames`` pixels).
        masks: (K, H, W) bool foreground masks at the annotated frames, or None.
    """

    name: str
    frames: np.ndarray
    annotations: BadjaAnnotations
    masks: Optional[np.ndarray] = None

    def mask_areas(self) -> Optional[np.ndarray]:
        """(K,) float64 foreground area in pixels at each annotated frame, or None without masks."""
        if self.masks is None:
            return None
        return self.masks.reshape(len(self.masks), -1).sum(axis=1).astype(np.float64)


def read_badja_annotations(path: PathLike, frame_hw: Sequence[int]) -> BadjaAnnotations:
    """Read a BADJA JSON file and place its joints on frames of size ``frame_hw``.

    ``x = col * W / 1920`` and ``y = row * H / 1080`` (the scaling the data's documentation prescribes).
    A joint counts as visible when its flag is set and it is not the ``(0, 0)`` placeholder.

    Args:
        path: the JSON file (a list of records with ``image_path``, ``joints`` (J, 2) ``(row, col)``,
            ``visibility`` (J,)).
        frame_hw: ``(H, W)`` of the frames the joints are evaluated on.

    Returns:
        BadjaAnnotations sorted by frame.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BADJA annotation file not found: {path}")
    try:
        records = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); expected a BADJA annotation list") from exc
    if not isinstance(records, list) or not records:
        raise ValueError(f"{path}: expected a non-empty JSON list of BADJA records, got {type(records).__name__}")
    by_frame: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    num_joints = None
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not {"image_path", "joints", "visibility"} <= set(rec):
            raise ValueError(f"{path}: record {i} must have 'image_path', 'joints' and 'visibility'")
        m = _FRAME_NUMBER.search(str(rec["image_path"]))
        if m is None:
            raise ValueError(f"{path}: record {i}: cannot read a frame number from image_path {rec['image_path']!r}")
        joints = np.asarray(rec["joints"], dtype=np.float64)
        vis = np.asarray(rec["visibility"]).astype(bool)
        if joints.ndim != 2 or joints.shape[1] != 2 or vis.shape != (joints.shape[0],):
            raise ValueError(
                f"{path}: record {i}: expected joints (J, 2) and visibility (J,), got {joints.shape} and {vis.shape}"
            )
        if num_joints is None:
            num_joints = joints.shape[0]
        elif joints.shape[0] != num_joints:
            raise ValueError(f"{path}: record {i} has {joints.shape[0]} joints, earlier records {num_joints}")
        frame = int(m.group(1))
        if frame in by_frame:
            logger.warning("%s: frame %d annotated twice; keeping the last record", path, frame)
        by_frame[frame] = (joints, vis & ~(joints == 0).all(axis=1))
    H, W = int(frame_hw[0]), int(frame_hw[1])
    frames = sorted(by_frame)
    rowcol = np.stack([by_frame[f][0] for f in frames])  # (K, J, 2) (row, col)
    xy = np.stack([rowcol[..., 1] * W / BADJA_SOURCE_HW[1], rowcol[..., 0] * H / BADJA_SOURCE_HW[0]], axis=-1)
    return BadjaAnnotations(
        frame_indices=np.asarray(frames, dtype=np.int64),
        joints=xy.astype(np.float32),
        visible=np.stack([by_frame[f][1] for f in frames]),
        frame_hw=(H, W),
    )


def _first_existing(candidates: Sequence[Path]) -> Optional[Path]:
    for c in candidates:
        if c.exists():
            return c
    return None


def _annotation_dirs(root: Path) -> list[Path]:
    return [root / "realgt" / "badja", root / "badja", root]


def find_badja_sequences(data_root: PathLike) -> list[str]:
    """Names of the clips with a BADJA annotation file under ``data_root`` (sorted)."""
    root = Path(data_root)
    if not root.is_dir():
        raise NotADirectoryError(f"BADJA data root {root} is not a folder")
    for d in _annotation_dirs(root):
        names = sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []
        if names:
            return names
    raise FileNotFoundError(
        f"no BADJA annotations under {root}: expected realgt/badja/<name>.json or badja/<name>.json"
    )


def _read_images(paths: Sequence[Path]) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("RGB")))
    return np.stack(out)


def _read_masks(paths: Sequence[Path]) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    out = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im)
        out.append(a.any(axis=-1) if a.ndim == 3 else a > 0)
    return np.stack(out)


def load_badja_sequence(data_root: PathLike, name: str, max_frames: Optional[int] = None) -> BadjaSequence:
    """Load one BADJA clip: frames, joints placed on them, and masks when the folder has them.

    Args:
        data_root: folder holding the data (see the module docstring for the layout).
        name: clip name, e.g. ``"horsejump-high"`` or ``"bear"``.
        max_frames: decode at most this many frames (annotations beyond are dropped).

    Returns:
        BadjaSequence.
    """
    root = Path(data_root)
    ann_path = _first_existing([d / f"{name}.json" for d in _annotation_dirs(root)])
    if ann_path is None:
        raise FileNotFoundError(f"no BADJA annotations for {name!r} under {root} (looked for realgt/badja/{name}.json)")
    seq_dirs = [root / "realgt" / name, root / name]
    frame_dir = _first_existing([d / "frames" for d in seq_dirs])
    if frame_dir is not None:
        files = sorted(p for p in frame_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not files:
            raise FileNotFoundError(f"{frame_dir} holds no .jpg/.png frames")
        frames = _read_images(files[:max_frames] if max_frames else files)
    else:
        video = _first_existing([root / "videos" / f"{name}.mp4", root / f"{name}.mp4"])
        if video is None:
            raise FileNotFoundError(
                f"no frames for BADJA clip {name!r}: expected {seq_dirs[0]}/frames/*.jpg or {root}/videos/{name}.mp4"
            )
        from cotracker.io.video import read_video  # noqa: PLC0415

        frames = read_video(video, end=max_frames).frames
    T, H, W = frames.shape[:3]
    ann = read_badja_annotations(ann_path, (H, W))
    keep = ann.frame_indices < T
    if not keep.all():
        logger.warning("%s: %d annotated frames lie beyond the %d decoded frames; dropped", name, int((~keep).sum()), T)
        ann = BadjaAnnotations(ann.frame_indices[keep], ann.joints[keep], ann.visible[keep], ann.frame_hw)
    if ann.frame_indices.size < 2:
        raise ValueError(f"BADJA clip {name!r} needs at least two annotated frames within its {T} frames")
    masks = None
    mask_dir = _first_existing([d / "masks" for d in seq_dirs])
    if mask_dir is not None:
        mfiles = {int(m.group(1)): p for p in mask_dir.iterdir() if (m := _FRAME_NUMBER.search(p.name))}
        missing = [int(f) for f in ann.frame_indices if int(f) not in mfiles]
        if missing:
            logger.warning("%s: no mask for annotated frames %s; mask-based PCK disabled", name, missing[:5])
        else:
            masks = _read_masks([mfiles[int(f)] for f in ann.frame_indices])
            if masks.shape[1:] != (H, W):
                raise ValueError(f"{mask_dir}: masks are {masks.shape[1:]} but frames are {(H, W)}")
    return BadjaSequence(name=name, frames=frames, annotations=ann, masks=masks)


def badja_queries(ann: BadjaAnnotations) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's queries: every joint visible at the first annotated frame, queried there.

    Returns:
        queries (N, 3) float32 ``(t, x, y)`` and joint_ids (N,) int64 (the joint slot of each query).
    """
    joint_ids = np.flatnonzero(ann.visible[0])
    t0 = float(ann.frame_indices[0])
    xy = ann.joints[0, joint_ids]
    q = np.concatenate([np.full((joint_ids.size, 1), t0, np.float32), xy], axis=1).astype(np.float32)
    return q, joint_ids.astype(np.int64)


def mask_thresholds(mask_area: np.ndarray, config: BadjaConfig = BadjaConfig()) -> np.ndarray:
    """(K,) the protocol's per-frame distance threshold, ``area_factor * sqrt(mask area)``, from (K,) areas."""
    return config.area_factor * np.sqrt(np.maximum(np.asarray(mask_area, dtype=np.float64), 0.0))


def compute_badja_pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    mask_area: Optional[np.ndarray] = None,
    config: BadjaConfig = BadjaConfig(),
) -> dict[str, float]:
    """PCK at the annotated frames after the query frame (row 0 is the query frame and is not scored).

    Args:
        pred: (K, N, 2) predicted ``(x, y)`` pixels at the K annotated frames.
        gt: (K, N, 2) ground-truth ``(x, y)`` pixels.
        visible: (K, N) bool, ground-truth visibility.
        mask_area: (K,) foreground area in pixels per annotated frame, or None.
        config: thresholds.

    Returns:
        dict: ``pck_mask`` (NaN without masks), ``pck_{thr}px`` per fixed threshold, ``mean_error_px``
        and ``num_scored`` (joint-frames scored). Fractions in [0, 1]; NaN when nothing is scored.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    vis = np.asarray(visible)
    if pred.ndim != 3 or pred.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (K, N, 2), got {pred.shape} and {gt.shape}")
    if vis.shape != gt.shape[:2]:
        raise ValueError(f"visible must be (K, N) = {gt.shape[:2]}, got {vis.shape}")
    vis = vis.astype(bool)
    scored = vis.copy()
    scored[0] = False
    dist = np.linalg.norm(pred - gt, axis=-1)  # (K, N)
    n = int(scored.sum())
    out: dict[str, float] = {}
    if mask_area is not None:
        area = np.asarray(mask_area, dtype=np.float64)
        if area.shape != (gt.shape[0],):
            raise ValueError(f"mask_area must be (K,) = ({gt.shape[0]},), one area per annotated frame, got {area.shape}")
        thr = mask_thresholds(area, config)  # (K,)
        out["pck_mask"] = float((dist < thr[:, None])[scored].mean()) if n else float("nan")
    else:
        out["pck_mask"] = float("nan")
    for t in config.pixel_thresholds:
        key = f"{t:g}"
        out[f"pck_{key}px"] = float((dist < t)[scored].mean()) if n else float("nan")
    out["mean_error_px"] = float(dist[scored].mean()) if n else float("nan")
    out["num_scored"] = n
    return out


# ------------------------------------------------------------------------------------ paired bootstrap


class BadjaPair(NamedTuple):
    """One clip scored for two trackers a and b: the arguments of :func:`compute_badja_pck` with two predictions.

    pred_a, pred_b, gt: (K, N, 2) pixels at the K annotated frames; visible: (K, N) bool; mask_area: (K,) or None.
    """

    pred_a: np.ndarray
    pred_b: np.ndarray
    gt: np.ndarray
    visible: np.ndarray
    mask_area: Optional[np.ndarray] = None


@dataclass(frozen=True)
class PairedInterval:
    """A metric's difference between two trackers (a - b) and how far it can be trusted.

    Attributes:
        a, b: the metric of each tracker on the data as measured (mean over clips, as the evaluator's aggregate).
        low, high: the central ``level`` percentile interval of ``a - b`` over the resamples.
        share_positive: the share of resamples in which ``a - b > 0`` (for an error, > 0 means a is worse).
        resamples: resamples in which the metric was defined for both (NaN-free).
    """

    a: float
    b: float
    low: float
    high: float
    share_positive: float
    resamples: int

    @property
    def difference(self) -> float:
        return self.a - self.b


def _mean_over_clips(metrics: list[dict[str, float]], key: str) -> float:
    values = [m[key] for m in metrics if np.isfinite(m[key])]
    return float(np.mean(values)) if values else float("nan")


def badja_paired_bootstrap(
    clips: Sequence[BadjaPair],
    config: BadjaConfig = BadjaConfig(),
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, PairedInterval]:
    """How sure a lead of tracker a over b on a few BADJA clips is: a paired bootstrap over the joints.

    A joint's errors at the clip's annotated frames are not independent (a joint lost at one frame stays lost), so
    the unit resampled is the joint (the track), not the joint-frame: each resample draws every clip's N joints
    with replacement, the same draw for both trackers (paired), and scores both with :func:`compute_badja_pck`;
    the statistic is the mean over clips, as the evaluator's aggregate. What it cannot show: how the trackers would
    do on other animals or videos; only how much the result rests on a few of these clips' joints.

    Returns:
        metric name (``pck_mask``, ``pck_8px``..., ``mean_error_px``) -> :class:`PairedInterval`.
    """
    if not clips:
        raise ValueError("badja_paired_bootstrap needs at least one clip")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if int(num_resamples) < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    for i, c in enumerate(clips):
        if np.shape(c.pred_a) != np.shape(c.gt) or np.shape(c.pred_b) != np.shape(c.gt):
            raise ValueError(f"clip {i}: pred_a, pred_b and gt must have one (K, N, 2) shape, got "
                             f"{np.shape(c.pred_a)}, {np.shape(c.pred_b)} and {np.shape(c.gt)}")

    def score(idx: Optional[list[np.ndarray]]) -> tuple[list[dict], list[dict]]:
        ma, mb = [], []
        for c, j in zip(clips, idx if idx is not None else [slice(None)] * len(clips)):
            vis, gt = np.asarray(c.visible)[:, j], np.asarray(c.gt)[:, j]
            ma.append(compute_badja_pck(np.asarray(c.pred_a)[:, j], gt, vis, c.mask_area, config))
            mb.append(compute_badja_pck(np.asarray(c.pred_b)[:, j], gt, vis, c.mask_area, config))
        return ma, mb

    keys = [k for k in compute_badja_pck(clips[0].pred_a, clips[0].gt, clips[0].visible, clips[0].mask_area,
                                         config) if k != "num_scored"]
    full_a, full_b = score(None)
    rng = np.random.default_rng(seed)
    diffs = {k: [] for k in keys}
    for _ in range(int(num_resamples)):
        idx = [rng.integers(0, np.shape(c.gt)[1], size=np.shape(c.gt)[1]) for c in clips]
        ma, mb = score(idx)
        for k in keys:
            diffs[k].append(_mean_over_clips(ma, k) - _mean_over_clips(mb, k))
    tail = 100.0 * (1.0 - level) / 2.0
    out = {}
    for k in keys:
        d = np.asarray(diffs[k])
        d = d[np.isfinite(d)]
        a, b = _mean_over_clips(full_a, k), _mean_over_clips(full_b, k)
        if d.size == 0:
            out[k] = PairedInterval(a, b, float("nan"), float("nan"), float("nan"), 0)
            continue
        low, high = np.percentile(d, [tail, 100.0 - tail])
        out[k] = PairedInterval(a, b, float(low), float(high), float((d > 0).mean()), int(d.size))
    return out
