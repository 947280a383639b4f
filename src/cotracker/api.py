"""``cotracker.track_video``: track points through a video file and write tracks and an overlay, in one call.

This is what ``cotracker track`` runs. The video is decoded as a stream and each frame is resized
to the model resolution on the fly (uint8, bilinear align-corners), so memory grows with
``T x 3 x h x w`` bytes at the model resolution, not with the video's full size. The Lucas-Kanade
polish (when the weights ask for it) and the overlay each read the video again, one frame at a time.

Outputs go into a temporary sibling of ``out`` that is renamed into place only when everything is
written (:func:`cotracker.io.atomic.atomic_output_dir`): ``tracks.npz`` (read it back with
:func:`cotracker.io.tracks.load_tracks`), ``tracks.csv`` and ``overlay.mp4``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from cotracker.io.atomic import atomic_output_dir, check_output_dir
from cotracker.io.queries import (
    QuerySet,
    grid_queries,
    load_mask,
    load_queries,
    mask_queries,
    to_clip_frames,
    validate_queries,
)
from cotracker.io.tracks import TrackFile, save_tracks_csv, save_tracks_npz
from cotracker.io.video import FrameSelection, VideoInfo, VideoWriter, fit_size, iter_frames, probe_video, sample_video_path

__all__ = ["TrackVideoResult", "track_video", "resolve_device", "default_out_dir", "DEFAULT_OUT_ROOT"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
DEFAULT_OUT_ROOT = Path("cotracker_out")
DEFAULT_GRID_SIZE = 10
TRACKS_NPZ, TRACKS_CSV, OVERLAY_MP4 = "tracks.npz", "tracks.csv", "overlay.mp4"


@dataclass
class TrackVideoResult:
    """What :func:`track_video` returns.

    Attributes:
        tracks: the predictor's :class:`~cotracker.types.TrackResult` (tracks (1, T, N, 2) float32
            source-video pixels, visibility (1, T, N) bool), on the CPU.
        track_file: the same tracks with their metadata (queries, frame size, fps, frame numbers, model).
        out_dir: the output folder (None when nothing was written).
        tracks_npz, tracks_csv, overlay: paths of the written files (None when not written).
    """

    tracks: Any
    track_file: TrackFile
    out_dir: Optional[Path] = None
    tracks_npz: Optional[Path] = None
    tracks_csv: Optional[Path] = None
    overlay: Optional[Path] = None


def resolve_device(device: Optional[str]) -> str:
    """``"auto"``/None -> ``"cuda"`` when available else ``"cpu"``; ``"cuda"`` without a GPU is an error."""
    import torch

    device = "auto" if device is None else str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available on this machine; use --device cpu or auto")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def default_out_dir(video: PathLike) -> Path:
    """``./cotracker_out/<video name without suffix>`` (a folder's or pattern's base name for image sequences)."""
    source = os.fspath(video)
    name = Path(source.rstrip("/\\")).name
    if any(ch in name for ch in "*?["):  # a glob: name it after its folder
        name = Path(source).parent.name or "frames"
    return DEFAULT_OUT_ROOT / (Path(name).stem or "video")


def _model_name(checkpoint: Optional[PathLike], model: Any) -> str:
    if model is not None:
        return type(model).__name__
    if checkpoint is None:
        from cotracker.hub import DEFAULT_CHECKPOINT

        return str(DEFAULT_CHECKPOINT)
    path = Path(os.fspath(checkpoint))
    return path.name if path.suffix else str(checkpoint)


def _build_predictor(checkpoint: Optional[PathLike], model: Any, device: str,
                     refine: Union[bool, Sequence[int]] = True, ensemble: bool = True, local_grid: Optional[int] = None,
                     polish: bool = True):
    from cotracker.predictor import CoTrackerPredictor, inference_overrides

    kw = inference_overrides(refine=refine, flip_ensemble=ensemble, local_grid=local_grid, polish=polish)
    if model is not None:
        return CoTrackerPredictor(model=model, device=device, **kw)
    if checkpoint is not None:
        ckpt = os.fspath(checkpoint)
        looks_like_file = Path(ckpt).suffix.lower() in (".pth", ".pt", ".safetensors", ".ckpt") or os.sep in ckpt
        if looks_like_file and not Path(ckpt).is_file():
            raise FileNotFoundError(f"checkpoint file not found: {ckpt}; pass --checkpoint PATH to an existing .pth/.safetensors file or a registry name")
        return CoTrackerPredictor(checkpoint=ckpt, device=device, **kw)
    try:
        return CoTrackerPredictor(checkpoint=None, device=device, **kw)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"the default checkpoint is not available ({exc}); pass --checkpoint PATH (a .pth/.safetensors file) "
            "or --checkpoint NAME (a registry name)"
        ) from None


def _progress(total: Optional[int], desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, leave=False, dynamic_ncols=True)


def _decode_for_model(source: str, info: VideoInfo, sel: FrameSelection, model_hw: Sequence[int], progress: bool):
    """Decode the selection and resize every frame to the model resolution (uint8, align-corners bilinear).

    Returns:
        ``(video (1, T, 3, h, w) uint8, frame_indices (T,) int64)``.
    """
    import torch

    from cotracker.predictor import resize_video

    h, w = int(model_hw[0]), int(model_hw[1])
    expected = sel.count(info.num_frames)
    # One preallocated uint8 buffer (grown by doubling only when the header's frame count was too low),
    # so the clip is never held twice.
    buffer = torch.empty((max(1, expected or 64), 3, h, w), dtype=torch.uint8)
    indices = []
    with _progress(expected, "decoding", progress) as bar:
        for frame in iter_frames(source, sel.start, sel.end, sel.stride, sel.max_size, info=info):
            if len(indices) == buffer.shape[0]:
                grown = torch.empty((2 * buffer.shape[0], 3, h, w), dtype=torch.uint8)
                grown[: buffer.shape[0]] = buffer
                buffer = grown
            x = torch.from_numpy(frame.image).permute(2, 0, 1)[None, None]  # (1, 1, 3, H, W) uint8
            buffer[len(indices)] = resize_video(x, model_hw, dtype=torch.uint8)[0, 0]  # (3, h, w)
            indices.append(frame.index)
            bar.update(1)
    video = buffer[: len(indices)][None]  # (1, T, 3, h, w), a view: no copy
    return video, np.asarray(indices, dtype=np.int64)


def _polish_from_file(source: str, info: VideoInfo, sel: FrameSelection, tracks: np.ndarray, visible: np.ndarray,
                      points: np.ndarray, config: Any, backward: bool, progress: bool) -> np.ndarray:
    """The Lucas-Kanade polish (:mod:`cotracker.polish`) of ``tracks`` (T, N, 2) source pixels on the frames decoded
    a second time, one at a time, at the decoding size (the video's own unless ``max_size``): the model saw the clip
    at its resolution only, and LK's precision comes from the video's. Query frames keep the queries."""
    import torch

    from cotracker.geometry import rescale_points
    from cotracker.polish import polish_tracks

    src_hw, decode_hw = (info.height, info.width), fit_size(info.height, info.width, sel.max_size)
    T = tracks.shape[0]
    xy = rescale_points(torch.from_numpy(tracks), src_hw, decode_hw)
    query_frames = torch.from_numpy(points[:, 0].astype(np.int64))
    with _progress(T, "polishing", progress) as bar:

        def frames():
            for frame in iter_frames(source, sel.start, sel.end, sel.stride, sel.max_size, info=info):
                bar.update(1)
                yield torch.from_numpy(frame.image).permute(2, 0, 1)

        try:
            out = polish_tracks(frames(), xy, torch.from_numpy(visible), query_frames, config, backward=backward)
        except ValueError as exc:  # the frames differ from the first pass's
            raise ValueError(f"{source}: the second decoding pass (for the Lucas-Kanade polish) does not match the "
                             f"first: {exc}; is the file changing? (--no-polish skips the polish)") from exc
    out = rescale_points(out, decode_hw, src_hw).numpy()
    n = np.flatnonzero(points[:, 0] < T)
    out[points[n, 0].astype(np.int64), n] = tracks[points[n, 0].astype(np.int64), n]  # exactly the queries
    return out.astype(np.float32)


def _write_overlay(
    path: Path, source: str, info: VideoInfo, sel: FrameSelection, track_file: TrackFile, trail: int,
    draw_before_query: bool, progress: bool,
) -> int:
    """Second decoding pass: draw the tracks on every selected frame and encode them (none dropped)."""
    import torch

    from cotracker.geometry import rescale_points
    from cotracker.viz.draw import TrackPainter

    draw_hw = fit_size(info.height, info.width, sel.max_size)
    tracks = rescale_points(torch.from_numpy(track_file.tracks), track_file.frame_size, draw_hw).numpy()  # (T, N, 2)
    painter = TrackPainter(
        tracks, track_file.visibility, query_frames=track_file.queries[:, 0], trail=trail, draw_before_query=draw_before_query
    )
    T = track_file.num_frames
    with VideoWriter(path, track_file.fps) as writer, _progress(T, "writing overlay", progress) as bar:
        for t, frame in enumerate(iter_frames(source, sel.start, sel.end, sel.stride, sel.max_size, info=info)):
            if t >= T:
                raise ValueError(f"{source} gave more frames on the second decoding pass than on the first ({T}); is the file changing?")
            writer.write(painter.draw(t, frame.image))
            bar.update(1)
        written = writer.frames_written
    if written != T:
        raise ValueError(f"{source} gave {written} frames on the second decoding pass but {T} on the first")
    return written


def _queries_from_args(
    queries: Union[None, PathLike, np.ndarray, QuerySet],
) -> tuple[Optional[np.ndarray], Optional[list], str]:
    if queries is None:
        return None, None, ""
    if isinstance(queries, QuerySet):
        return np.asarray(queries.points, np.float32), list(queries.names), "queries"
    if isinstance(queries, (str, os.PathLike)):
        qs = load_queries(queries)
        return qs.points, qs.names, f"query file {os.fspath(queries)}"
    points = np.asarray(queries, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"queries must be an (N, 3) array of (t, x, y), a QuerySet or a .csv/.json path, got shape {points.shape}")
    return points, None, "queries"


def track_video(
    video: Optional[PathLike] = None,
    *,
    queries: Union[None, PathLike, np.ndarray, QuerySet] = None,
    grid_size: Optional[int] = None,
    grid_query_frame: int = 0,
    mask: Union[None, PathLike, np.ndarray] = None,
    dense: bool = False,
    backward: bool = False,
    checkpoint: Optional[PathLike] = None,
    model: Any = None,
    device: Optional[str] = "auto",
    start: int = 0,
    end: Optional[int] = None,
    stride: int = 1,
    max_size: Optional[int] = None,
    out: Optional[PathLike] = None,
    write: bool = True,
    overlay: bool = True,
    trail: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    refine: Union[bool, Sequence[int]] = True,
    ensemble: bool = True,
    local_grid: Optional[int] = None,
    polish: bool = True,
) -> TrackVideoResult:
    """Track points through a video and (by default) write ``tracks.npz``, ``tracks.csv`` and ``overlay.mp4``.

    What is tracked (first that applies): ``queries``; the ``grid_size`` grid kept on ``mask``; a
    ``grid_size x grid_size`` grid at ``grid_query_frame``; with ``dense`` every point of a dense
    lattice. Without any of these a 10 x 10 grid is tracked.

    Args:
        video: video file, GIF, folder or glob of images; None = the sample clip bundled with the package.
        queries: (N, 3) ``(t, x, y)`` array, :class:`~cotracker.io.queries.QuerySet`, or a .csv/.json file;
            ``t`` is a frame number of the source video, ``x, y`` its pixels.
        grid_size: points per side of the query grid (default 10 when nothing else is asked for).
        grid_query_frame: source frame number the grid (or dense lattice) is queried at.
        mask: segmentation mask (path to an image or an (H, W) array of the video's size); keeps the
            grid points on the non-zero pixels.
        dense: track a dense lattice (``grid_size`` is then ignored).
        backward: also track backwards in time from each query frame.
        checkpoint: weights file (.pth / .safetensors) or registry name; None = the package default.
        model: a tracker module to use instead of ``checkpoint`` (tests, experiments).
        device: ``"auto"`` (cuda if available), ``"cpu"`` or ``"cuda"``.
        start, end, stride: frame range (source numbering, ``end`` exclusive) and stride.
        max_size: decode (and draw the overlay) with the longest side at most this many pixels;
            tracks are still reported in the source video's pixels.
        out: output folder; default ``./cotracker_out/<video name>``.
        write: write the outputs (False: only return the tracks).
        overlay: also write ``overlay.mp4``.
        trail: overlay trail length in frames (0 = points only).
        overwrite: replace an existing output folder (only once the new one is complete).
        progress: show progress bars (decoding, tracking, writing) on stderr.
        refine: run the coarse-to-fine second pass when the weights ask for one (our shipped weights do);
            False skips it (about 4x faster, less precise positions); ``(H, W)`` runs it at that resolution
            (multiples of the model stride), e.g. finer for large videos.
        ensemble: track with the flip ensemble when the weights ask for it (our shipped weights do): three
            trackers (the video as it is and mirrored), median of their tracks; False: one (3x faster).
        local_grid: for ``queries``: a K x K grid of extra points tracked around every query as context (None: the
            weights' setting, 3 for the shipped general weights; 0: none). Grids, masks and dense tracking never
            get one.
        polish: sharpen the final tracks with the guarded Lucas-Kanade chain when the weights ask for it (our
            shipped general weights do; :mod:`cotracker.polish`), on a second decoding pass at the video's own
            resolution (or ``max_size``'s), one frame at a time; False: the model's positions.

    Returns:
        :class:`TrackVideoResult`.

    Raises:
        FileNotFoundError: missing video, query file, mask or checkpoint.
        FileExistsError: ``out`` exists and ``overwrite`` is False.
        ValueError: unreadable inputs, queries outside the clip, a mask of the wrong size, ...
    """
    import torch

    source = os.fspath(video) if video is not None else os.fspath(sample_video_path())
    sel = FrameSelection(start, end, stride, max_size)
    info = probe_video(source)
    H, W = info.height, info.width
    out_dir = Path(out) if out is not None else default_out_dir(source)
    if write:
        check_output_dir(out_dir, overwrite)  # fail before the slow part
    if trail < 0:
        raise ValueError(f"trail must be >= 0 frames, got {trail}")
    if grid_size is not None and grid_size < (0 if dense else 1):
        raise ValueError(f"grid_size must be >= 1, got {grid_size}")

    # Inputs that can be checked before decoding.
    q_points, q_names, q_source = _queries_from_args(queries)
    if q_points is not None and (mask is not None or dense):
        raise ValueError("pass either queries or a mask / dense tracking, not both")
    if q_points is not None and grid_size is not None:
        logger.warning("both queries and grid_size=%d given: tracking the queries, ignoring the grid", grid_size)
    mask_arr = None
    if mask is not None:
        if dense:
            raise ValueError("a mask selects grid points; it cannot be combined with dense tracking")
        if isinstance(mask, (str, os.PathLike)):
            mask_arr = load_mask(mask, (H, W))
        else:
            mask_arr = np.asarray(mask) != 0
            if mask_arr.shape != (H, W):
                raise ValueError(f"mask is {mask_arr.shape[1]}x{mask_arr.shape[0]} but the video is {W}x{H}; the mask must have the video's size")
    if q_points is not None:  # x, y do not depend on the frame selection: check them now
        validate_queries(np.concatenate([np.zeros_like(q_points[:, :1]), q_points[:, 1:]], 1), 1, (H, W), q_source)

    predictor = _build_predictor(checkpoint, model, resolve_device(device), refine, ensemble, local_grid, polish)
    # The predictor would polish the frames it is given, here at the model resolution: the polish runs afterwards
    # on a second decoding pass at the video's own (_polish_from_file).
    polish_config, predictor.polish = predictor.polish, None
    model_hw = predictor.interp_shape
    model_name = _model_name(checkpoint, model)

    clip, frame_indices = _decode_for_model(source, info, sel, model_hw, progress)
    T = clip.shape[1]
    fps = info.fps / stride

    call: dict[str, Any] = {"backward_tracking": backward, "video_hw": (H, W)}
    names = None
    if q_points is not None:
        points = validate_queries(to_clip_frames(q_points, frame_indices, q_source), T, (H, W), q_source)
        names = q_names
        call.update(queries=torch.from_numpy(points)[None])  # support grid added (official default for queries)
    else:
        qf = int(to_clip_frames(np.array([[grid_query_frame, 0, 0]], np.float32), frame_indices, "grid query frame")[0, 0])
        if dense:
            points = None
            call.update(grid_size=0, grid_query_frame=qf)
        elif mask_arr is not None:
            points = mask_queries(mask_arr, grid_size or DEFAULT_GRID_SIZE, qf, model_hw)
            call.update(queries=torch.from_numpy(points)[None], add_support_grid=True)  # as the predictor does for masks
        else:
            points = grid_queries(grid_size or DEFAULT_GRID_SIZE, (H, W), qf, model_hw)
            call.update(queries=torch.from_numpy(points)[None], add_support_grid=False)  # as the predictor does for grids

    with _progress(1, "tracking", progress) as bar:
        result = predictor(clip, **call)
        bar.update(1)
    del clip
    from cotracker.types import TrackResult

    result = TrackResult(result.tracks.float().cpu(), result.visibility.bool().cpu())
    tracks_np = result.tracks[0].numpy()  # (T, N, 2)
    if points is None:  # dense: the predictor puts every point at its query position at the query frame
        qf = call["grid_query_frame"]
        points = np.concatenate([np.full((tracks_np.shape[1], 1), qf, np.float32), tracks_np[qf]], axis=1)
    if polish_config is not None:
        tracks_np = _polish_from_file(source, info, sel, tracks_np, result.visibility[0].numpy(), points,
                                      polish_config, backward, progress)
        result = TrackResult(torch.from_numpy(tracks_np)[None], result.visibility)
    track_file = TrackFile(
        tracks=tracks_np,
        visibility=result.visibility[0].numpy(),
        queries=points,
        frame_size=(H, W),
        fps=fps,
        model_name=model_name,
        frame_indices=frame_indices,
        point_names=names,
        video=os.path.abspath(source),
    )
    if not write:
        return TrackVideoResult(result, track_file)

    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        save_tracks_npz(tmp / TRACKS_NPZ, track_file)
        save_tracks_csv(tmp / TRACKS_CSV, track_file)
        if overlay:
            _write_overlay(tmp / OVERLAY_MP4, source, info, sel, track_file, trail, backward, progress)
    return TrackVideoResult(
        result,
        track_file,
        out_dir=out_dir,
        tracks_npz=out_dir / TRACKS_NPZ,
        tracks_csv=out_dir / TRACKS_CSV,
        overlay=out_dir / OVERLAY_MP4 if overlay else None,
    )
