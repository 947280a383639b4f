"""Track the 17 keypoints of one or several people through a video: :func:`track_pose`.

The keypoints are given at a query frame (one for all, one per person, or one per keypoint, e.g.
each keypoint's first appearance); missing keypoints are allowed and simply not tracked. They are
tracked as ordinary points by a :class:`cotracker.predictor.CoTrackerPredictor`, together with a
support grid that gives the tracker context; when the model has a keypoint embedding (a pose
checkpoint, ``num_keypoints == 17``) each query carries its keypoint type. An optional One-Euro
filter (:mod:`cotracker.pose.smoothing`) then removes jitter.

Coordinates are ``(x, y)`` align-corners pixels of the input video (see :mod:`cotracker.geometry`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from cotracker.pose.keypoints import NUM_KEYPOINTS
from cotracker.pose.layouts import HeadEstimateConfig, check_layout, convert_layout, layout_keypoint_ids
from cotracker.pose.smoothing import OneEuroConfig, smooth_tracks

__all__ = ["PoseTrackResult", "PoseTrackConfig", "track_pose", "prepare_pose_queries", "PoseQueries", "as_video_tensor"]

logger = logging.getLogger(__name__)

# Keypoints may lie this far (pixels) outside the frame, i.e. on the outer edge of the border pixels.
KEYPOINT_XY_TOLERANCE = 0.5


@dataclass(frozen=True)
class PoseTrackConfig:
    """How :func:`track_pose` tracks.

    Attributes:
        support_grid: add the predictor's support grid (context points, dropped from the output).
        backward_tracking: also track backwards, so keypoints have positions before their query frame.
        use_keypoint_embedding: pass keypoint types to a model that embeds them (ignored for models without).
        smoothing: a One-Euro filter configuration, or None for no smoothing.
        outside: what to do with a given keypoint outside the frame: ``"error"`` (raise a ValueError) or
            ``"drop"`` (do not track it, with a warning; annotations sometimes reach past the image edge).
    """

    support_grid: bool = True
    backward_tracking: bool = False
    use_keypoint_embedding: bool = True
    smoothing: Optional[OneEuroConfig] = None
    outside: str = "error"

    def __post_init__(self):
        if self.outside not in ("error", "drop"):
            raise ValueError(f"PoseTrackConfig.outside must be 'error' or 'drop', got {self.outside!r}")


@dataclass(frozen=True)
class PoseTrackResult:
    """Per-person keypoint tracks.

    Attributes:
        tracks: (P, T, 17, 2) float32 ``(x, y)`` input pixels; NaN where ``tracked`` is False.
        visibility: (P, T, 17) bool, True where the keypoint is predicted visible (False where not tracked).
        tracked: (P, T, 17) bool, True where the keypoint has a position: it was given and the frame is at or
            after its query frame (every frame with backward tracking).
        query_frames: (P, 17) int64, the frame each keypoint was given at, -1 for keypoints not given.
        person_ids: (P,) int64, the id of each person (``track_id`` in PoseTrack files).
        layout: ``"posetrack"`` or ``"coco"``, the slot order of the 17 keypoints.
        estimated: (P, 17) bool, True for slots estimated by a layout conversion (see :mod:`cotracker.pose.layouts`).
    """

    tracks: torch.Tensor
    visibility: torch.Tensor
    tracked: torch.Tensor
    query_frames: torch.Tensor
    person_ids: torch.Tensor
    layout: str
    estimated: torch.Tensor

    @property
    def num_people(self) -> int:
        return int(self.tracks.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.tracks.shape[1])

    def to_layout(self, layout: str, config: HeadEstimateConfig = HeadEstimateConfig()) -> "PoseTrackResult":
        """The same tracks in another keypoint layout (the slots it lacks estimated frame by frame).

        An estimated joint is tracked where all the joints it is built from are tracked, and visible
        where all of them are visible.
        """
        layout = check_layout(layout)
        if layout == self.layout:
            return self
        xy = torch.nan_to_num(self.tracks).double().numpy()
        pos = convert_layout(np.concatenate([xy, self.tracked.numpy()[..., None].astype(np.float64)], -1),
                             self.layout, layout, config)
        vis = convert_layout(np.concatenate([xy, self.visibility.numpy()[..., None].astype(np.float64)], -1),
                             self.layout, layout, config)
        tracked = torch.from_numpy(pos.keypoints[..., 2] > 0)
        visibility = torch.from_numpy(vis.keypoints[..., 2] > 0) & tracked
        tracks = torch.from_numpy(pos.keypoints[..., :2]).float()
        tracks[~tracked] = float("nan")
        est = torch.from_numpy(pos.estimated[:, 0])  # (P, 17): the same slots in every frame
        # An estimated slot starts where all of its sources are tracked: its first tracked frame.
        first = torch.where(tracked.any(1), tracked.float().argmax(1), torch.full_like(self.query_frames, -1))
        query_frames = torch.where(est, first, self.query_frames)
        return PoseTrackResult(tracks, visibility, tracked, query_frames, self.person_ids, layout, est | self.estimated)


@dataclass(frozen=True)
class PoseQueries:
    """The flat point queries built from per-person keypoints.

    Attributes:
        queries: (N, 3) float32 ``(t, x, y)``, one per given keypoint, person-major then slot order.
        keypoint_ids: (N,) int64 keypoint-embedding ids (PoseTrack order, -1 for slots without one).
        index: (N, 2) int64 ``(person, slot)`` of each query.
        query_frames: (P, 17) int64, -1 where a keypoint is not given.
    """

    queries: torch.Tensor
    keypoint_ids: torch.Tensor
    index: torch.Tensor
    query_frames: torch.Tensor


def as_video_tensor(video: Any) -> torch.Tensor:
    """Accept (T, 3, H, W), (1, T, 3, H, W) or channels-last (T, H, W, 3) frames (tensor or numpy).

    Returns:
        (1, T, 3, H, W), the input's dtype (uint8 or float 0..255).
    """
    if isinstance(video, np.ndarray):
        video = torch.from_numpy(np.ascontiguousarray(video))
    if not isinstance(video, torch.Tensor):
        raise TypeError(f"video must be a torch.Tensor or numpy array of frames, got {type(video).__name__}")
    if video.dim() == 4:
        if video.shape[1] != 3 and video.shape[-1] == 3:  # (T, H, W, 3)
            video = video.permute(0, 3, 1, 2)
        video = video[None]
    if video.dim() != 5 or video.shape[0] != 1 or video.shape[2] != 3:
        raise ValueError(
            f"video must be one clip of RGB frames: (T, 3, H, W), (1, T, 3, H, W) or (T, H, W, 3), got shape "
            f"{tuple(video.shape)}"
        )
    return video


def _as_keypoints(keypoints: Any) -> np.ndarray:
    """(P, 17, 3) float64 ``[x, y, flag]`` from (17, 2|3) or (P, 17, 2|3); flag = 1 for finite points without one."""
    if isinstance(keypoints, torch.Tensor):
        keypoints = keypoints.detach().cpu().numpy()
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[1] != NUM_KEYPOINTS or kp.shape[2] not in (2, 3):
        raise ValueError(
            f"keypoints must have shape (P, {NUM_KEYPOINTS}, 3) [x, y, flag] or (P, {NUM_KEYPOINTS}, 2) for P people "
            f"(or ({NUM_KEYPOINTS}, 2|3) for one), got {tuple(kp.shape)}"
        )
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], axis=-1)
    return kp


def prepare_pose_queries(
    keypoints: Any,
    query_frames: Union[int, Sequence, np.ndarray, torch.Tensor],
    num_frames: int,
    video_hw: Sequence[int],
    layout: str = "posetrack",
    outside: str = "error",
) -> PoseQueries:
    """Validate per-person keypoints and flatten the given ones into point queries.

    Args:
        keypoints: (P, 17, 3) ``[x, y, flag]`` (or (P, 17, 2), or one person's (17, 2|3)) input pixels; a
            keypoint is given when its flag is > 0 and its coordinates are finite.
        query_frames: the frame the keypoints are given at: an int for all, (P,) per person, or (P, 17) per keypoint.
        num_frames: T, frames in the video.
        video_hw: ``(H, W)`` of the video.
        layout: slot order of ``keypoints``.
        outside: ``"error"`` raises on a given keypoint outside the frame, ``"drop"`` leaves it untracked.

    Raises:
        ValueError: bad shapes, no keypoint given, a query frame outside the video, or a keypoint outside the frame.
    """
    layout = check_layout(layout)
    kp = _as_keypoints(keypoints)
    P = kp.shape[0]
    if P == 0:
        raise ValueError("keypoints hold no person (P = 0); pass at least one person's 17 keypoints")
    given = (kp[..., 2] > 0) & np.isfinite(kp[..., :2]).all(-1)  # (P, 17)
    if isinstance(query_frames, torch.Tensor):
        query_frames = query_frames.cpu().numpy()
    qf = np.asarray(query_frames)
    if qf.dtype.kind not in "iu" and not (qf.dtype.kind == "f" and np.all(qf == np.round(qf))):
        raise TypeError(f"query_frames must hold integer frame indices, got dtype {qf.dtype}")
    qf = qf.astype(np.int64)
    if qf.ndim == 0:
        qf = np.full((P, NUM_KEYPOINTS), int(qf))
    elif qf.shape == (P,):
        qf = np.repeat(qf[:, None], NUM_KEYPOINTS, axis=1)
    elif qf.shape != (P, NUM_KEYPOINTS):
        raise ValueError(
            f"query_frames must be an int, ({P},) per person or ({P}, {NUM_KEYPOINTS}) per keypoint, got shape {qf.shape}"
        )
    H, W = int(video_hw[0]), int(video_hw[1])
    tol = KEYPOINT_XY_TOLERANCE
    x, y = kp[..., 0], kp[..., 1]
    outside_frame = given & ((x < -tol) | (x > W - 1 + tol) | (y < -tol) | (y > H - 1 + tol))
    if outside_frame.any():
        p, k = np.argwhere(outside_frame)[0]
        message = (
            f"keypoint {k} of person {p} at (x, y) = ({x[p, k]:g}, {y[p, k]:g}) lies outside the {W}x{H} frame "
            f"(x in [0, {W - 1}], y in [0, {H - 1}] pixels)"
        )
        if outside == "error":
            raise ValueError(message + "; mark keypoints outside the image as not labelled (flag 0), drop them "
                             "(outside='drop', --drop-outside), or check that the keypoints belong to this video "
                             "and its resolution")
        logger.warning("%s: not tracked (%d keypoints outside the frame in all)", message, int(outside_frame.sum()))
        given = given & ~outside_frame
    if not given.any():
        raise ValueError("no keypoint is given (every flag is 0, every coordinate NaN or outside the frame); "
                         "nothing to track")
    for p in range(P):
        if not given[p].any():
            raise ValueError(f"person {p} has no given keypoint (all flags 0, or outside the frame); drop the person or label a keypoint")
    bad_t = given & ((qf < 0) | (qf >= num_frames))
    if bad_t.any():
        p, k = np.argwhere(bad_t)[0]
        raise ValueError(
            f"keypoint {k} of person {p} is given at frame {qf[p, k]}, outside the video's frames [0, {num_frames - 1}]"
        )
    index = np.argwhere(given)  # (N, 2) person-major
    pp, kk = index[:, 0], index[:, 1]
    queries = np.stack([qf[pp, kk].astype(np.float64), x[pp, kk], y[pp, kk]], axis=-1)
    ids = layout_keypoint_ids(layout)[kk]
    return PoseQueries(
        queries=torch.from_numpy(queries).float(),
        keypoint_ids=torch.from_numpy(ids),
        index=torch.from_numpy(index).long(),
        query_frames=torch.from_numpy(np.where(given, qf, -1)),
    )


def _model_embeds_keypoints(predictor: Any) -> bool:
    n = getattr(predictor, "num_keypoints", None)
    if n is None:
        config = getattr(getattr(predictor, "model", None), "config", None)
        n = getattr(config, "num_keypoints", 0)
    return int(n or 0) == NUM_KEYPOINTS


def track_pose(
    video: Any,
    keypoints: Any,
    query_frames: Union[int, Sequence, np.ndarray, torch.Tensor] = 0,
    *,
    layout: str = "posetrack",
    person_ids: Optional[Sequence[int]] = None,
    predictor: Any = None,
    checkpoint: Optional[str] = None,
    device: Optional[Union[str, torch.device]] = None,
    config: PoseTrackConfig = PoseTrackConfig(),
) -> PoseTrackResult:
    """Track people's keypoints through a video.

    Example::

        result = track_pose(frames, keypoints)        # keypoints (P, 17, 3) at frame 0, PoseTrack order
        result.tracks[p, t, k]                         # (x, y) of keypoint k of person p at frame t

    Args:
        video: the clip: (T, 3, H, W) or (1, T, 3, H, W) tensor, or (T, H, W, 3) array; uint8 or float 0..255.
        keypoints: (P, 17, 3) ``[x, y, flag]`` input pixels (or (P, 17, 2), or one person's (17, 2|3)), in
            ``layout`` order; a keypoint with flag 0 or NaN coordinates is not tracked.
        query_frames: the frame the keypoints are given at: an int, (P,) per person or (P, 17) per keypoint
            (e.g. each keypoint's first appearance, see :func:`cotracker.pose.files.first_appearance`).
        layout: ``"posetrack"`` (the package's order) or ``"coco"``: the slot order of ``keypoints`` and of the
            result (convert with :meth:`PoseTrackResult.to_layout`).
        person_ids: (P,) ids to carry into the result (default 0..P-1).
        predictor: a :class:`cotracker.predictor.CoTrackerPredictor` (or compatible); built from ``checkpoint`` and
            ``device`` when None.
        checkpoint: weights file or registered name for the default predictor (default: the hub's pose checkpoint).
        device: where the default predictor runs.
        config: support grid, backward tracking, keypoint embedding, smoothing.

    Returns:
        :class:`PoseTrackResult` on the CPU.
    """
    layout = check_layout(layout)
    clip = as_video_tensor(video)
    T, H, W = int(clip.shape[1]), int(clip.shape[-2]), int(clip.shape[-1])
    pq = prepare_pose_queries(keypoints, query_frames, T, (H, W), layout, config.outside)
    P = int(pq.query_frames.shape[0])
    if person_ids is None:
        pids = torch.arange(P, dtype=torch.int64)
    else:
        pids = torch.as_tensor(np.asarray(person_ids), dtype=torch.int64).reshape(-1)
        if pids.numel() != P:
            raise ValueError(f"person_ids must hold one id per person ({P}), got {pids.numel()}")
    if predictor is None:
        predictor = _default_predictor(checkpoint, device)
    elif checkpoint is not None:
        raise ValueError("pass either predictor= or checkpoint=, not both")

    kp_ids = None
    if config.use_keypoint_embedding and _model_embeds_keypoints(predictor):
        kp_ids = pq.keypoint_ids[None]  # (1, N)
    elif config.use_keypoint_embedding:
        logger.info("the model has no keypoint embedding: tracking the keypoints as plain points")
    res = predictor(
        clip,
        queries=pq.queries[None],  # (1, N, 3)
        keypoint_ids=kp_ids,
        backward_tracking=config.backward_tracking,
        add_support_grid=config.support_grid,
    )
    flat_tracks = res.tracks[0].detach().float().cpu()  # (T, N, 2)
    flat_vis = res.visibility[0].detach().bool().cpu()  # (T, N)

    tracks = torch.full((P, T, NUM_KEYPOINTS, 2), float("nan"))
    visibility = torch.zeros((P, T, NUM_KEYPOINTS), dtype=torch.bool)
    pp, kk = pq.index[:, 0], pq.index[:, 1]
    tracks[pp, :, kk] = flat_tracks.permute(1, 0, 2)  # (N, T, 2)
    visibility[pp, :, kk] = flat_vis.permute(1, 0)  # (N, T)
    given = pq.query_frames >= 0  # (P, 17)
    frames = torch.arange(T)[None, :, None]  # (1, T, 1)
    if config.backward_tracking:
        tracked = given[:, None, :].expand(P, T, NUM_KEYPOINTS).clone()
    else:
        tracked = given[:, None, :] & (frames >= pq.query_frames[:, None, :])
    tracks[~tracked] = float("nan")
    visibility &= tracked
    if config.smoothing is not None:
        # One filter run per keypoint: fold people into the point axis.
        smoothed = smooth_tracks(tracks.permute(1, 0, 2, 3).reshape(T, P * NUM_KEYPOINTS, 2),
                                 tracked.permute(1, 0, 2).reshape(T, P * NUM_KEYPOINTS), config.smoothing)
        tracks = smoothed.reshape(T, P, NUM_KEYPOINTS, 2).permute(1, 0, 2, 3).contiguous()
    estimated = torch.zeros((P, NUM_KEYPOINTS), dtype=torch.bool)
    return PoseTrackResult(tracks, visibility, tracked, pq.query_frames, pids, layout, estimated)


def _default_predictor(checkpoint: Optional[str], device: Optional[Union[str, torch.device]]):
    from cotracker.predictor import CoTrackerPredictor  # lazy: pulls in the model code

    if checkpoint is None:
        from cotracker import hub

        checkpoint = getattr(hub, "DEFAULT_POSE_CHECKPOINT", "cotracker2-synth-pose")
    return CoTrackerPredictor(checkpoint=checkpoint, device=device)
