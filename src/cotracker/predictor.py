"""User-facing predictors: track points through a video in input-pixel coordinates.

Two predictors wrap a :class:`cotracker.models.cotracker2.CoTracker2` (or any module that follows the
same contract, see ``_TrackerModel`` below):

* :class:`CoTrackerPredictor` tracks a whole clip at once (offline). It validates the input, resizes
  the video to the model resolution (bilinear, align-corners, chunk by chunk in time), scales the
  queries with :mod:`cotracker.geometry`, builds grids / masked grids / dense lattices, appends a
  support grid, optionally tracks backwards in time, thresholds visibility and scales the tracks
  back to input pixels. It follows the official CoTracker2 predictor step by step (see
  ``COTRACKER_FACTS.md`` section 3.1), so the official weights give the official numbers.
* :class:`CoTrackerOnlinePredictor` tracks a stream of chunks (online). Its preferred API keeps the
  per-video state in an explicit :class:`OnlineState`::

      state = predictor.init(queries=q, video_hw=(H, W))
      for ind in range(0, T - predictor.step, predictor.step):
          result, state = predictor.step(video[:, ind : ind + 2 * predictor.step], state)
      tracks, visibility = predictor.finish(state)

  It also speaks the official chunk protocol (``predictor(chunk, is_first_step=True, ...)`` then
  ``predictor(chunk)``), which keeps one internal default state.

Coordinates: queries are ``(t, x, y)`` with ``t`` a frame index and ``x, y`` align-corners pixels of
the input video; tracks come back as ``(B, T, N, 2)`` in the same pixels and visibility as
``(B, T, N)`` bool (:class:`cotracker.types.TrackResult`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Protocol, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from cotracker.geometry import flip_points, grid_points, rescale_points, rescale_queries
from cotracker.models.config import check_local_grid, is_valid_resolution
from cotracker.models.windows import window_starts
from cotracker.polish import PolishConfig, polish_tracks
from cotracker.types import TrackResult

__all__ = ["CoTrackerPredictor", "CoTrackerOnlinePredictor", "OnlineState", "resize_video", "inference_overrides"]

logger = logging.getLogger(__name__)

# Frames resized per call to F.interpolate: bounds the float32 temporary of the resize.
RESIZE_CHUNK_FRAMES = 16
# Queries may lie this far (pixels) outside the frame before they are rejected (rounding slack).
QUERY_XY_TOLERANCE = 0.5


class _TrackerModel(Protocol):
    """The model contract the predictors rely on (``CoTracker2`` follows it).

    ``config`` has ``model_resolution`` ``(h, w)``, ``window_len``, ``step`` and ``num_keypoints``
    (0 or absent = no keypoint embedding). ``forward(video (B,T,3,h,w), queries (B,N,3) model pixels,
    iters, keypoint_ids=None)`` returns ``(coords (B,T,N,2) model pixels, vis (B,T,N) probabilities, ...)``.
    ``init_stream(queries, keypoint_ids=None)`` returns a stream state with an ``ind`` attribute;
    ``stream_step(chunk, state, iters, init_coords=None)`` returns ``((coords, vis, ...), new_state)`` for all
    frames seen; ``init_coords`` (B, T_c, N, 2) model pixels is a first guess for the chunk (coarse-to-fine).
    """

    config: Any

    def __call__(self, video: torch.Tensor, queries: torch.Tensor, iters: int = 4, **kwargs: Any) -> Any: ...

    def init_stream(self, queries: torch.Tensor, keypoint_ids: Optional[torch.Tensor] = None) -> Any: ...

    def stream_step(
        self, chunk: torch.Tensor, state: Any, iters: int = 6, init_coords: Optional[torch.Tensor] = None
    ) -> tuple[Any, Any]: ...


# ----------------------------------------------------------------------------------------------------------
# Input validation (errors at the boundary say what was expected, what came and how to fix it)
# ----------------------------------------------------------------------------------------------------------


DEFAULT_ITERS = 6  # refinement iterations of the official predictors


def _resolve_refine_resolution(value: Any, config: Any) -> Optional[tuple[int, int]]:
    """The coarse-to-fine resolution: None -> the weights' config value, False -> none, else a checked (H, W)."""
    if value is None:
        value = getattr(config, "refine_resolution", None)
        if value is None:
            return None
    if value is False:
        return None
    stride = int(getattr(config, "stride", 4))
    if not is_valid_resolution(value, stride):
        raise ValueError(
            f"refine_resolution must be None (the weights' default), False (no second pass) or (H, W) with each a "
            f"multiple of {stride} and >= 32, e.g. (384, 512); got {_describe(value)}"
        )
    return int(value[0]), int(value[1])


def _resolve_switch(value: Any, config: Any, name: str) -> bool:
    """An on/off inference setting (``flip_ensemble``, ``feedback``): None -> the weights' config value (False if
    unset), else a bool."""
    if value is None:
        return bool(getattr(config, name, False))
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be None (the weights' default), True or False, got {_describe(value)}")
    return value


def _resolve_polish(value: Any, config: Any) -> Optional[PolishConfig]:
    """The LK polish: None -> the weights' config value (none if unset), False -> none, True -> the weights'
    settings or else :class:`PolishConfig`'s defaults, a :class:`PolishConfig` -> itself."""
    weights = getattr(config, "polish", None)
    if value is None:
        return weights
    if value is False:
        return None
    if value is True:
        return weights if weights is not None else PolishConfig()
    if isinstance(value, PolishConfig):
        return value
    raise TypeError(f"polish must be None (the weights' default), True, False or a cotracker.polish.PolishConfig, "
                    f"got {_describe(value)}")


def _stream_ind(stream: Any) -> int:
    """The first frame of the next window of a streaming state (a tuple of states with the flip ensemble)."""
    return int((stream[0] if isinstance(stream, tuple) else stream).ind)


# The members of the flip ensemble: the frames as they are, mirrored left-right, upside-down.
_FLIPS: tuple[Optional[str], ...] = (None, "x", "y")


def _flip_frames(video: torch.Tensor, axis: Optional[str]) -> torch.Tensor:
    """(B, T, 3, H, W) frames mirrored along ``axis`` ("x": left-right, "y": upside-down, None: as they are)."""
    return video if axis is None else video.flip(-1 if axis == "x" else -2)


def _flip_queries(queries: torch.Tensor, hw: Sequence[int], axis: Optional[str]) -> torch.Tensor:
    """(B, N, 3) ``(t, x, y)`` queries in the frames mirrored along ``axis``."""
    if axis is None:
        return queries
    return torch.cat([queries[..., :1], flip_points(queries[..., 1:], hw, axis)], dim=-1)


def _overwrite_coords(state: Any, coords: torch.Tensor, ind: int, length: int) -> Any:
    """A copy of a streaming state whose tracks of frames ``[ind, ind + length)`` are those of ``coords``
    (B, T_seen, N, 2), in the state's own resolution: what its next window is handed off from."""
    new = state.coords.clone()
    new[:, ind : ind + length] = coords[:, ind : ind + length].to(new.dtype)
    return dataclasses.replace(state, coords=new)


def inference_overrides(refine: Union[bool, Sequence[int]] = True, flip_ensemble: bool = True,
                        local_grid: Optional[int] = None, polish: bool = True) -> dict[str, Any]:
    """Predictor keyword arguments that change the weights' default second pass, switch off the flip ensemble or the
    Lucas-Kanade polish (``polish=False``) and/or set the local grid (``local_grid``: None leaves it to the weights,
    0 turns it off, K >= 2 a K x K grid).

    ``refine``: True leaves the second pass to the weights, False turns it off, ``(H, W)`` runs it at that
    resolution (checked by the predictor). ``CoTrackerPredictor(checkpoint, **inference_overrides(refine=False))``
    tracks with one pass per window; the command-line options ``--no-refine``, ``--refine-resolution H W``,
    ``--no-ensemble``, ``--no-polish`` and ``--local-grid K`` map to this. Settings left to the weights are absent (an empty dict for
    the defaults).
    """
    kw: dict[str, Any] = {}
    if refine is False:
        kw["refine_resolution"] = False
    elif isinstance(refine, (tuple, list)):
        kw["refine_resolution"] = tuple(refine)
    elif refine is not True:
        raise ValueError(f"refine must be True (the weights' setting), False (no second pass) or (H, W), got "
                         f"{refine!r}")
    if not flip_ensemble:
        kw["flip_ensemble"] = False
    if not polish:
        kw["polish"] = False
    if local_grid is not None:
        kw["local_grid_size"] = check_local_grid(local_grid, 0.1, ("local_grid", "local_grid_extent"))[0]
    return kw


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    if isinstance(x, (bool, int, float, str, type(None))) or (
            isinstance(x, (tuple, list)) and len(x) <= 8 and all(isinstance(v, (bool, int, float, str)) for v in x)):
        return repr(x)  # small plain values say more than their type
    shape = getattr(x, "shape", None)
    return f"{type(x).__module__}.{type(x).__qualname__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _check_video(video: Any, name: str = "video") -> None:
    """Check a (B, T, 3, H, W) RGB clip of uint8 or float values in 0..255.

    The value checks run chunk by chunk in time so that a long clip gets no full-size temporary.
    """
    if not isinstance(video, torch.Tensor):
        hint = ""
        if hasattr(video, "shape") and len(getattr(video, "shape")) == 4:
            hint = " For a (T, H, W, 3) numpy array use torch.from_numpy(frames).permute(0, 3, 1, 2)[None]."
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, T, 3, H, W), got {_describe(video)}.{hint}")
    if video.dim() != 5:
        hint = " For a single (T, 3, H, W) clip pass video[None]." if video.dim() == 4 else ""
        raise ValueError(f"{name} must have 5 dimensions (B, T, 3, H, W), got shape {tuple(video.shape)}.{hint}")
    B, T, C, H, W = video.shape
    if C != 3:
        hint = ""
        if W == 3:
            hint = " It looks channels-last (B, T, H, W, 3): use video.permute(0, 1, 4, 2, 3)."
        raise ValueError(f"{name} must have 3 (RGB) channels in dimension 2, got shape {tuple(video.shape)}.{hint}")
    if B == 0 or T == 0 or H == 0 or W == 0:
        raise ValueError(f"{name} is empty: shape {tuple(video.shape)}; expected at least one clip of one frame")
    if video.dtype == torch.uint8:
        return
    if not video.is_floating_point():
        raise TypeError(
            f"{name} must be uint8 or floating point with values 0..255, got {video.dtype}; use video.float()"
        )
    lo, hi = math.inf, -math.inf
    for chunk in video.split(RESIZE_CHUNK_FRAMES, dim=1):
        if not bool(torch.isfinite(chunk).all()):
            raise ValueError(f"{name} contains NaN or inf values; expected finite RGB values in 0..255")
        c_lo, c_hi = torch.aminmax(chunk)
        lo, hi = min(lo, float(c_lo)), max(hi, float(c_hi))
    if lo < 0:
        raise ValueError(
            f"{name} has negative values (min {lo:.3g}); expected RGB values in 0..255 "
            "(undo any normalisation, e.g. (video + 1) * 127.5 for a [-1, 1] clip)"
        )
    if 0 < hi <= 1.0:
        raise ValueError(
            f"{name} looks scaled to 0..1 (max {hi:.3g}); expected RGB values in 0..255: pass video * 255"
        )
    if hi > 256.0:
        raise ValueError(f"{name} has values above 255 (max {hi:.4g}); expected 8-bit RGB values in 0..255")


def _check_int(value: Any, name: str, low: int, high: Optional[int] = None) -> int:
    is_int_tensor = isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point()
    if isinstance(value, bool) or not (isinstance(value, numbers.Integral) or is_int_tensor):
        raise TypeError(f"{name} must be an int, got {_describe(value) if hasattr(value, 'shape') else repr(value)}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def _check_queries(
    queries: Any, batch: int, num_frames: Optional[int], hw: Sequence[int]
) -> torch.Tensor:
    """Validate (B, N, 3) ``(t, x, y)`` queries in input pixels; returns them as float32."""
    if not isinstance(queries, torch.Tensor):
        raise TypeError(
            f"queries must be a torch.Tensor of shape (B, N, 3) holding (t, x, y), got {_describe(queries)}; "
            "use torch.as_tensor(queries, dtype=torch.float32)"
        )
    if queries.dim() != 3 or queries.shape[-1] != 3:
        one_clip = queries.dim() == 2 and queries.shape[-1] == 3
        hint = " For one clip's (N, 3) queries pass queries[None]." if one_clip else ""
        raise ValueError(f"queries must have shape (B, N, 3) holding (t, x, y), got {tuple(queries.shape)}.{hint}")
    if queries.shape[0] != batch:
        raise ValueError(
            f"queries batch size {queries.shape[0]} does not match the video's batch size {batch}; "
            f"pass one set of queries per clip (e.g. queries.expand({batch}, -1, -1))"
        )
    if queries.shape[1] == 0:
        raise ValueError("queries holds no points (N = 0); pass at least one (t, x, y) query, or use grid_size > 0")
    if queries.dtype == torch.bool or queries.is_complex():
        raise TypeError(f"queries must be real numbers, got {queries.dtype}")
    q = queries.float()
    if not bool(torch.isfinite(q).all()):
        raise ValueError("queries contain NaN or inf values; expected finite (t, x, y)")
    t, x, y = q[..., 0], q[..., 1], q[..., 2]
    t_max = None if num_frames is None else num_frames - 1
    if float(t.min()) < 0 or (t_max is not None and float(t.max()) > t_max):
        bad = float(t.min()) if float(t.min()) < 0 else float(t.max())
        rng = ">= 0" if t_max is None else f"in [0, {t_max}]"
        raise ValueError(f"query frame indices t must be {rng} (the video's frames), got t = {bad:g}")
    H, W = int(hw[0]), int(hw[1])
    tol = QUERY_XY_TOLERANCE
    for v, name, size in ((x, "x", W), (y, "y", H)):
        lo, hi = float(v.min()), float(v.max())
        if lo < -tol or hi > size - 1 + tol:
            bad = lo if lo < -tol else hi
            raise ValueError(
                f"query {name} = {bad:g} lies outside the frame: expected {name} in [0, {size - 1}] pixels of the "
                f"{H}x{W} input video (queries are (t, x, y), x along the width)"
            )
    return q


def _check_segm_mask(segm_mask: Any, batch: int, hw: Sequence[int]) -> torch.Tensor:
    if not isinstance(segm_mask, torch.Tensor):
        raise TypeError(f"segm_mask must be a torch.Tensor of shape (B, 1, H, W), got {_describe(segm_mask)}")
    H, W = int(hw[0]), int(hw[1])
    if segm_mask.dim() != 4 or segm_mask.shape[1] != 1 or segm_mask.shape[0] not in (1, batch):
        hint = " For an (H, W) mask pass segm_mask[None, None]." if segm_mask.dim() == 2 else ""
        raise ValueError(
            f"segm_mask must have shape ({batch} or 1, 1, {H}, {W}), got {tuple(segm_mask.shape)}.{hint}"
        )
    if tuple(segm_mask.shape[-2:]) != (H, W):
        raise ValueError(
            f"segm_mask size {tuple(segm_mask.shape[-2:])} does not match the video frames ({H}, {W}); "
            "pass a mask of the input video's size"
        )
    return segm_mask


def _check_video_hw(video_hw: Any) -> tuple[int, int]:
    try:
        H, W = (int(v) for v in video_hw)
    except (TypeError, ValueError):
        raise TypeError(f"video_hw must be a pair of ints (H, W), got {video_hw!r}") from None
    if H < 1 or W < 1:
        raise ValueError(f"video_hw must be positive (H, W), got {video_hw!r}")
    return H, W


# ----------------------------------------------------------------------------------------------------------
# Small pure helpers
# ----------------------------------------------------------------------------------------------------------


def resize_video(
    video: torch.Tensor,
    size_hw: Sequence[int],
    device: Optional[torch.device] = None,
    dtype: torch.dtype = torch.float32,
    chunk_frames: int = RESIZE_CHUNK_FRAMES,
) -> torch.Tensor:
    """Resize a clip with bilinear, align-corners interpolation, a few frames at a time.

    The official predictor resizes the float 0..255 frames with
    ``F.interpolate(..., mode="bilinear", align_corners=True)``; this does the same per chunk of
    ``chunk_frames`` frames and writes into one preallocated output, so the clip is never held at
    the target size twice.

    Args:
        video: (B, T, 3, H, W) uint8 or float, values 0..255.
        size_hw: target ``(h, w)``.
        device: where the output lives (default: the input's device).
        dtype: output dtype; float32 reproduces the official numerics, uint8 rounds to the nearest
            level (4x less memory), float16 keeps ~3 significant digits.

    Returns:
        (B, T, 3, h, w) in ``dtype`` on ``device``, values 0..255.
    """
    B, T, C, H, W = video.shape
    h, w = int(size_hw[0]), int(size_hw[1])
    device = video.device if device is None else torch.device(device)
    out = torch.empty((B, T, C, h, w), dtype=dtype, device=device)
    for start in range(0, T, chunk_frames):
        chunk = video[:, start : start + chunk_frames].to(device=device, dtype=torch.float32)
        n = chunk.shape[1]
        resized = F.interpolate(chunk.reshape(B * n, C, H, W), size=(h, w), mode="bilinear", align_corners=True)
        resized = resized.reshape(B, n, C, h, w)  # (B, n, 3, h, w)
        if dtype == torch.uint8:
            resized = resized.round_().clamp_(0, 255)
        out[:, start : start + n] = resized.to(dtype)
    return out


def _flip_time_(video: torch.Tensor) -> None:
    """Reverse a (B, T, ...) tensor along time in place, one frame pair at a time (no full copy)."""
    T = video.shape[1]
    for i in range(T // 2):
        j = T - 1 - i
        tmp = video[:, i].clone()
        video[:, i] = video[:, j]
        video[:, j] = tmp


def _support_grid(size: int, model_hw: Sequence[int], batch: int, device: torch.device) -> torch.Tensor:
    """The ``size x size`` support grid at t = 0, (B, size**2, 3) model pixels."""
    xy = grid_points(size, model_hw, device=device).expand(batch, -1, -1)  # (B, G, 2)
    return torch.cat([xy.new_zeros(batch, xy.shape[1], 1), xy], dim=-1)  # (B, G, 3)


def _local_grids(queries: torch.Tensor, size: int, extent: float, model_hw: Sequence[int]) -> torch.Tensor:
    """A ``size x size`` grid of extra points around every query, at its query frame (the official evaluation's
    "local grid").

    Args:
        queries: (B, N, 3) ``(t, x, y)`` model pixels.
        size: points per side, >= 2.
        extent: side of the square the grid spans, model pixels; points are clamped into the frame.
        model_hw: ``(H, W)`` of the model resolution.

    Returns:
        (B, N * size**2, 3) ``(t, x, y)``: query n's grid is rows ``n * size**2 .. (n + 1) * size**2 - 1``.
    """
    H, W = int(model_hw[0]), int(model_hw[1])
    offsets = torch.linspace(-extent / 2, extent / 2, size, device=queries.device, dtype=queries.dtype)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    delta = torch.stack([dx, dy], dim=-1).reshape(1, 1, -1, 2)  # (1, 1, G, 2) (dx, dy), row-major
    xy = queries[:, :, None, 1:] + delta  # (B, N, G, 2)
    xy = torch.stack([xy[..., 0].clamp(0, W - 1), xy[..., 1].clamp(0, H - 1)], dim=-1)
    t = queries[:, :, None, :1].expand(-1, -1, delta.shape[2], -1)  # (B, N, G, 1)
    return torch.cat([t, xy], dim=-1).reshape(queries.shape[0], -1, 3)


def _grid_queries(
    grid_size: int,
    query_frame: int,
    model_hw: Sequence[int],
    batch: int,
    device: torch.device,
    segm_mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Grid queries at model resolution, optionally kept only where a segmentation mask is set.

    Args:
        segm_mask: (B or 1, 1, H, W), non-zero on the region to track; it is resized to the model
            resolution with nearest-neighbour and read at ``(round(y), round(x))`` of each grid point.

    Returns:
        (B, n, 3) ``(t, x, y)`` in model pixels, ``t = query_frame``.
    """
    xy = grid_points(grid_size, model_hw, device=device)  # (1, G, 2)
    if segm_mask is None:
        xy = xy.expand(batch, -1, -1)
    else:
        h, w = int(model_hw[0]), int(model_hw[1])
        mask = F.interpolate(segm_mask.to(device=device, dtype=torch.float32), size=(h, w), mode="nearest")
        col = xy[0, :, 0].round().long().clamp(0, w - 1)
        row = xy[0, :, 1].round().long().clamp(0, h - 1)
        keep = mask[:, 0, row, col] != 0  # (Bm, G)
        counts = keep.sum(dim=1).tolist()
        if min(counts) == 0:
            raise ValueError(
                f"segm_mask selects none of the {grid_size}x{grid_size} grid points (points kept per clip: {counts}); "
                "check that the mask is non-zero on the object, or use a larger grid_size"
            )
        if len(set(counts)) > 1:
            raise ValueError(
                f"segm_mask keeps a different number of grid points per clip ({counts}); a batch needs equal "
                "counts: track the clips one at a time, or pass a single (1, 1, H, W) mask for all of them"
            )
        xy = torch.stack([xy[0][keep[b]] for b in range(keep.shape[0])])  # (Bm, n, 2)
        xy = xy.expand(batch, -1, -1)
    t = xy.new_full((batch, xy.shape[1], 1), float(query_frame))
    return torch.cat([t, xy], dim=-1)  # (B, n, 3)


def _correct_query_frames(tracks: torch.Tensor, visible: torch.Tensor, queries: torch.Tensor) -> None:
    """Set each point's own query frame to the query position and to visible, in place.

    Args:
        tracks: (B, T', N, 2) input pixels; visible: (B, T', N) bool.
        queries: (B, N, 3) ``(t, x, y)`` input pixels; ``t`` is truncated to an int (``t_q = int(t)``).
            Points whose query frame is not among the T' frames are left alone (online tracking).
    """
    B, T, N = visible.shape
    t_q = queries[..., 0].long().to(tracks.device)  # (B, N)
    b_idx = torch.arange(B, device=tracks.device)[:, None].expand(B, N)
    n_idx = torch.arange(N, device=tracks.device)[None, :].expand(B, N)
    seen = t_q < T
    b_idx, n_idx, t_q = b_idx[seen], n_idx[seen], t_q[seen]
    tracks[b_idx, t_q, n_idx] = queries[..., 1:].to(tracks)[seen]
    visible[b_idx, t_q, n_idx] = True


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Run ``module`` in eval mode and restore its previous mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _module_device(module: nn.Module) -> torch.device:
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return torch.device("cpu") if first is None else first.device


# ----------------------------------------------------------------------------------------------------------
# Shared base
# ----------------------------------------------------------------------------------------------------------


class _PredictorBase(nn.Module):
    def __init__(
        self,
        checkpoint: Optional[Union[str, os.PathLike]],
        model: Optional[nn.Module],
        device: Optional[Union[str, torch.device]],
        iters: Optional[int],
        vis_threshold: Optional[float],
        support_grid_size: int,
        default_vis_threshold: float = 0.9,
        refine_resolution: Union[None, bool, Sequence[int]] = None,
        flip_ensemble: Optional[bool] = None,
        feedback: Optional[bool] = None,
        local_grid_size: Optional[int] = None,
        local_grid_extent: Optional[float] = None,
        polish: Union[None, bool, PolishConfig] = None,
    ) -> None:
        super().__init__()
        if model is not None and checkpoint is not None:
            raise ValueError("pass either checkpoint= or model=, not both")
        if model is None:
            from cotracker.hub import DEFAULT_CHECKPOINT, build_cotracker  # lazy: the hub pulls in the model code

            model = build_cotracker(DEFAULT_CHECKPOINT if checkpoint is None else checkpoint, device=device)
            model.eval()  # inference only, as in the official predictor
        elif not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module (e.g. CoTracker2), got {_describe(model)}")
        if device is not None:
            model = model.to(device)
        # A module passed in (e.g. by a training loop) keeps its mode; every call runs it in eval mode.
        self.model = model
        config = getattr(model, "config", None)
        if iters is None:  # the iterations chosen for the weights, else the official 6
            iters = getattr(config, "inference_iters", None) or DEFAULT_ITERS
        self.iters = _check_int(iters, "iters", 1)
        #: ``(h, w)`` of the coarse-to-fine second pass, or None when there is none
        self.refine_shape = _resolve_refine_resolution(refine_resolution, config)
        #: whether every window is tracked by the flip ensemble (three trackers, median)
        self.flip_ensemble = _resolve_switch(flip_ensemble, config, "flip_ensemble")
        #: whether the final positions (second pass, ensemble median) are handed back to every pass's next window
        self.feedback = _resolve_switch(feedback, config, "feedback")
        if vis_threshold is None:  # the threshold calibrated for the weights, else the official default
            vis_threshold = getattr(config, "vis_threshold", None)
            vis_threshold = default_vis_threshold if vis_threshold is None else vis_threshold
        if not 0.0 <= float(vis_threshold) <= 1.0:
            raise ValueError(f"vis_threshold must be a probability in [0, 1], got {vis_threshold}")
        self.vis_threshold = float(vis_threshold)
        self.support_grid_size = _check_int(support_grid_size, "support_grid_size", 1)
        #: points per side of the local grid added around every explicit query (0 = none)
        if local_grid_size is None:  # the weights' setting, else none (official)
            local_grid_size = getattr(config, "local_grid_size", 0) or 0
        if local_grid_extent is None:
            local_grid_extent = getattr(config, "local_grid_extent", None) or 0.1
        self.local_grid_size, self.local_grid_extent = check_local_grid(local_grid_size, local_grid_extent)
        #: settings of the Lucas-Kanade polish of the final tracks (:mod:`cotracker.polish`), or None for none
        self.polish = _resolve_polish(polish, config)

    @property
    def device(self) -> torch.device:
        return _module_device(self.model)

    def _window(self, chunk_m: torch.Tensor, stream: Any, refine: Any, queries: torch.Tensor,
                kp: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
        """Track one window (``chunk_m``: its frames at model resolution) with the model's streaming API.

        Without the flip ensemble this is :meth:`_window_single`. With it, the window is tracked three times, as
        it is and mirrored left-right and upside-down, each member with its own streaming states (``stream`` and
        ``refine`` are then tuples of the members' states); the positions are the per-coordinate median of the
        members' tracks (mapped back to the unflipped frames), the visibility the mean of their probabilities.

        Returns:
            as :meth:`_window_single`.
        """
        if not self.flip_ensemble:
            return self._window_single(chunk_m, stream, refine, queries, kp)
        hw = self.interp_shape
        streams = stream if stream is not None else (None,) * len(_FLIPS)
        refines = refine if refine is not None else (None,) * len(_FLIPS)
        coords, vis, new_streams, new_refines = [], [], [], []
        for axis, s_k, r_k in zip(_FLIPS, streams, refines):
            c_k, v_k, s_k, r_k = self._window_single(
                _flip_frames(chunk_m, axis), s_k, r_k, _flip_queries(queries, hw, axis), kp
            )
            coords.append(c_k if axis is None else flip_points(c_k, hw, axis))
            vis.append(v_k)
            new_streams.append(s_k)
            new_refines.append(r_k)
        median = torch.stack(coords).median(dim=0).values  # (B, T_seen, N, 2)
        if self.feedback:  # every member hands the consensus, not its own tracks, to its next window
            ind = int(new_streams[0].ind) - self.model.config.step
            for k, axis in enumerate(_FLIPS):
                mine = median if axis is None else flip_points(median, hw, axis)
                new_streams[k] = _overwrite_coords(new_streams[k], mine, ind, int(chunk_m.shape[1]))
                if new_refines[k] is not None:
                    fine = rescale_points(mine, hw, self.refine_shape)
                    new_refines[k] = _overwrite_coords(new_refines[k], fine, ind, int(chunk_m.shape[1]))
        return median, torch.stack(vis).mean(dim=0), tuple(new_streams), tuple(new_refines)

    def _window_single(self, chunk_m: torch.Tensor, stream: Any, refine: Any, queries: torch.Tensor,
                       kp: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
        """Track one window (``chunk_m``: its frames at model resolution) with the model's streaming API.

        Without a refinement resolution this is one ``stream_step``. With one, the window is tracked again at
        ``refine_shape`` (the chunk upsampled, the queries rescaled), initialised from the first pass's tracks of
        the chunk's frames; the positions come from that second pass, the visibility from the first.

        Returns:
            coords (B, T_seen, N, 2) model pixels, visibility probabilities (B, T_seen, N), the new stream
            state and the new refinement state (None without refinement).
        """
        kwargs = self._model_kwargs(kp)
        if stream is None:
            stream = self.model.init_stream(queries, **kwargs)
        ind, Tc = int(stream.ind), int(chunk_m.shape[1])
        out, stream = self.model.stream_step(chunk_m, stream, iters=self.iters)
        coords, vis = out[0], out[1]
        if self.refine_shape is None:
            return coords, vis, stream, None
        base_hw, fine_hw = self.interp_shape, self.refine_shape
        if refine is None:
            refine = self.model.init_stream(rescale_queries(queries, base_hw, fine_hw), **kwargs)
        guess = rescale_points(coords[:, ind : ind + Tc].float(), base_hw, fine_hw)
        chunk_f = resize_video(chunk_m, fine_hw, device=chunk_m.device)
        out_f, refine = self.model.stream_step(chunk_f, refine, iters=self.iters, init_coords=guess)
        coords = rescale_points(out_f[0].float(), fine_hw, base_hw)
        if self.feedback:  # the first pass's next window starts from the refined positions
            stream = _overwrite_coords(stream, coords, ind, Tc)
        return coords, vis, stream, refine

    @property
    def interp_shape(self) -> tuple[int, int]:
        """The model resolution ``(h, w)`` every frame is resized to (384, 512 for the official models)."""
        h, w = self.model.config.model_resolution
        return int(h), int(w)

    @property
    def num_keypoints(self) -> int:
        """Keypoint types the model embeds (17 for a pose model), 0 if it has no keypoint embedding."""
        return int(getattr(self.model.config, "num_keypoints", 0) or 0)

    def _resolve_keypoint_ids(
        self, keypoint_ids: Any, batch: int, num_points: int, user_queries: bool
    ) -> Optional[torch.Tensor]:
        """Validate user keypoint ids, or assign ``n % 17`` for consecutive 17-keypoint people.

        Returns:
            (B, N) int64 on the model's device, or None (track without keypoint ids).
        """
        num_kp = self.num_keypoints
        if keypoint_ids is not None:
            if not user_queries:
                raise ValueError("keypoint_ids need explicit queries (one id per query); grids carry no keypoint ids")
            if not isinstance(keypoint_ids, torch.Tensor):
                raise TypeError(f"keypoint_ids must be an int64 tensor of shape (B, N), got {_describe(keypoint_ids)}")
            if keypoint_ids.is_floating_point() or keypoint_ids.dtype == torch.bool or keypoint_ids.is_complex():
                raise TypeError(f"keypoint_ids must hold integers (int64), got {keypoint_ids.dtype}")
            if keypoint_ids.dim() == 1 and keypoint_ids.shape[0] == num_points:
                keypoint_ids = keypoint_ids[None].expand(batch, -1)
            if tuple(keypoint_ids.shape) != (batch, num_points):
                raise ValueError(
                    f"keypoint_ids must have shape (B, N) = ({batch}, {num_points}), one id per query, "
                    f"got {tuple(keypoint_ids.shape)}"
                )
            if num_kp == 0:
                logger.warning("the model has no keypoint embedding; keypoint_ids are ignored")
                return None
            lo, hi = int(keypoint_ids.min()), int(keypoint_ids.max())
            if lo < -1 or hi >= num_kp:
                raise ValueError(
                    f"keypoint_ids must lie in [-1, {num_kp - 1}] (-1 = not a keypoint), got values in [{lo}, {hi}]"
                )
            return keypoint_ids.to(device=self.device, dtype=torch.int64)
        if not user_queries or num_kp == 0:
            return None
        if num_points % num_kp == 0:
            logger.info(
                "the model embeds %d keypoint types: treating the %d queries as %d people of %d consecutive "
                "keypoints (ids n %% %d); pass keypoint_ids to override",
                num_kp, num_points, num_points // num_kp, num_kp, num_kp,
            )
            ids = torch.arange(num_points, device=self.device) % num_kp
            return ids[None].expand(batch, -1).contiguous()
        logger.info(
            "the model embeds %d keypoint types but got %d queries (not a multiple of %d): tracking without "
            "keypoint ids", num_kp, num_points, num_kp,
        )
        return None

    def _with_support(
        self, queries: torch.Tensor, keypoint_ids: Optional[torch.Tensor], add_support_grid: bool,
        local: bool = False,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Append context points after the user points (keypoint id -1; their tracks are dropped): each query's
        local grid when ``local`` and ``local_grid_size > 0``, then the support grid at t = 0 when
        ``add_support_grid``."""
        extra = []
        if local and self.local_grid_size > 0:
            extent = self.local_grid_extent * self.interp_shape[1]
            extra.append(_local_grids(queries, self.local_grid_size, extent, self.interp_shape))
        if add_support_grid:
            extra.append(_support_grid(self.support_grid_size, self.interp_shape, queries.shape[0], queries.device))
        if not extra:
            return queries, keypoint_ids
        B = queries.shape[0]
        support = torch.cat(extra, dim=1).to(queries.dtype)
        queries = torch.cat([queries, support], dim=1)  # (B, N + G, 3)
        if keypoint_ids is not None:
            pad = keypoint_ids.new_full((B, support.shape[1]), -1)
            keypoint_ids = torch.cat([keypoint_ids, pad], dim=1)  # (B, N + G)
        return queries, keypoint_ids

    def _finalize(
        self,
        coords: torch.Tensor,
        vis: torch.Tensor,
        num_points: int,
        queries_input: torch.Tensor,
        video_hw: Sequence[int],
    ) -> TrackResult:
        """Drop support points, threshold visibility, scale to input pixels, pin the query frames."""
        coords, vis = coords[:, :, :num_points], vis[:, :, :num_points]
        visible = vis > self.vis_threshold  # (B, T, N) bool
        tracks = rescale_points(coords.float(), self.interp_shape, video_hw).contiguous()  # (B, T, N, 2)
        _correct_query_frames(tracks, visible, queries_input)
        return TrackResult(tracks, visible)

    def _polish_clip(self, frames: torch.Tensor, tracks: torch.Tensor, visible: torch.Tensor, query_frames: torch.Tensor,
                     hw: Sequence[int], backward: bool = False, start: Optional[torch.Tensor] = None) -> torch.Tensor:
        """:func:`~cotracker.polish.polish_tracks` of one clip's (T, N, 2) ``hw``-pixel tracks on ``frames``
        (T, 3, h, w): at the frames' own resolution, which is ``hw`` or, for callers that pass frames already
        resized, the model resolution."""
        frame_hw = (int(frames.shape[-2]), int(frames.shape[-1]))
        same = frame_hw == tuple(hw)
        xy = tracks if same else rescale_points(tracks, hw, frame_hw)
        out = polish_tracks(frames, xy, visible, query_frames, self.polish, backward=backward, start=start)
        out = out if same else rescale_points(out, frame_hw, hw)
        return out.to(tracks.dtype)

    def _model_kwargs(self, keypoint_ids: Optional[torch.Tensor]) -> dict:
        return {} if keypoint_ids is None else {"keypoint_ids": keypoint_ids}


# ----------------------------------------------------------------------------------------------------------
# Offline
# ----------------------------------------------------------------------------------------------------------


class CoTrackerPredictor(_PredictorBase):
    """Track points through a whole clip (offline), in input-video pixels.

    Example::

        predictor = CoTrackerPredictor(checkpoint="./checkpoints/cotracker2.pth")
        tracks, visibilities = predictor(video=video, grid_size=10, grid_query_frame=0, backward_tracking=True)
        tracks, visibilities = predictor(video=video, queries=query_points)

    Args:
        checkpoint: a weights file (Meta's ``cotracker2.pth`` / ``cotracker2v1.pth`` or one of ours in
            safetensors) or a registry name of :mod:`cotracker.hub`; None = the package default.
        model: a tracker module to wrap instead of loading one (tests, training-time evaluation).
        device: where to run; default: wherever the model is.
        iters: refinement iterations per window; default: the number chosen for the weights
            (``model.config.inference_iters``, set in our shipped files), else 6 (official).
        vis_threshold: a point is visible where the model's probability exceeds this; default: the threshold
            calibrated for the weights (``model.config.vis_threshold``, set in our shipped files), else 0.9 (official).
        support_grid_size: side of the support grid appended to explicit queries (6 -> 36 points).
        dense_grid_size: dense tracking (no queries, ``grid_size=0``) uses a lattice with a step of
            ``W // dense_grid_size`` input pixels (80, official).
        resize_dtype: dtype of the model-resolution copy of the video; float32 reproduces the
            official numerics, uint8 needs 4x less memory (rounds to integer levels).
        refine_resolution: ``(H, W)`` of a coarse-to-fine second pass: every window is tracked again at this
            resolution (the model-resolution frames upsampled), starting from the first pass's tracks, which
            makes the positions more precise (384x512 after 192x256 took 4x the time of one pass, BENCHMARKS.md).
            Visibility comes from the first pass. Default (None): the weights' ``model.config.refine_resolution``
            (our shipped small models); False: never (the official behaviour).
        flip_ensemble: track every window three times, as it is and mirrored left-right and upside-down, and take
            the per-coordinate median of the three tracks and the mean of their visibilities: fewer lost points and
            less jitter for 3x the time (BENCHMARKS.md). Default (None): the weights'
            ``model.config.flip_ensemble`` (our shipped small models); False: one tracker (the official behaviour).
        feedback: hand each window's final positions (the second pass's; the ensemble's median) back to every
            pass's streaming state, so that every pass starts its next window from them rather than from its own
            tracks (no extra cost; with neither a second pass nor the ensemble it changes nothing). Default (None):
            the weights' ``model.config.feedback``; False: each pass hands off its own tracks (the official way).
        local_grid_size: track a ``local_grid_size x local_grid_size`` grid of extra points around every explicit
            query, at its query frame, beside the queries (their tracks are dropped): context for the model where
            there are few queries, as in the official evaluation's local grid (8). Costs ``local_grid_size**2``
            points per query; grids and dense tracking never get one. Default (None): the weights'
            ``model.config.local_grid_size``; 0: none (the official predictor's behaviour).
        local_grid_extent: side of each local grid as a fraction of the model-resolution width (0.1: about 50
            pixels of a 512-wide model input, the official extent). Default (None): the weights' setting, else 0.1.
        polish: sharpen the final tracks with a guarded Lucas-Kanade chain at the input resolution
            (:mod:`cotracker.polish`: LK from frame to frame, started at the model's position, kept only where the
            model calls the point visible, LK's round trip agrees and it stays within a small radius of the model).
            Default (None): the weights' ``model.config.polish`` (our shipped small models); False: never (official);
            True: the weights' settings or else :class:`~cotracker.polish.PolishConfig`'s; or a ``PolishConfig``.
    """

    def __init__(
        self,
        checkpoint: Optional[Union[str, os.PathLike]] = None,
        *,
        model: Optional[nn.Module] = None,
        device: Optional[Union[str, torch.device]] = None,
        iters: Optional[int] = None,
        vis_threshold: Optional[float] = None,
        support_grid_size: int = 6,
        dense_grid_size: int = 80,
        resize_dtype: torch.dtype = torch.float32,
        refine_resolution: Union[None, bool, Sequence[int]] = None,
        flip_ensemble: Optional[bool] = None,
        feedback: Optional[bool] = None,
        local_grid_size: Optional[int] = None,
        local_grid_extent: Optional[float] = None,
        polish: Union[None, bool, PolishConfig] = None,
    ) -> None:
        super().__init__(checkpoint, model, device, iters, vis_threshold, support_grid_size,
                         default_vis_threshold=0.9, refine_resolution=refine_resolution, flip_ensemble=flip_ensemble,
                         feedback=feedback, local_grid_size=local_grid_size, local_grid_extent=local_grid_extent,
                         polish=polish)
        self.dense_grid_size = _check_int(dense_grid_size, "dense_grid_size", 1)
        if resize_dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.uint8):
            raise ValueError(f"resize_dtype must be float32, float16, bfloat16 or uint8, got {resize_dtype}")
        self.resize_dtype = resize_dtype

    @torch.no_grad()
    def forward(
        self,
        video: torch.Tensor,
        queries: Optional[torch.Tensor] = None,
        segm_mask: Optional[torch.Tensor] = None,
        grid_size: int = 0,
        grid_query_frame: int = 0,
        backward_tracking: bool = False,
        keypoint_ids: Optional[torch.Tensor] = None,
        add_support_grid: Optional[bool] = None,
        video_hw: Optional[Sequence[int]] = None,
    ) -> TrackResult:
        """Track points through ``video``.

        What is tracked: ``queries`` if given (they win over ``grid_size``); else a
        ``grid_size x grid_size`` grid at frame ``grid_query_frame`` (kept only on ``segm_mask`` if
        given); else (``grid_size == 0``) a dense lattice, tracked in ``step**2`` passes whose
        results are concatenated along N.

        Args:
            video: (B, T, 3, H, W) uint8 or float RGB in 0..255.
            queries: (B, N, 3) ``(t, x, y)``: frame index and input pixels (align-corners).
            segm_mask: (B or 1, 1, H, W), non-zero where grid points are kept; needs ``grid_size > 0``.
            grid_size: points per side of the query grid; 0 = no grid.
            grid_query_frame: frame the grid (and the dense lattice) is queried at.
            backward_tracking: also track backwards in time and use that for frames before each
                point's query frame.
            keypoint_ids: (B, N) int64 keypoint type per query (0..16, -1 = none) for a pose model.
                None with a pose model and N a multiple of 17 assigns ``n % 17`` (consecutive people).
            add_support_grid: append a ``support_grid_size**2`` grid at t = 0 as extra context (its
                tracks are dropped). Default (official): when ``grid_size == 0`` or ``segm_mask`` is given.
            video_hw: ``(H, W)`` of the original video when ``video`` was already resized to the model
                resolution by the caller: queries, mask and outputs are then in ``(H, W)`` pixels.

        Returns:
            TrackResult: tracks (B, T, N, 2) float32 input pixels, visibility (B, T, N) bool, on the
            model's device. At each point's query frame the track is the query and visible.
        """
        _check_video(video)
        B, T = int(video.shape[0]), int(video.shape[1])
        model_hw = self.interp_shape
        if video_hw is not None:
            hw = _check_video_hw(video_hw)
            if tuple(video.shape[-2:]) != model_hw:
                raise ValueError(
                    f"with video_hw the video must already be at the model resolution {model_hw}, got frames of "
                    f"{tuple(video.shape[-2:])}; drop video_hw to let the predictor resize"
                )
        else:
            hw = (int(video.shape[-2]), int(video.shape[-1]))
        grid_size = _check_int(grid_size, "grid_size", 0)
        grid_query_frame = _check_int(grid_query_frame, "grid_query_frame", 0, T - 1)

        if queries is not None:
            queries_input = _check_queries(queries, B, T, hw)
            if grid_size > 0:
                logger.warning(
                    "both queries and grid_size=%d given: tracking the queries, ignoring the grid", grid_size
                )
            if segm_mask is not None:
                logger.warning("segm_mask only filters grid points; it is ignored when queries are given")
        elif segm_mask is not None:
            if grid_size == 0:
                raise ValueError("segm_mask selects points of a grid: pass grid_size > 0 with it (e.g. grid_size=10)")
            segm_mask = _check_segm_mask(segm_mask, B, hw)
        if keypoint_ids is not None and queries is None:
            raise ValueError("keypoint_ids need explicit queries (one id per query); grids carry no keypoint ids")

        if queries is None and grid_size == 0:
            return self._dense(video, hw, grid_query_frame, backward_tracking)

        device = self.device
        if queries is not None:
            queries_input = queries_input.to(device)
            queries_model = rescale_queries(queries_input, hw, model_hw)  # (B, N, 3)
        else:
            queries_model = _grid_queries(grid_size, grid_query_frame, model_hw, B, device, segm_mask)
            queries_input = rescale_queries(queries_model, model_hw, hw)
        if add_support_grid is None:
            add_support_grid = grid_size == 0 or segm_mask is not None
        kp = self._resolve_keypoint_ids(keypoint_ids, B, queries_model.shape[1], queries is not None)
        video_m, owned = self._to_model_resolution(video)
        result = self._track(video_m, owned, queries_model, queries_input, hw, bool(add_support_grid),
                             backward_tracking, kp, local=queries is not None)
        del video_m
        return self._polish_result(result, video, hw, queries_input, backward_tracking)

    # -- steps -------------------------------------------------------------------------------------------

    def _to_model_resolution(self, video: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """The clip at model resolution on the model's device, and whether it is our own copy."""
        device = self.device
        if tuple(video.shape[-2:]) == self.interp_shape:
            # Align-corners resizing to the same size is the identity: skip the copy.
            moved = video.to(device)
            return moved, moved.data_ptr() != video.data_ptr()
        return resize_video(video, self.interp_shape, device=device, dtype=self.resize_dtype), True

    def _polish_result(self, result: TrackResult, video: torch.Tensor, hw: Sequence[int], queries_input: torch.Tensor,
                       backward: bool) -> TrackResult:
        """The Lucas-Kanade polish of every clip of ``result`` (no-op without one); query frames stay pinned."""
        if self.polish is None:
            return result
        query_frames = queries_input[..., 0].long()  # (B, N), as _correct_query_frames truncates them
        tracks = torch.stack([
            self._polish_clip(video[b], result.tracks[b], result.visibility[b], query_frames[b], hw, backward=backward)
            for b in range(int(video.shape[0]))
        ])
        _correct_query_frames(tracks, result.visibility, queries_input)
        return TrackResult(tracks.contiguous(), result.visibility)

    def _run(self, video_m: torch.Tensor, queries: torch.Tensor, kp: Optional[torch.Tensor]):
        with _eval_mode(self.model):
            if self.refine_shape is None and not self.flip_ensemble:
                out = self.model(video_m, queries, iters=self.iters, **self._model_kwargs(kp))
                return out[0], out[1]
            # Coarse-to-fine or the flip ensemble: window by window through the streaming API (as the online
            # predictor does).
            cfg = self.model.config
            stream = refine = None
            for start in window_starts(int(video_m.shape[1]), cfg.window_len, cfg.step):
                coords, vis, stream, refine = self._window(
                    video_m[:, start : start + cfg.window_len], stream, refine, queries, kp
                )
            return coords, vis

    def _track(
        self,
        video_m: torch.Tensor,
        owned: bool,
        queries_model: torch.Tensor,
        queries_input: torch.Tensor,
        hw: Sequence[int],
        add_support_grid: bool,
        backward_tracking: bool,
        kp: Optional[torch.Tensor],
        local: bool = False,
    ) -> TrackResult:
        """One sparse run: context points (local grids when ``local``, support grid), model, optional backward
        pass, then :meth:`_finalize`."""
        N = queries_model.shape[1]
        queries, kp = self._with_support(queries_model, kp, add_support_grid, local)
        coords, vis = self._run(video_m, queries, kp)  # (B, T, N', 2), (B, T, N')
        if backward_tracking:
            T = video_m.shape[1]
            queries_back = queries.clone()
            queries_back[..., 0] = T - 1 - queries_back[..., 0]
            if owned:
                # Our own copy: reverse it in place (and back) instead of holding a second one.
                _flip_time_(video_m)
                try:
                    coords_b, vis_b = self._run(video_m, queries_back, kp)
                finally:
                    _flip_time_(video_m)
            else:
                coords_b, vis_b = self._run(video_m.flip(1), queries_back, kp)
            coords_b, vis_b = coords_b.flip(1), vis_b.flip(1)
            frames = torch.arange(T, device=coords.device, dtype=queries.dtype)
            before = frames[None, :, None] < queries[:, None, :, 0].to(coords.device)  # (B, T, N')
            coords = torch.where(before[..., None], coords_b, coords)
            vis = torch.where(before, vis_b, vis)
        return self._finalize(coords, vis, N, queries_input, hw)

    def _dense(self, video: torch.Tensor, hw: Sequence[int], query_frame: int, backward_tracking: bool) -> TrackResult:
        """Dense tracking: a lattice with step ``W // dense_grid_size`` input pixels, in ``step**2`` passes.

        Pass ``k`` tracks the lattice shifted by ``(k % step, k // step)`` pixels, without a
        support grid; the passes are concatenated along N in that order.
        """
        H, W = int(hw[0]), int(hw[1])
        step = max(1, W // self.dense_grid_size)
        cols, rows = W // step, H // step
        if rows == 0:
            raise ValueError(
                f"the video is too short ({H} px) for a dense lattice with a {step} px step; "
                "lower dense_grid_size or pass a grid_size"
            )
        B = video.shape[0]
        device = self.device
        video_m, owned = self._to_model_resolution(video)
        base_x = torch.arange(cols, device=device).repeat(rows) * step  # (rows*cols,)
        base_y = torch.arange(rows, device=device).repeat_interleave(cols) * step
        tracks, visible = [], []
        passes = step * step
        for k in range(passes):
            logger.info("dense tracking: pass %d / %d (%d points)", k + 1, passes, rows * cols)
            ox, oy = k % step, k // step
            q = torch.stack([torch.full_like(base_x, query_frame), base_x + ox, base_y + oy], dim=-1).float()
            queries_input = q[None].expand(B, -1, -1)  # (B, rows*cols, 3)
            queries_model = rescale_queries(queries_input, hw, self.interp_shape)
            res = self._track(video_m, owned, queries_model, queries_input, hw, False, backward_tracking, None)
            res = self._polish_result(res, video, hw, queries_input, backward_tracking)
            tracks.append(res.tracks)
            visible.append(res.visibility)
        return TrackResult(torch.cat(tracks, dim=2), torch.cat(visible, dim=2))


# ----------------------------------------------------------------------------------------------------------
# Online
# ----------------------------------------------------------------------------------------------------------


class _Hop(int):
    """An int (the window hop) that, called, tracks a chunk: serves both ``predictor.step`` usages."""

    def __new__(cls, value: int, step_chunk: Any) -> "_Hop":
        hop = super().__new__(cls, value)
        hop._step_chunk = step_chunk
        return hop

    def __call__(self, chunk: torch.Tensor, state: "OnlineState") -> tuple[TrackResult, "OnlineState"]:
        return self._step_chunk(chunk, state)


@dataclass(frozen=True)
class OnlineState:
    """Everything the online predictor knows about one video being streamed.

    Create with :meth:`CoTrackerOnlinePredictor.init`; every :meth:`~CoTrackerOnlinePredictor.step_chunk`
    returns a new state. Several states can be streamed side by side with one predictor.

    Attributes:
        queries: (B, N', 3) ``(t, x, y)`` model pixels, the user points followed by any support grid.
        queries_input: (B, N, 3) the user points in input pixels (for the query-frame correction).
        num_points: N, the user points (the first N of ``queries``).
        video_hw: ``(H, W)`` of the input frames: queries and outputs are in these pixels.
        keypoint_ids: (B, N') int64 or None.
        stream: the model's own streaming state (None until the first chunk); with the flip ensemble, a tuple of
            the three members' states.
        refine_stream: the streaming state of the coarse-to-fine pass (None until the first chunk, or without one);
            with the flip ensemble, a tuple of the members' states.
        result: the tracks of all frames seen so far (None until the first chunk).
        polished: with the Lucas-Kanade polish, (B, F, N, 2) the polished tracks of the frames ``[0, F)`` that no
            later window changes (input pixels; None before the first chunk or without the polish).
        polish_frame: with the polish, (B, 3, h, w) frame ``F - 1`` as streamed, where the next chunk's chain
            starts.
    """

    queries: torch.Tensor
    queries_input: torch.Tensor
    num_points: int
    video_hw: tuple[int, int]
    keypoint_ids: Optional[torch.Tensor] = None
    stream: Any = None
    refine_stream: Any = None
    result: Optional[TrackResult] = None
    polished: Optional[torch.Tensor] = None
    polish_frame: Optional[torch.Tensor] = None

    @property
    def batch_size(self) -> int:
        return int(self.queries.shape[0])

    @property
    def frames_seen(self) -> int:
        return 0 if self.result is None else int(self.result.tracks.shape[1])


class CoTrackerOnlinePredictor(_PredictorBase):
    """Track points through a video streamed in chunks (online, sliding windows).

    Preferred, explicit-state API (the module holds no per-video state, so two videos can be
    tracked at once)::

        state = predictor.init(queries=queries, video_hw=(H, W))
        for ind in range(0, T - predictor.step, predictor.step):
            result, state = predictor.step(video[:, ind : ind + 2 * predictor.step], state)
        tracks, visibility = predictor.finish(state)

    ``predictor.step`` is both the hop (an int) and callable (same as :meth:`step_chunk`).

    The official protocol also works (one internal default state)::

        predictor(video, is_first_step=True, grid_size=10)  # -> (None, None)
        for ind in range(0, T - predictor.step, predictor.step):
            tracks, visibility = predictor(video[:, ind : ind + 2 * predictor.step])

    Each chunk holds frames ``[ind, ind + 2 * step)`` with ``ind`` advancing by ``step`` (the last
    chunk may be shorter); every call returns the tracks of all frames seen so far. As an
    improvement over the official online predictor, each point's query frame is set to the query
    position and marked visible, as the offline predictor does.

    Args:
        checkpoint, model, device, iters, support_grid_size, refine_resolution, flip_ensemble, feedback,
            local_grid_size, local_grid_extent, polish: as :class:`CoTrackerPredictor`. The polish runs on each
            chunk's frames as they come (forward in time only), so the last result equals the offline predictor's
            without backward tracking.
        vis_threshold: a point is visible where the probability exceeds this; default: the weights' calibrated
            threshold (``model.config.vis_threshold``), else 0.6 (official online).
    """

    def __init__(
        self,
        checkpoint: Optional[Union[str, os.PathLike]] = None,
        *,
        model: Optional[nn.Module] = None,
        device: Optional[Union[str, torch.device]] = None,
        iters: Optional[int] = None,
        vis_threshold: Optional[float] = None,
        support_grid_size: int = 6,
        refine_resolution: Union[None, bool, Sequence[int]] = None,
        flip_ensemble: Optional[bool] = None,
        feedback: Optional[bool] = None,
        local_grid_size: Optional[int] = None,
        local_grid_extent: Optional[float] = None,
        polish: Union[None, bool, PolishConfig] = None,
    ) -> None:
        super().__init__(checkpoint, model, device, iters, vis_threshold, support_grid_size,
                         default_vis_threshold=0.6, refine_resolution=refine_resolution, flip_ensemble=flip_ensemble,
                         feedback=feedback, local_grid_size=local_grid_size, local_grid_extent=local_grid_extent,
                         polish=polish)
        self._default_state: Optional[OnlineState] = None

    @property
    def step(self) -> "_Hop":
        """Frames the window advances per chunk (window_len // 2: 4 for CoTracker2, 8 for 2.1).

        It is an int (``range(0, T - predictor.step, predictor.step)``, as in the official loop)
        that can also be called: ``result, state = predictor.step(chunk, state)`` is
        :meth:`step_chunk`.
        """
        return _Hop(int(self.model.config.step), self.step_chunk)

    @property
    def window_len(self) -> int:
        """Frames per chunk (2 * step)."""
        return int(self.model.config.window_len)

    # -- explicit-state API ------------------------------------------------------------------------------

    def init(
        self,
        queries: Optional[torch.Tensor] = None,
        *,
        grid_size: int = 0,
        grid_query_frame: int = 0,
        video_hw: Optional[Sequence[int]] = None,
        add_support_grid: bool = False,
        keypoint_ids: Optional[torch.Tensor] = None,
        segm_mask: Optional[torch.Tensor] = None,
        batch_size: Optional[int] = None,
    ) -> OnlineState:
        """Start tracking a new video: set the queries. No frames are needed yet.

        Args:
            queries: (B, N, 3) ``(t, x, y)`` in ``video_hw`` pixels; t can lie beyond the frames
                streamed so far.
            grid_size: with no queries, track a ``grid_size x grid_size`` grid at ``grid_query_frame``.
            video_hw: ``(H, W)`` of the frames the caller will stream (required). Chunks must have
                this size, or already be at the model resolution.
            add_support_grid: append a ``support_grid_size**2`` grid at t = 0 (dropped from outputs).
            keypoint_ids: (B, N) int64 keypoint types for a pose model (see :class:`CoTrackerPredictor`).
            segm_mask: (B or 1, 1, H, W) keeps only the grid points on the mask.
            batch_size: B of the clips to stream: the grid is repeated B times (default 1); with
                explicit queries it is checked against theirs (default: theirs).

        Returns:
            A fresh :class:`OnlineState`.
        """
        if video_hw is None:
            raise ValueError("video_hw=(H, W) is required: the size of the frames you will stream")
        hw = _check_video_hw(video_hw)
        model_hw = self.interp_shape
        device = self.device
        grid_size = _check_int(grid_size, "grid_size", 0)
        grid_query_frame = _check_int(grid_query_frame, "grid_query_frame", 0)
        if batch_size is not None:
            batch_size = _check_int(batch_size, "batch_size", 1)
        if queries is not None:
            if batch_size is None:
                is_batched = isinstance(queries, torch.Tensor) and queries.dim() == 3
                batch_size = int(queries.shape[0]) if is_batched else 1
            queries_input = _check_queries(queries, batch_size, None, hw).to(device)
            B = batch_size
            queries_model = rescale_queries(queries_input, hw, model_hw)
        else:
            if grid_size == 0:
                raise ValueError("online tracking needs queries or grid_size > 0 (dense tracking is offline only)")
            if keypoint_ids is not None:
                raise ValueError("keypoint_ids need explicit queries (one id per query); grids carry no keypoint ids")
            B = 1 if batch_size is None else batch_size
            if segm_mask is not None:
                segm_mask = _check_segm_mask(segm_mask, B, hw)
            queries_model = _grid_queries(grid_size, grid_query_frame, model_hw, B, device, segm_mask)
            queries_input = rescale_queries(queries_model, model_hw, hw)
        N = queries_model.shape[1]
        kp = self._resolve_keypoint_ids(keypoint_ids, B, N, queries is not None)
        queries_all, kp = self._with_support(queries_model, kp, bool(add_support_grid), local=queries is not None)
        return OnlineState(queries=queries_all, queries_input=queries_input, num_points=N, video_hw=hw,
                           keypoint_ids=kp)

    @torch.no_grad()
    def step_chunk(self, chunk: torch.Tensor, state: OnlineState) -> tuple[TrackResult, OnlineState]:
        """Track one chunk: frames ``[ind, ind + window_len)`` with ``ind = state.stream.ind``.

        Args:
            chunk: (B, T_c, 3, H, W) uint8 or float RGB 0..255, 1 <= T_c <= window_len, ``(H, W)``
                either ``state.video_hw`` or the model resolution (already resized).
            state: from :meth:`init` or the previous call.

        Returns:
            (TrackResult for all frames seen so far, in ``video_hw`` pixels; the new state).
        """
        if not isinstance(state, OnlineState):
            raise TypeError(f"state must be an OnlineState from predictor.init(...), got {_describe(state)}")
        _check_video(chunk, "video_chunk")
        B, Tc = int(chunk.shape[0]), int(chunk.shape[1])
        if B != state.batch_size:
            raise ValueError(f"video_chunk has batch size {B} but the tracking state was set up for {state.batch_size}")
        if Tc > self.window_len:
            raise ValueError(
                f"video_chunk has {Tc} frames, more than the window ({self.window_len}); pass "
                f"video[:, ind : ind + {self.window_len}] for ind = 0, {self.step}, {2 * self.step}, ..."
            )
        chunk_hw = tuple(int(s) for s in chunk.shape[-2:])
        model_hw = self.interp_shape
        device = self.device
        if chunk_hw == model_hw:
            chunk_m = chunk.to(device)
        elif chunk_hw == state.video_hw:
            chunk_m = resize_video(chunk, model_hw, device=device)
        else:
            raise ValueError(
                f"video_chunk frames are {chunk_hw}, expected the stream's size {state.video_hw} "
                f"(or the model resolution {model_hw}); every chunk of a video must have the same size"
            )
        with _eval_mode(self.model):
            coords, vis, stream, refine = self._window(
                chunk_m, state.stream, state.refine_stream, state.queries, state.keypoint_ids
            )
        result = self._finalize(coords, vis, state.num_points, state.queries_input, state.video_hw)
        polished = frame = None
        if self.polish is not None:
            result, polished, frame = self._polish_chunk(result, chunk, state, _stream_ind(stream))
        return result, dataclasses.replace(state, stream=stream, refine_stream=refine, result=result,
                                           polished=polished, polish_frame=frame)

    def _polish_chunk(self, result: TrackResult, chunk: torch.Tensor, state: OnlineState, next_ind: int
                      ) -> tuple[TrackResult, torch.Tensor, torch.Tensor]:
        """Polish the frames of ``result`` after the last final one of ``state``, chaining from it.

        Frames before ``next_ind`` (the next window's first frame) are final: no later window changes them. The
        chain of this chunk starts at the state's last final frame (or at each query frame), the frames after
        ``next_ind`` are polished for this result and again, from the final frames, with the next chunk.

        Returns:
            (the polished result, the polished final frames, the last final frame as streamed).
        """
        T_seen, Tc = int(result.tracks.shape[1]), int(chunk.shape[1])
        ind = T_seen - Tc  # the chunk's first frame
        query_frames = state.queries_input[..., 0].long()  # (B, N)
        if state.polished is None:
            first, frames, done = 0, chunk, None
        else:
            first = int(state.polished.shape[1]) - 1  # the last final frame, just before this chunk
            if first != ind - 1:
                raise ValueError(f"video_chunk must start at frame {first + 1} (the stream's next window), but the "
                                 f"tracker is at frame {ind}; stream video[:, ind : ind + {self.window_len}] for "
                                 f"ind = 0, {self.step}, {2 * self.step}, ...")
            if tuple(state.polish_frame.shape[-2:]) != tuple(chunk.shape[-2:]):
                raise ValueError(f"video_chunk frames are {tuple(chunk.shape[-2:])} but the previous chunk's were "
                                 f"{tuple(state.polish_frame.shape[-2:])}: stream every chunk at one size")
            frames = torch.cat([state.polish_frame[:, None], chunk], dim=1)  # (B, 1 + Tc, 3, h, w)
            done = state.polished
        tracks = result.tracks[:, first:].clone()  # (B, T_seen - first, N, 2)
        if done is not None:
            tracks[:, 0] = done[:, -1]
        start = (query_frames - first).clamp(min=0)  # (B, N): each chain's first frame in ``frames``
        new = torch.stack([
            self._polish_clip(frames[b], tracks[b], result.visibility[b, first:], start[b], state.video_hw,
                              start=start[b])
            for b in range(int(chunk.shape[0]))
        ])
        full = new if done is None else torch.cat([done, new[:, 1:]], dim=1)  # (B, T_seen, N, 2)
        _correct_query_frames(full, result.visibility, state.queries_input)
        last = min(next_ind, T_seen) - 1  # the last final frame after this chunk
        return TrackResult(full.contiguous(), result.visibility), full[:, : last + 1], chunk[:, last - ind]

    def finish(self, state: OnlineState) -> TrackResult:
        """The tracks of every frame streamed into ``state`` (the last :meth:`step_chunk` result)."""
        if not isinstance(state, OnlineState):
            raise TypeError(f"state must be an OnlineState, got {_describe(state)}")
        if state.result is None:
            raise ValueError("no chunk has been tracked yet: call step_chunk(chunk, state) first")
        return state.result

    # -- official protocol -------------------------------------------------------------------------------

    def forward(
        self,
        video_chunk: torch.Tensor,
        is_first_step: bool = False,
        queries: Optional[torch.Tensor] = None,
        grid_size: int = 5,
        grid_query_frame: int = 0,
        add_support_grid: bool = False,
        keypoint_ids: Optional[torch.Tensor] = None,
    ) -> Union[TrackResult, tuple[None, None]]:
        """The official chunk protocol, with one internal default state.

        ``is_first_step=True`` sets the queries (or a ``grid_size`` grid) using ``video_chunk`` only
        for its batch size and frame size, and returns ``(None, None)``. Later calls track
        ``video_chunk`` (frames ``[ind, ind + 2 * step)``) and return a :class:`TrackResult` for
        all frames so far (visibility = probability > ``vis_threshold``).
        """
        if is_first_step:
            _check_video(video_chunk, "video_chunk")
            self._default_state = self.init(
                queries=queries,
                grid_size=0 if queries is not None else grid_size,
                grid_query_frame=grid_query_frame,
                video_hw=tuple(video_chunk.shape[-2:]),
                add_support_grid=add_support_grid,
                keypoint_ids=keypoint_ids,
                batch_size=int(video_chunk.shape[0]),
            )
            return None, None
        if self._default_state is None:
            raise ValueError("call the predictor with is_first_step=True (and the queries) before streaming chunks")
        result, self._default_state = self.step_chunk(video_chunk, self._default_state)
        return result
