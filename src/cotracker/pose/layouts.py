"""Conversions between the COCO-17 and PoseTrack-17 keypoint layouts.

Both layouts share 15 of their 17 slots (nose, ears, shoulders, elbows, wrists, hips, knees, ankles,
at the same indices). They differ in slots 1 and 2: COCO has ``left_eye`` / ``right_eye`` there,
PoseTrack ``head_bottom`` / ``head_top``. A conversion copies the shared slots unchanged (so round
trips of those are exact) and *estimates* the two slots the target layout has and the source lacks,
from nearby joints, with the linear rules of :class:`HeadEstimateConfig`:

COCO -> PoseTrack (needs the nose and both shoulders; the eyes refine ``head_top`` when present)::

    shoulder_mid = (left_shoulder + right_shoulder) / 2
    head_bottom  = shoulder_mid + neck_fraction * (nose - shoulder_mid)
    head_top     = head_bottom + head_top_factor * (nose - head_bottom)        (no eyes)
    head_top     = eye_mid + eye_to_top_factor * (eye_mid - head_bottom)        (both eyes)

PoseTrack -> COCO (needs the nose and the same-side ear; ``head_bottom``/``head_top`` add the upward shift)::

    eye = nose + eye_ear_fraction * (ear - nose) + eye_up_fraction * (head_top - head_bottom)

An estimated joint takes the smallest flag (visibility / score) of the joints it was built from, and
is missing (``[0, 0, 0]``) when one of them is missing. Every conversion also returns a boolean mask
of the slots that were estimated, so callers can mark them (e.g. draw them differently or leave them
out of a metric).

Keypoints are ``(..., 17, 3)`` arrays ``[x, y, flag]`` in pixels (any frame of reference: the rules
are affine-invariant); a slot is *present* when its flag is > 0 and its coordinates are finite
(non-finite slots come out as ``[0, 0, 0]``; all other copied slots keep their values).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cotracker.pose.keypoints import COCO_KEYPOINTS, NUM_KEYPOINTS, POSETRACK_KEYPOINTS

__all__ = [
    "LAYOUTS",
    "SHARED_SLOTS",
    "HeadEstimateConfig",
    "ConvertedKeypoints",
    "coco_to_posetrack",
    "posetrack_to_coco",
    "convert_layout",
    "layout_keypoint_names",
    "check_layout",
    "layout_keypoint_ids",
]

LAYOUTS = ("posetrack", "coco")

# Slots that mean the same joint in both layouts.
SHARED_SLOTS: tuple[int, ...] = (0,) + tuple(range(3, NUM_KEYPOINTS))

_NOSE, _SLOT1, _SLOT2, _LEAR, _REAR, _LSHO, _RSHO = 0, 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class HeadEstimateConfig:
    """Coefficients of the head-joint estimates (fractions of distances between joints).

    Attributes:
        neck_fraction: where ``head_bottom`` lies on the segment shoulder midpoint -> nose.
        head_top_factor: ``head_top`` is this many ``head_bottom -> nose`` distances above ``head_bottom``
            (used when the eyes are missing).
        eye_to_top_factor: with both eyes, ``head_top`` extends ``head_bottom -> eye midpoint`` by this fraction.
        eye_ear_fraction: an eye lies this fraction of the way from the nose to the same-side ear.
        eye_up_fraction: and is shifted by this fraction of ``head_bottom -> head_top`` (up the head).
    """

    neck_fraction: float = 0.5
    head_top_factor: float = 2.5
    eye_to_top_factor: float = 1.0
    eye_ear_fraction: float = 0.4
    eye_up_fraction: float = 0.1


class ConvertedKeypoints(NamedTuple):
    """The result of a layout conversion.

    Attributes:
        keypoints: (..., 17, 3) float64 ``[x, y, flag]`` in the target layout; missing slots are ``[0, 0, 0]``.
        estimated: (..., 17) bool, True for the slots that were estimated rather than copied.
    """

    keypoints: np.ndarray
    estimated: np.ndarray


def check_layout(layout: str) -> str:
    """Return ``layout`` lower-cased, or raise a ValueError naming the supported layouts."""
    name = str(layout).lower()
    if name not in LAYOUTS:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    return name


def layout_keypoint_names(layout: str) -> tuple[str, ...]:
    """The 17 keypoint names of ``layout`` ("posetrack" or "coco"), in slot order."""
    return POSETRACK_KEYPOINTS if check_layout(layout) == "posetrack" else COCO_KEYPOINTS


def _as_keypoints(keypoints) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim < 2 or kp.shape[-2] != NUM_KEYPOINTS or kp.shape[-1] not in (2, 3):
        raise ValueError(
            f"expected keypoints of shape (..., {NUM_KEYPOINTS}, 3) [x, y, flag] or (..., {NUM_KEYPOINTS}, 2), "
            f"got {tuple(kp.shape)}"
        )
    if kp.shape[-1] == 2:  # no flags: every finite point is present
        flag = np.isfinite(kp).all(-1, keepdims=True).astype(np.float64)
        kp = np.concatenate([kp, flag], axis=-1)
    # A point without finite coordinates is missing: store it as COCO does, [0, 0, 0].
    return np.where(np.isfinite(kp[..., :2]).all(-1, keepdims=True), kp, 0.0)


def _present(kp: np.ndarray) -> np.ndarray:
    return (kp[..., 2] > 0) & np.isfinite(kp[..., :2]).all(-1)


def _estimate(out: np.ndarray, slot: int, xy: np.ndarray, ok: np.ndarray, flag: np.ndarray) -> None:
    """Write an estimate into ``out[..., slot]`` where ``ok`` holds, ``[0, 0, 0]`` elsewhere."""
    value = np.concatenate([xy, flag[..., None]], axis=-1)
    out[..., slot, :] = np.where(ok[..., None], value, 0.0)


def coco_to_posetrack(keypoints, config: HeadEstimateConfig = HeadEstimateConfig()) -> ConvertedKeypoints:
    """Convert COCO-17 keypoints to the PoseTrack-17 layout.

    The eyes are dropped; ``head_bottom`` and ``head_top`` are estimated (see the module docstring).

    Args:
        keypoints: (..., 17, 3) ``[x, y, flag]`` (or (..., 17, 2)) in COCO order.
        config: the estimate's coefficients.

    Returns:
        :class:`ConvertedKeypoints` in PoseTrack order; ``estimated`` is True in slots 1 and 2.
    """
    kp = _as_keypoints(keypoints)
    present = _present(kp)
    out = kp.copy()
    with np.errstate(invalid="ignore"):
        xy, fl = np.nan_to_num(kp[..., :2]), kp[..., 2]
        nose, lsho, rsho = xy[..., _NOSE, :], xy[..., _LSHO, :], xy[..., _RSHO, :]
        leye, reye = xy[..., _SLOT1, :], xy[..., _SLOT2, :]
        ok_bottom = present[..., _NOSE] & present[..., _LSHO] & present[..., _RSHO]
        shoulder_mid = 0.5 * (lsho + rsho)
        bottom = shoulder_mid + config.neck_fraction * (nose - shoulder_mid)
        bottom_flag = np.minimum(fl[..., _NOSE], np.minimum(fl[..., _LSHO], fl[..., _RSHO]))
        has_eyes = present[..., _SLOT1] & present[..., _SLOT2]
        eye_mid = 0.5 * (leye + reye)
        top_from_eyes = eye_mid + config.eye_to_top_factor * (eye_mid - bottom)
        top_from_nose = bottom + config.head_top_factor * (nose - bottom)
        top = np.where(has_eyes[..., None], top_from_eyes, top_from_nose)
        eye_flag = np.minimum(fl[..., _SLOT1], fl[..., _SLOT2])
        top_flag = np.where(has_eyes, np.minimum(bottom_flag, eye_flag), bottom_flag)
    _estimate(out, _SLOT1, bottom, ok_bottom, bottom_flag)
    _estimate(out, _SLOT2, top, ok_bottom, top_flag)
    estimated = np.zeros(kp.shape[:-1], dtype=bool)
    estimated[..., [_SLOT1, _SLOT2]] = True
    return ConvertedKeypoints(out, estimated)


def posetrack_to_coco(keypoints, config: HeadEstimateConfig = HeadEstimateConfig()) -> ConvertedKeypoints:
    """Convert PoseTrack-17 keypoints to the COCO-17 layout.

    ``head_bottom`` and ``head_top`` are dropped; the eyes are estimated from the nose and the ears
    (see the module docstring).

    Args:
        keypoints: (..., 17, 3) ``[x, y, flag]`` (or (..., 17, 2)) in PoseTrack order.
        config: the estimate's coefficients.

    Returns:
        :class:`ConvertedKeypoints` in COCO order; ``estimated`` is True in slots 1 and 2.
    """
    kp = _as_keypoints(keypoints)
    present = _present(kp)
    out = kp.copy()
    with np.errstate(invalid="ignore"):
        xy, fl = np.nan_to_num(kp[..., :2]), kp[..., 2]
        nose = xy[..., _NOSE, :]
        has_head = present[..., _SLOT1] & present[..., _SLOT2]
        up = np.where(has_head[..., None], xy[..., _SLOT2, :] - xy[..., _SLOT1, :], 0.0)
        for eye_slot, ear_slot in ((_SLOT1, _LEAR), (_SLOT2, _REAR)):
            ok = present[..., _NOSE] & present[..., ear_slot]
            eye = nose + config.eye_ear_fraction * (xy[..., ear_slot, :] - nose) + config.eye_up_fraction * up
            flag = np.minimum(fl[..., _NOSE], fl[..., ear_slot])
            _estimate(out, eye_slot, eye, ok, flag)
    estimated = np.zeros(kp.shape[:-1], dtype=bool)
    estimated[..., [_SLOT1, _SLOT2]] = True
    return ConvertedKeypoints(out, estimated)


def convert_layout(
    keypoints, from_layout: str, to_layout: str, config: HeadEstimateConfig = HeadEstimateConfig()
) -> ConvertedKeypoints:
    """Convert ``(..., 17, 3)`` keypoints between layouts; the identity (nothing estimated) when they match."""
    src, dst = check_layout(from_layout), check_layout(to_layout)
    if src == dst:
        kp = _as_keypoints(keypoints).copy()
        return ConvertedKeypoints(kp, np.zeros(kp.shape[:-1], dtype=bool))
    if src == "coco":
        return coco_to_posetrack(keypoints, config)
    return posetrack_to_coco(keypoints, config)


def layout_keypoint_ids(layout: str) -> np.ndarray:
    """Keypoint-embedding ids (PoseTrack order, -1 for none) of the 17 slots of ``layout``.

    The package's keypoint ids are PoseTrack indices; the COCO eyes have no PoseTrack counterpart and get -1.

    Returns:
        (17,) int64.
    """
    names = layout_keypoint_names(layout)
    return np.array([POSETRACK_KEYPOINTS.index(n) if n in POSETRACK_KEYPOINTS else -1 for n in names], dtype=np.int64)

