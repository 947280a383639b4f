"""Human pose tracking: keypoint layouts (PoseTrack-17 and COCO-17), conversions, smoothing, and
:func:`track_pose`, which tracks people's 17 keypoints through a video with a CoTracker predictor.

The submodules load lazily so that ``import cotracker.pose.keypoints`` stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "track_pose": "cotracker.pose.tracking",
    "PoseTrackResult": "cotracker.pose.tracking",
    "PoseTrackConfig": "cotracker.pose.tracking",
    "coco_to_posetrack": "cotracker.pose.layouts",
    "posetrack_to_coco": "cotracker.pose.layouts",
    "convert_layout": "cotracker.pose.layouts",
    "HeadEstimateConfig": "cotracker.pose.layouts",
    "OneEuroConfig": "cotracker.pose.smoothing",
    "one_euro_filter": "cotracker.pose.smoothing",
    "smooth_tracks": "cotracker.pose.smoothing",
    "read_keypoints_file": "cotracker.pose.files",
    "select_queries": "cotracker.pose.files",
    "first_appearance": "cotracker.pose.files",
    "posetrack_prediction_json": "cotracker.pose.files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cotracker.pose' has no attribute {name!r}")
