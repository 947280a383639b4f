"""Shared result and sample types, and the dimension legend used across the package.

Dimension legend (used in every shape comment):
    B  batch            T  frames in the clip        N  tracked points
    C  channels         H, W  image height / width   S  sliding-window length
    h, w  feature-map height / width (H / stride, W / stride)

Coordinates follow :mod:`cotracker.geometry`: queries are ``(t, x, y)`` with ``t`` a frame index and
``x, y`` pixels in the *input* video, align-corners convention (``x = 0`` is the centre of the leftmost
pixel). Tracks are ``(B, T, N, 2)`` in the same pixels; visibility is ``(B, T, N)`` bool.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import NamedTuple, Optional

import torch

__all__ = ["TrackResult", "CoTrackerData", "collate_samples"]


class TrackResult(NamedTuple):
    """What a predictor returns. Unpacks as ``tracks, visibility = predictor(...)``.

    Attributes:
        tracks: (B, T, N, 2) float32, ``(x, y)`` in input-video pixels.
        visibility: (B, T, N) bool, True where the point is predicted visible.
    """

    tracks: torch.Tensor
    visibility: torch.Tensor


@dataclass
class CoTrackerData:
    """One training / evaluation sample, as every dataset in :mod:`cotracker.data` returns it.

    Attributes:
        video: (T, 3, H, W) float32, RGB values in 0..255.
        trajectory: (T, N, 2) float32, ``(x, y)`` pixels of ``video`` (align-corners).
        visibility: (T, N) bool, True where the point is visible.
        valid: (T, N) bool, True where the ground truth is defined (False e.g. for padding).
        seq_name: identifier of the source sequence.
        query_points: optional (N, 3) float32 ``(t, x, y)`` queries chosen by the dataset
            (TAP-Vid "first"/"strided", Dynamic Replica frame 0); None lets the consumer pick.
        keypoint_ids: optional (N,) int64, keypoint index 0..16 (PoseTrack order) or -1 for none.
        person_ids: optional (N,) int64, person/track id or -1 for none.
    """

    video: torch.Tensor
    trajectory: torch.Tensor
    visibility: torch.Tensor
    valid: torch.Tensor
    seq_name: str = ""
    query_points: Optional[torch.Tensor] = None
    keypoint_ids: Optional[torch.Tensor] = None
    person_ids: Optional[torch.Tensor] = None
    extra: dict = field(default_factory=dict)


def collate_samples(samples: list[CoTrackerData]) -> CoTrackerData:
    """Stack samples of equal shapes into a batched ``CoTrackerData`` (a leading B dimension).

    Optional fields are stacked when every sample has them and left None otherwise;
    ``seq_name`` becomes a list of names and ``extra`` a list of dicts.
    """
    if not samples:
        raise ValueError("collate_samples got an empty list; expected at least one CoTrackerData")
    out = {}
    for f in fields(CoTrackerData):
        values = [getattr(s, f.name) for s in samples]
        if f.name in ("seq_name", "extra"):
            out[f.name] = values
        elif any(v is None for v in values):
            out[f.name] = None
        else:
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) != 1:
                raise ValueError(
                    f"cannot batch samples whose '{f.name}' shapes differ: {sorted(shapes)}; "
                    "use the same crop size, seq_len and traj_per_sample for every sample in a batch"
                )
            out[f.name] = torch.stack(values)
    return CoTrackerData(**out)
