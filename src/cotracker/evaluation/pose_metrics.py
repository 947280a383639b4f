"""Pose-tracking metrics as pure numpy functions: PCK / PCKh, OKS, temporal consistency.

Keypoints are in the package's PoseTrack order (:data:`cotracker.pose.keypoints.POSETRACK_KEYPOINTS`)
unless a function says otherwise; coordinates are ``(x, y)`` pixels of one frame size.

* :func:`pck` -- fraction of visible ground-truth keypoints whose prediction lies within
  ``alpha * size`` of it, where ``size`` is a per-instance normaliser from :func:`bbox_size`,
  :func:`torso_size` or :func:`head_size` (PCKh@0.5 = ``pck(..., head_size(...), alpha=0.5)``).
* :func:`object_keypoint_similarity` -- COCO OKS with the COCO sigmas, applied slot for slot to PoseTrack
  order as the PoseTrack evaluation does (head_bottom/head_top take the eyes' sigmas).
* :func:`temporal_consistency` -- jitter (mean acceleration magnitude) of prediction and ground truth,
  and the acceleration error between them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from cotracker.pose.keypoints import NUM_KEYPOINTS, OKS_SIGMAS, POSETRACK_KEYPOINTS

__all__ = [
    "PCKResult",
    "HEAD_BOX_SCALE",
    "pck",
    "bbox_size",
    "torso_size",
    "head_size",
    "head_size_from_box",
    "keypoint_box_area",
    "object_keypoint_similarity",
    "temporal_consistency",
]

# MPII / PoseTrack: the head size is 0.6 x the diagonal of the annotated head box.
HEAD_BOX_SCALE = 0.6



@dataclass
class PCKResult:
    """PCK over a set of instances.

    Attributes:
        pck: fraction of scored keypoints that are correct (NaN if none is scored).
        per_keypoint: (K,) the same per keypoint slot (NaN where a slot is never scored).
        correct: (..., K) bool, correct and scored.
        scored: (..., K) bool, visible in the ground truth with a positive normaliser.
    """

    pck: float
    per_keypoint: np.ndarray
    correct: np.ndarray
    scored: np.ndarray


def _check_points(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must be (..., K, 2) (x, y) pixels, got shape {arr.shape}")
    return arr


def _check_visible(v, shape, name: str = "visible") -> np.ndarray:
    arr = np.asarray(v)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (one flag per keypoint), got {arr.shape}")
    return arr.astype(bool)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    size: np.ndarray,
    alpha: float,
) -> PCKResult:
    """Percentage of correct keypoints: ``||pred - gt|| <= alpha * size`` over visible GT keypoints.

    Args:
        pred: (..., K, 2) predicted ``(x, y)`` pixels.
        gt: (..., K, 2) ground-truth ``(x, y)`` pixels.
        visible: (..., K) bool, ground-truth keypoints to score.
        size: (...) per-instance normaliser in pixels (bounding-box, torso or head size); instances with
            a non-positive or non-finite size are not scored.
        alpha: threshold as a fraction of ``size`` (e.g. 0.5 for PCKh@0.5, 0.2 for PCK@0.2).

    Returns:
        PCKResult.
    """
    pred = _check_points(pred, "pred")
    gt = _check_points(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must have the same (..., K, 2) shape")
    vis = _check_visible(visible, gt.shape[:-1])
    size = np.asarray(size, dtype=np.float64)
    if size.shape != gt.shape[:-2]:
        raise ValueError(f"size must have one value per instance, shape {gt.shape[:-2]}, got {size.shape}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    ok_size = np.isfinite(size) & (size > 0)
    scored = vis & ok_size[..., None]
    dist = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(invalid="ignore"):
        correct = scored & (dist <= alpha * np.where(ok_size, size, 0.0)[..., None])
    K = gt.shape[-2]
    n_scored = scored.reshape(-1, K).sum(axis=0)
    n_correct = correct.reshape(-1, K).sum(axis=0)
    per_kp = np.full(K, np.nan)
    np.divide(n_correct, n_scored, out=per_kp, where=n_scored > 0)
    total = scored.sum()
    return PCKResult(
        pck=float(correct.sum() / total) if total else float("nan"),
        per_keypoint=per_kp,
        correct=correct,
        scored=scored,
    )


def bbox_size(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Bounding-box normaliser: ``max(width, height)`` of the box around each instance's visible GT keypoints.

    Args:
        gt: (..., K, 2) pixels. visible: (..., K) bool.

    Returns:
        (...) float64; NaN for instances with fewer than two visible keypoints.
    """
    gt = _check_points(gt, "gt")
    vis = _check_visible(visible, gt.shape[:-1])
    lo = np.where(vis[..., None], gt, np.inf).min(axis=-2)
    hi = np.where(vis[..., None], gt, -np.inf).max(axis=-2)
    with np.errstate(invalid="ignore"):
        side = (hi - lo).max(axis=-1)
    return np.where(vis.sum(axis=-1) >= 2, side, np.nan)


def _pair_distance(gt: np.ndarray, visible: np.ndarray, a: int, b: int) -> np.ndarray:
    d = np.linalg.norm(gt[..., a, :] - gt[..., b, :], axis=-1)
    return np.where(visible[..., a] & visible[..., b], d, np.nan)


def torso_size(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Torso normaliser: the distance from the left shoulder to the right hip (PoseTrack/COCO slots 5 and 12).

    Args:
        gt: (..., 17, 2) pixels. visible: (..., 17) bool.

    Returns:
        (...) float64; NaN where either keypoint is not visible.
    """
    gt = _check_points(gt, "gt")
    if gt.shape[-2] != NUM_KEYPOINTS:
        raise ValueError(f"torso_size needs the 17 PoseTrack keypoints, got K = {gt.shape[-2]}")
    vis = _check_visible(visible, gt.shape[:-1])
    return _pair_distance(gt, vis, POSETRACK_KEYPOINTS.index("left_shoulder"), POSETRACK_KEYPOINTS.index("right_hip"))


def head_size_from_box(head_box_xywh: np.ndarray) -> np.ndarray:
    """PCKh head size from a PoseTrack/MPII head box: ``0.6 * sqrt(w^2 + h^2)``.

    Args:
        head_box_xywh: (..., 4) ``(x, y, w, h)`` pixels (PoseTrack's ``bbox_head``).

    Returns:
        (...) float64.
    """
    box = np.asarray(head_box_xywh, dtype=np.float64)
    if box.ndim < 1 or box.shape[-1] != 4:
        raise ValueError(f"head boxes must be (..., 4) (x, y, w, h), got shape {box.shape}")
    return HEAD_BOX_SCALE * np.hypot(box[..., 2], box[..., 3])


def head_size(
    gt: Optional[np.ndarray] = None,
    visible: Optional[np.ndarray] = None,
    head_box_xywh: Optional[np.ndarray] = None,
) -> np.ndarray:
    """PCKh normaliser: from the PoseTrack head box when given, else the head_top-head_bottom distance.

    Args:
        gt: (..., 17, 2) PoseTrack keypoints (used when no head box is given).
        visible: (..., 17) bool.
        head_box_xywh: (..., 4) head boxes; wins over the keypoints.

    Returns:
        (...) float64 head sizes (NaN where undefined).
    """
    if head_box_xywh is not None:
        return head_size_from_box(head_box_xywh)
    if gt is None or visible is None:
        raise ValueError("head_size needs either head_box_xywh or the ground-truth keypoints and their visibility")
    gt = _check_points(gt, "gt")
    if gt.shape[-2] != NUM_KEYPOINTS:
        raise ValueError(f"head_size from keypoints needs the 17 PoseTrack keypoints, got K = {gt.shape[-2]}")
    vis = _check_visible(visible, gt.shape[:-1])
    return _pair_distance(gt, vis, POSETRACK_KEYPOINTS.index("head_top"), POSETRACK_KEYPOINTS.index("head_bottom"))


def keypoint_box_area(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Area (px^2) of the box around each instance's visible keypoints: the OKS scale when no segment area is known."""
    gt = _check_points(gt, "gt")
    vis = _check_visible(visible, gt.shape[:-1])
    lo = np.where(vis[..., None], gt, np.inf).min(axis=-2)
    hi = np.where(vis[..., None], gt, -np.inf).max(axis=-2)
    with np.errstate(invalid="ignore"):
        wh = hi - lo
    return np.where(vis.sum(axis=-1) >= 2, wh[..., 0] * wh[..., 1], np.nan)


def object_keypoint_similarity(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    area: np.ndarray,
    sigmas: np.ndarray = OKS_SIGMAS,
) -> np.ndarray:
    """COCO object keypoint similarity, per instance.

    ``OKS = mean over visible GT keypoints of exp(-d^2 / (2 * area * k^2))`` with ``k = 2 * sigma``
    (COCO's ``e = d^2 / (2 s^2 k^2)``, ``s^2`` = the object area).

    Args:
        pred: (..., 17, 2) predicted ``(x, y)`` pixels, COCO slot order (PoseTrack order scores slot for slot: its head_bottom/head_top take the eyes' sigmas).
        gt: (..., 17, 2) ground truth, same order.
        visible: (..., 17) bool, GT keypoints to score.
        area: (...) object area in px^2 (segment area, or :func:`keypoint_box_area`).
        sigmas: (17,) per-slot sigmas (default COCO's, :data:`cotracker.pose.keypoints.OKS_SIGMAS`).

    Returns:
        (...) float64 OKS in [0, 1]; NaN where no keypoint is visible or the area is not positive.
    """
    pred = _check_points(pred, "pred")
    gt = _check_points(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must have the same (..., K, 2) shape")
    sig = np.asarray(sigmas, dtype=np.float64)
    if sig.shape != (gt.shape[-2],):
        raise ValueError(f"sigmas must be ({gt.shape[-2]},), one per keypoint, got {sig.shape}")
    vis = _check_visible(visible, gt.shape[:-1])
    area = np.asarray(area, dtype=np.float64)
    if area.shape != gt.shape[:-2]:
        raise ValueError(f"area must have one value per instance, shape {gt.shape[:-2]}, got {area.shape}")
    d2 = np.sum((pred - gt) ** 2, axis=-1)
    var = (2.0 * sig) ** 2
    ok_area = np.isfinite(area) & (area > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = d2 / (2.0 * var * np.where(ok_area, area, 1.0)[..., None])
        sim = np.where(vis, np.exp(-e), 0.0).sum(axis=-1) / vis.sum(axis=-1)
    return np.where(ok_area & (vis.sum(axis=-1) > 0), sim, np.nan)


def temporal_consistency(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: Optional[np.ndarray] = None,
) -> dict[str, float]:
    """Jitter and acceleration error of tracks against ground truth.

    The acceleration of a track at frame t is the second difference ``x[t+1] - 2 x[t] + x[t-1]``
    (pixels / frame^2), used where the three frames are all visible in the ground truth.

    Args:
        pred: (T, N, 2) predicted ``(x, y)`` pixels.
        gt: (T, N, 2) ground-truth pixels.
        visible: (T, N) bool ground-truth visibility (default: all visible).

    Returns:
        dict with ``jitter_pred`` and ``jitter_gt`` (mean acceleration magnitude), ``accel_error``
        (mean ``||acc_pred - acc_gt||``) and ``num_triplets`` (how many accelerations were averaged).
        The means are NaN when there is no triplet (T < 3).
    """
    pred = _check_points(pred, "pred")
    gt = _check_points(gt, "gt")
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (T, N, 2) with the same shape, got {pred.shape} and {gt.shape}")
    vis = np.ones(gt.shape[:2], bool) if visible is None else _check_visible(visible, gt.shape[:2])
    if gt.shape[0] < 3:
        return {"jitter_pred": float("nan"), "jitter_gt": float("nan"), "accel_error": float("nan"), "num_triplets": 0}
    acc_p = pred[2:] - 2.0 * pred[1:-1] + pred[:-2]  # (T-2, N, 2)
    acc_g = gt[2:] - 2.0 * gt[1:-1] + gt[:-2]
    m = vis[2:] & vis[1:-1] & vis[:-2]
    n = int(m.sum())
    if n == 0:
        return {"jitter_pred": float("nan"), "jitter_gt": float("nan"), "accel_error": float("nan"), "num_triplets": 0}
    return {
        "jitter_pred": float(np.linalg.norm(acc_p, axis=-1)[m].mean()),
        "jitter_gt": float(np.linalg.norm(acc_g, axis=-1)[m].mean()),
        "accel_error": float(np.linalg.norm(acc_p - acc_g, axis=-1)[m].mean()),
        "num_triplets": n,
    }
