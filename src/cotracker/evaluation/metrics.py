"""Point-tracking metrics as pure functions: numpy arrays in, a dict of per-video numpy arrays out.

* :func:`compute_tapvid_metrics` -- the TAP-Vid benchmark metrics (occlusion accuracy, points within
  1/2/4/8/16 px, Jaccard), with the reference semantics and signature.
* :func:`compute_dynamic_replica_metrics` -- the Dynamic Replica evaluation (accuracy over visible,
  occluded and all points per threshold, survival).
* :func:`mean_over_videos` -- the benchmark number: the mean of each metric over videos.

No function here touches torch, files or global state.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "TAPVID_THRESHOLDS",
    "SURVIVAL_THRESHOLD",
    "QUERY_MODES",
    "compute_tapvid_metrics",
    "compute_dynamic_replica_metrics",
    "mean_over_videos",
    "threshold_key",
]

# Pixel thresholds at the 256 x 256 benchmark scale.
TAPVID_THRESHOLDS: tuple[int, ...] = (1, 2, 4, 8, 16)
# Dynamic Replica: a visible point farther than this (256-scale pixels) from the ground truth is "lost".
SURVIVAL_THRESHOLD: float = 50.0
QUERY_MODES: tuple[str, ...] = ("first", "strided")


def threshold_key(thr: float) -> str:
    """Name suffix of a threshold: ``4 -> "4"``, ``0.5 -> "0.5"``."""
    thr = float(thr)
    return str(int(thr)) if thr.is_integer() else f"{thr:g}"


def _as_array(x, name: str, ndim: int, last: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy accepts almost anything
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric or bool array, got dtype object (ragged input?)")
    if arr.ndim != ndim or (last is not None and arr.shape[-1] != last):
        want = f"{ndim}D" + (f" with a last dimension of {last}" if last is not None else "")
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr


def _as_bool(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.number):
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1), got values outside {{0, 1}}; threshold it first")
        return arr.astype(bool)
    raise TypeError(f"{name} must be a bool array, got dtype {arr.dtype}")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, NaN where den == 0 (no warning)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def compute_tapvid_metrics(
    query_points: np.ndarray,
    gt_occluded: np.ndarray,
    gt_tracks: np.ndarray,
    pred_occluded: np.ndarray,
    pred_tracks: np.ndarray,
    query_mode: str,
    *,
    thresholds: Sequence[float] = TAPVID_THRESHOLDS,
) -> dict[str, np.ndarray]:
    """TAP-Vid metrics, per video (the reference definition).

    All coordinates must be pixels at the 256 x 256 benchmark scale for the standard thresholds to
    mean what the benchmark means (rescale with :func:`cotracker.geometry.rescale_points` first).

    Which frames are scored: with ``query_mode="first"`` only frames strictly **after** each point's
    query frame; with ``"strided"`` every frame **except** the query frame. The query frame is
    ``round(query_points[..., 0])``.

    Metrics (each a ``(b,)`` float64 array, one value per video; a ratio whose denominator is 0 is NaN):

    * ``occlusion_accuracy``: fraction of scored entries where ``pred_occluded == gt_occluded``.
    * ``pts_within_{thr}``: among scored entries that are visible in the ground truth, the fraction
      with ``||pred - gt||^2 < thr^2`` (strict).
    * ``jaccard_{thr}``: ``TP / (TP + FN + FP)`` where TP = scored, visible in GT, predicted visible
      and within ``thr``; the denominator is #(scored & GT-visible) + #(scored & predicted visible &
      (GT-occluded or not within ``thr``)).
    * ``average_jaccard``, ``average_pts_within_thresh``: means of the above over the thresholds.

    Args:
        query_points: (b, n, 3) float, ``(t, y, x)``: query frame index, then y and x pixels
            (TAP-Vid order; only ``t`` is used).
        gt_occluded: (b, n, T) bool, True where the ground-truth point is occluded.
        gt_tracks: (b, n, T, 2) float, ground-truth ``(x, y)`` pixels.
        pred_occluded: (b, n, T) bool, True where the point is predicted occluded.
        pred_tracks: (b, n, T, 2) float, predicted ``(x, y)`` pixels.
        query_mode: ``"first"`` or ``"strided"``.
        thresholds: pixel thresholds (default 1, 2, 4, 8, 16).

    Returns:
        dict of metric name -> (b,) float64 array.

    Raises:
        ValueError / TypeError: on wrong ranks, mismatched shapes, non-boolean occlusion flags, an unknown
            ``query_mode`` or query frames outside ``[0, T)``.
    """
    if query_mode not in QUERY_MODES:
        raise ValueError(f"query_mode must be 'first' or 'strided', got {query_mode!r}")
    qp = _as_array(query_points, "query_points", 3, 3)
    gt_occ = _as_bool(_as_array(gt_occluded, "gt_occluded", 3), "gt_occluded")
    gt = _as_array(gt_tracks, "gt_tracks", 4, 2)
    pred_occ = _as_bool(_as_array(pred_occluded, "pred_occluded", 3), "pred_occluded")
    pred = _as_array(pred_tracks, "pred_tracks", 4, 2)
    b, n, T = gt_occ.shape
    if qp.shape[:2] != (b, n):
        raise ValueError(f"query_points must be (b, n, 3) = ({b}, {n}, 3) to match gt_occluded {gt_occ.shape}, got {qp.shape}")
    if gt.shape[:3] != (b, n, T):
        raise ValueError(f"gt_tracks must be (b, n, T, 2) = ({b}, {n}, {T}, 2), got {gt.shape}")
    if pred_occ.shape != (b, n, T):
        raise ValueError(f"pred_occluded must be (b, n, T) = {(b, n, T)} like gt_occluded, got {pred_occ.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_tracks must have the shape of gt_tracks {gt.shape}, got {pred.shape}")
    if not thresholds:
        raise ValueError("thresholds must not be empty")
    if not np.isfinite(qp[..., 0]).all():
        raise ValueError("query_points hold a non-finite frame index")
    query_frame = np.round(qp[..., 0]).astype(np.int64)  # (b, n)
    if query_frame.size and (query_frame.min() < 0 or query_frame.max() >= T):
        raise ValueError(
            f"query frames must lie in [0, {T - 1}] for {T}-frame tracks, got [{query_frame.min()}, {query_frame.max()}]; "
            "query_points are (t, y, x), is the order right?"
        )

    frames = np.arange(T)
    if query_mode == "first":
        evaluated = frames[None, None, :] > query_frame[..., None]  # (b, n, T)
    else:
        evaluated = frames[None, None, :] != query_frame[..., None]

    out: dict[str, np.ndarray] = {}
    out["occlusion_accuracy"] = _ratio(
        ((pred_occ == gt_occ) & evaluated).sum(axis=(1, 2)), evaluated.sum(axis=(1, 2))
    )
    gt_vis = ~gt_occ
    pred_vis = ~pred_occ
    sq_dist = np.sum(np.square(pred.astype(np.float64) - gt.astype(np.float64)), axis=-1)  # (b, n, T)
    gt_pos = (gt_vis & evaluated).sum(axis=(1, 2))
    within_all, jaccard_all = [], []
    for thr in thresholds:
        key = threshold_key(thr)
        within = sq_dist < float(thr) ** 2
        frac = _ratio((within & gt_vis & evaluated).sum(axis=(1, 2)), gt_pos)
        tp = (within & gt_vis & pred_vis & evaluated).sum(axis=(1, 2))
        fp = ((pred_vis & (gt_occ | ~within)) & evaluated).sum(axis=(1, 2))
        jac = _ratio(tp, gt_pos + fp)
        out[f"pts_within_{key}"] = frac
        out[f"jaccard_{key}"] = jac
        within_all.append(frac)
        jaccard_all.append(jac)
    out["average_jaccard"] = np.mean(np.stack(jaccard_all, axis=1), axis=1)
    out["average_pts_within_thresh"] = np.mean(np.stack(within_all, axis=1), axis=1)
    return out


def compute_dynamic_replica_metrics(
    pred_tracks: np.ndarray,
    gt_tracks: np.ndarray,
    gt_visibility: np.ndarray,
    video_hw: Sequence[int],
    *,
    thresholds: Sequence[float] = TAPVID_THRESHOLDS,
    survival_threshold: float = SURVIVAL_THRESHOLD,
) -> dict[str, np.ndarray]:
    """Dynamic Replica metrics, per video, in percent (0..100).

    Distances are measured at the 256 scale: the x and y errors are divided by ``(W - 1) / 255`` and
    ``(H - 1) / 255``. An entry is scored ("started") at frames strictly after the point's first
    visible frame (a never-visible point is never scored).

    Metrics (each a ``(B,)`` float64 array; NaN when nothing is scored):

    * ``accuracy_vis_{thr}``, ``accuracy_occ_{thr}``, ``accuracy_{thr}``: percent of started entries with
      distance < ``thr`` among the visible, occluded and all started entries.
    * ``accuracy_vis``, ``accuracy_occ``, ``accuracy``: their means over the thresholds.
    * ``survival``: ``100 * mean over (T, N)`` of the running product over time of
      ``1 - [distance > survival_threshold and visible]`` (a track "dies" at its first visible
      frame with a large error and stays dead).

    Args:
        pred_tracks: (B, T, N, 2) float, predicted ``(x, y)`` pixels of the ``video_hw`` frames.
        gt_tracks: (B, T, N, 2) float, ground-truth ``(x, y)`` pixels.
        gt_visibility: (B, T, N) bool, True where the ground-truth point is visible.
        video_hw: ``(H, W)`` of the frames the coordinates are in.
        thresholds: 256-scale pixel thresholds.
        survival_threshold: 256-scale distance beyond which a visible point counts as lost.

    Returns:
        dict of metric name -> (B,) float64 array.
    """
    pred = _as_array(pred_tracks, "pred_tracks", 4, 2).astype(np.float64)
    gt = _as_array(gt_tracks, "gt_tracks", 4, 2).astype(np.float64)
    vis = _as_bool(_as_array(gt_visibility, "gt_visibility", 3), "gt_visibility")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_tracks {pred.shape} and gt_tracks {gt.shape} must have the same (B, T, N, 2) shape")
    if vis.shape != gt.shape[:3]:
        raise ValueError(f"gt_visibility must be (B, T, N) = {gt.shape[:3]}, got {vis.shape}")
    if len(video_hw) != 2 or min(video_hw) < 2:
        raise ValueError(f"video_hw must be (H, W) with both >= 2, got {tuple(video_hw)}")
    H, W = int(video_hw[0]), int(video_hw[1])
    scale = np.array([(W - 1) / 255.0, (H - 1) / 255.0])
    dist = np.linalg.norm((pred - gt) / scale, axis=-1)  # (B, T, N)
    T = gt.shape[1]
    ever = vis.any(axis=1)  # (B, N)
    first_vis = np.where(ever, np.argmax(vis, axis=1), T)  # (B, N)
    started = np.arange(T)[None, :, None] > first_vis[:, None, :]  # (B, T, N)
    occ = ~vis

    out: dict[str, np.ndarray] = {}
    per = {"vis": [], "occ": [], "": []}
    for thr in thresholds:
        key = threshold_key(thr)
        ok = dist < float(thr)
        for name, mask in (("vis", vis & started), ("occ", occ & started), ("", started)):
            acc = 100.0 * _ratio((ok & mask).sum(axis=(1, 2)), mask.sum(axis=(1, 2)))
            out[f"accuracy_{name}_{key}" if name else f"accuracy_{key}"] = acc
            per[name].append(acc)
    with np.errstate(all="ignore"):
        for name, values in per.items():
            stacked = np.stack(values, axis=1)
            out[f"accuracy_{name}" if name else "accuracy"] = np.mean(stacked, axis=1)
    alive = 1.0 - ((dist > survival_threshold) & vis).astype(np.float64)
    out["survival"] = 100.0 * np.cumprod(alive, axis=1).mean(axis=(1, 2))
    return out


def mean_over_videos(per_video: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The benchmark number of each metric: its mean over videos, ignoring NaN (a video where it is undefined).

    Args:
        per_video: one mapping metric name -> scalar per video (non-numeric values are skipped).

    Returns:
        metric name -> mean (NaN when no video defines it), in the order the metrics first appear.
    """
    keys: list[str] = []
    for rec in per_video:
        for k, v in rec.items():
            if k not in keys and isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
                keys.append(k)
    out = {}
    for k in keys:
        vals = np.array([float(r[k]) for r in per_video if k in r], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if vals.size else float("nan")
    return out
