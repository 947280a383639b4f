"""The ``Tracker`` protocol every evaluated tracker follows, and two classical baselines.

* :class:`StaticTracker` -- points never move and are always visible: the floor any tracker must beat.
* :class:`LucasKanadeTracker` -- pyramidal Lucas-Kanade optical flow from OpenCV
  (``cv2.calcOpticalFlowPyrLK``), tracked forward from each query frame and backward for the frames
  before it, with a forward-backward check for visibility.

Both take the arguments of :class:`cotracker.predictor.CoTrackerPredictor`'s explicit-query call, so
the evaluator runs them and the real model through the same harness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

import numpy as np
import torch

from cotracker.types import TrackResult

__all__ = ["Tracker", "PredictorTracker", "StaticTracker", "LKConfig", "LucasKanadeTracker", "check_tracker_inputs", "require_cv2"]


@runtime_checkable
class Tracker(Protocol):
    """Anything that tracks query points through a video.

    ``tracker(video, queries=queries) -> TrackResult`` with
    video (1, T, 3, H, W) float RGB 0..255, queries (1, N, 3) ``(t, x, y)`` input pixels
    (align-corners), returning tracks (1, T, N, 2) pixels and visibility (1, T, N) bool.
    """

    def __call__(self, video: torch.Tensor, queries: torch.Tensor) -> TrackResult: ...


def require_cv2():
    """Import OpenCV or explain how to get it."""
    try:
        import cv2  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "the Lucas-Kanade baseline needs OpenCV: pip install opencv-python-headless "
            "(or the package's 'eval' extra)"
        ) from exc
    return cv2


def check_tracker_inputs(video, queries) -> tuple[int, int, int, int]:
    """Validate a tracker call's inputs; returns ``(T, H, W, N)``."""
    if not isinstance(video, torch.Tensor) or video.dim() != 5 or video.shape[2] != 3:
        got = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ValueError(f"video must be a (B, T, 3, H, W) tensor of RGB 0..255, got {got}")
    if not isinstance(queries, torch.Tensor) or queries.dim() != 3 or queries.shape[-1] != 3:
        got = tuple(queries.shape) if isinstance(queries, torch.Tensor) else type(queries).__name__
        raise ValueError(f"queries must be a (B, N, 3) tensor of (t, x, y), got {got}")
    if video.shape[0] != 1 or queries.shape[0] != 1:
        raise ValueError(f"the baselines track one video at a time (B = 1), got video B={video.shape[0]}, queries B={queries.shape[0]}")
    T, H, W = int(video.shape[1]), int(video.shape[3]), int(video.shape[4])
    t = queries[0, :, 0]
    if queries.shape[1] and (t.min() < 0 or t.max() > T - 1):
        raise ValueError(f"query frames must lie in [0, {T - 1}], got [{t.min().item()}, {t.max().item()}]")
    return T, H, W, int(queries.shape[1])


class PredictorTracker:
    """Adapts a :class:`cotracker.predictor.CoTrackerPredictor` (or anything with its keyword arguments)
    to the :class:`Tracker` call, choosing whether points are also tracked backwards in time.

    Args:
        predictor: called as ``predictor(video, queries=queries, backward_tracking=...)``.
        backward_tracking: also track backwards from each query frame (needed where frames before the
            query are scored, e.g. TAP-Vid "strided").
        name: label for result tables.
    """

    def __init__(self, predictor, backward_tracking: bool = False, name: str = "cotracker"):
        self.predictor = predictor
        self.backward_tracking = bool(backward_tracking)
        self.name = name

    @property
    def uses_keypoint_ids(self) -> bool:
        """Whether the wrapped model has a keypoint embedding (then every call passes explicit ids)."""
        return int(getattr(self.predictor, "num_keypoints", 0) or 0) > 0

    def __call__(self, video: torch.Tensor, queries: torch.Tensor,
                 keypoint_ids: Optional[torch.Tensor] = None) -> TrackResult:
        """Track ``queries`` (1, N, 3); ``keypoint_ids`` (1, N) int64 (-1 = not a keypoint) feed a keypoint
        embedding. A model with an embedding always gets explicit ids (all -1 when none are given), so that
        ordinary points are never mistaken for consecutive people's keypoints."""
        kwargs = {}
        if self.uses_keypoint_ids:
            if keypoint_ids is None:
                keypoint_ids = torch.full(queries.shape[:2], -1, dtype=torch.int64)
            kwargs["keypoint_ids"] = keypoint_ids
        tracks, visibility = self.predictor(video, queries=queries, backward_tracking=self.backward_tracking, **kwargs)
        return TrackResult(tracks=tracks, visibility=visibility)


class StaticTracker:
    """Points stay at their query position in every frame and are always visible."""

    name = "static"

    def __call__(self, video: torch.Tensor, queries: torch.Tensor) -> TrackResult:
        T, _, _, N = check_tracker_inputs(video, queries)
        xy = queries[:, :, 1:].to(torch.float32)  # (1, N, 2)
        tracks = xy[:, None].expand(1, T, N, 2).clone()  # (1, T, N, 2)
        return TrackResult(tracks=tracks, visibility=torch.ones(1, T, N, dtype=torch.bool))


@dataclass(frozen=True)
class LKConfig:
    """Parameters of the Lucas-Kanade baseline.

    Attributes:
        win_size: side of the LK integration window (pixels, odd).
        max_level: pyramid levels above the base (0 = no pyramid).
        max_iters: iteration cap per level.
        eps: iteration stops when the update is smaller than this (pixels).
        fb_threshold: a point is visible when tracking it back one frame lands within this many pixels
            of where it came from (forward-backward check).
        min_eig_threshold: OpenCV's minimum-eigenvalue threshold for a trackable window.
    """

    win_size: int = 21
    max_level: int = 3
    max_iters: int = 30
    eps: float = 0.01
    fb_threshold: float = 1.5
    min_eig_threshold: float = 1e-4

    def __post_init__(self):
        if self.win_size < 3 or self.win_size % 2 == 0:
            raise ValueError(f"win_size must be an odd number >= 3, got {self.win_size}")
        if self.max_level < 0:
            raise ValueError(f"max_level must be >= 0, got {self.max_level}")
        if not self.fb_threshold > 0:
            raise ValueError(f"fb_threshold must be > 0, got {self.fb_threshold}")


class LucasKanadeTracker:
    """Pyramidal Lucas-Kanade point tracker (OpenCV), a classical baseline.

    Each point is tracked frame to frame forward from its query frame to the end and backward from it to
    frame 0. After each step the new position is tracked back to the previous frame; the point counts as
    visible when OpenCV reports success, the round trip ends within ``fb_threshold`` pixels and the
    point lies inside the frame. A lost point keeps being tracked from its last estimate (LK cannot
    re-detect it), so its positions are still defined. The query frame returns the query itself, visible.

    Args:
        config: :class:`LKConfig`.
    """

    name = "lk"

    def __init__(self, config: LKConfig = LKConfig()):
        self.config = config
        self._cv2 = require_cv2()

    def _gray(self, video: torch.Tensor) -> list[np.ndarray]:
        v = video[0].detach().to("cpu", torch.float32)  # (T, 3, H, W)
        gray = 0.299 * v[:, 0] + 0.587 * v[:, 1] + 0.114 * v[:, 2]  # (T, H, W)
        return list(gray.round().clamp(0, 255).to(torch.uint8).numpy())

    def _step(self, a: np.ndarray, b: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Track (M, 2) points from image a to b; returns new points and a visibility flag per point."""
        cv2 = self._cv2
        c = self.config
        kw = dict(
            winSize=(c.win_size, c.win_size),
            maxLevel=c.max_level,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, c.max_iters, c.eps),
            minEigThreshold=c.min_eig_threshold,
        )
        p0 = pts.reshape(-1, 1, 2).astype(np.float32)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, **kw)
        p0r, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, **kw)
        p1 = p1.reshape(-1, 2)
        fb = np.linalg.norm(p0r.reshape(-1, 2) - pts, axis=-1)
        ok = (st1.reshape(-1) == 1) & (st2.reshape(-1) == 1) & np.isfinite(p1).all(axis=-1) & (fb < c.fb_threshold)
        bad = ~np.isfinite(p1).all(axis=-1)
        p1[bad] = pts[bad]  # keep a defined position where OpenCV gave none
        return p1, ok

    def __call__(self, video: torch.Tensor, queries: torch.Tensor) -> TrackResult:
        T, H, W, N = check_tracker_inputs(video, queries)
        gray = self._gray(video)
        q = queries[0].detach().to("cpu", torch.float64).numpy()  # (N, 3)
        q_frame = np.round(q[:, 0]).astype(np.int64)
        tracks = np.zeros((T, N, 2), np.float32)
        visible = np.zeros((T, N), bool)
        for t0 in np.unique(q_frame):
            idx = np.flatnonzero(q_frame == t0)
            start = q[idx, 1:].astype(np.float32)
            tracks[t0, idx] = start
            visible[t0, idx] = True
            for direction in (1, -1):
                pts = start.copy()
                t = t0
                while 0 <= t + direction < T:
                    nxt = t + direction
                    pts, ok = self._step(gray[t], gray[nxt], pts)
                    inside = (pts[:, 0] >= 0) & (pts[:, 0] <= W - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= H - 1)
                    tracks[nxt, idx] = pts
                    visible[nxt, idx] = ok & inside
                    t = nxt
        return TrackResult(
            tracks=torch.from_numpy(tracks)[None],  # (1, T, N, 2)
            visibility=torch.from_numpy(visible)[None],  # (1, T, N)
        )
