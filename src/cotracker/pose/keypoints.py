"""Keypoint layouts: PoseTrack-17 (the package's pose order) and COCO-17, skeletons, OKS sigmas.

PoseTrack18/21 use COCO's 17 slots but put ``head_bottom`` and ``head_top`` where COCO has the two
eyes. Everything in the package that carries a keypoint id uses the **PoseTrack order** below.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "POSETRACK_KEYPOINTS",
    "COCO_KEYPOINTS",
    "NUM_KEYPOINTS",
    "SKELETON",
    "COCO_SKELETON",
    "OKS_SIGMAS",
    "LEFT_RIGHT_PAIRS",
    "keypoint_index",
]

POSETRACK_KEYPOINTS: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

NUM_KEYPOINTS = 17

# Bones as (parent, child) pairs of PoseTrack indices: the limbs, the torso and the head.
SKELETON: tuple[tuple[int, int], ...] = (
    (2, 1), (1, 0),            # head_top - head_bottom - nose
    (0, 3), (0, 4),            # nose - ears
    (1, 5), (1, 6),            # neck - shoulders
    (5, 6), (5, 11), (6, 12), (11, 12),  # torso
    (5, 7), (7, 9), (6, 8), (8, 10),     # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
)

# COCO's own skeleton (0-based COCO indices), for drawing COCO-layout keypoints.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# COCO per-keypoint OKS sigmas (COCO order). The PoseTrack evaluation uses the same 17 values slot for slot,
# so head_bottom/head_top take the eyes' 0.025.
OKS_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
) / 10.0

# Index pairs swapped by a horizontal flip (same in both layouts).
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = ((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def keypoint_index(name: str) -> int:
    """Index of a PoseTrack keypoint name (``"left_wrist"`` -> 9)."""
    try:
        return POSETRACK_KEYPOINTS.index(name)
    except ValueError:
        raise ValueError(f"unknown keypoint {name!r}; expected one of {', '.join(POSETRACK_KEYPOINTS)}") from None
