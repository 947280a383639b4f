"""Query points from files, grids and masks, and their validation.

A query is ``(t, x, y)``: a frame number and the pixel position of the point in that frame, in the
source video's pixels (align-corners, :mod:`cotracker.geometry`). In query *files* and on the command
line ``t`` is the frame number in the source video; :func:`to_clip_frames` maps it to the index in a
clip decoded with a frame range / stride.

Query file formats read by :func:`load_queries`:

* CSV with a header naming the columns ``t`` (or ``frame``), ``x``, ``y`` and optionally ``name``, in any
  order; or without a header, rows ``t, x, y[, name]``.
* JSON: a list of ``[t, x, y]`` or ``[t, x, y, "name"]`` or ``{"t": .., "x": .., "y": .., "name": ..}``
  items (``"frame"`` is accepted for ``"t"``); the list may sit under a top-level ``"queries"`` or
  ``"points"`` key; or an object mapping names to ``[t, x, y]``.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

__all__ = [
    "QuerySet",
    "load_queries",
    "validate_queries",
    "to_clip_frames",
    "grid_queries",
    "load_mask",
    "mask_queries",
]

PathLike = Union[str, os.PathLike]


class QuerySet(NamedTuple):
    """Query points and their (optional) names.

    Attributes:
        points: (N, 3) float32 ``(t, x, y)``.
        names: N strings ("" for unnamed points).
    """

    points: np.ndarray
    names: list


def _number(value, path: Path, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: {where}: expected a number, got {value!r}") from None
    if not np.isfinite(out):
        raise ValueError(f"{path}: {where}: expected a finite number, got {value!r}")
    return out


def _load_csv(path: Path) -> QuerySet:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [[c.strip() for c in row] for row in csv.reader(fh) if row and any(c.strip() for c in row)]
    if not rows:
        raise ValueError(f"query file {path} is empty; expected rows 't,x,y' (optionally ',name')")
    header = [c.lower() for c in rows[0]]
    if any(h in ("t", "frame", "x", "y") for h in header):
        cols = {name: i for i, name in enumerate(header)}
        t_col = cols.get("t", cols.get("frame"))
        if t_col is None or "x" not in cols or "y" not in cols:
            raise ValueError(f"query file {path}: header {rows[0]} must name the columns t (or frame), x and y")
        idx = (t_col, cols["x"], cols["y"], cols.get("name"))
        body, first_line = rows[1:], 2
    else:
        idx = (0, 1, 2, 3)
        body, first_line = rows, 1
    points, names = [], []
    for k, row in enumerate(body):
        line = f"line {k + first_line}"
        if len(row) < 3 or len(row) <= max(i for i in idx[:3]):
            raise ValueError(f"{path}: {line}: expected 't,x,y' (optionally ',name'), got {','.join(row)!r}")
        points.append([_number(row[i], path, line) for i in idx[:3]])
        names.append(row[idx[3]] if idx[3] is not None and idx[3] < len(row) else "")
    return QuerySet(np.asarray(points, np.float32).reshape(-1, 3), names)


def _json_item(item, path: Path, k: int) -> tuple[list[float], str]:
    where = f"query {k}"
    if isinstance(item, dict):
        t = item.get("t", item.get("frame"))
        if t is None or "x" not in item or "y" not in item:
            raise ValueError(f"{path}: {where}: expected keys t (or frame), x, y, got {sorted(item)}")
        return [_number(t, path, where), _number(item["x"], path, where), _number(item["y"], path, where)], str(item.get("name", ""))
    if isinstance(item, (list, tuple)) and len(item) in (3, 4):
        name = str(item[3]) if len(item) == 4 else ""
        return [_number(v, path, where) for v in item[:3]], name
    raise ValueError(f"{path}: {where}: expected [t, x, y], [t, x, y, name] or {{'t','x','y'}}, got {item!r}")


def _load_json(path: Path) -> QuerySet:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"query file {path} is not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        for key in ("queries", "points"):
            if key in doc:
                doc = doc[key]
                break
        else:
            doc = [list(v) + [name] if isinstance(v, (list, tuple)) else {**v, "name": name} for name, v in doc.items()]
    if not isinstance(doc, list):
        raise ValueError(f"query file {path}: expected a list of queries, got {type(doc).__name__}")
    points, names = [], []
    for k, item in enumerate(doc):
        p, n = _json_item(item, path, k)
        points.append(p)
        names.append(n)
    return QuerySet(np.asarray(points, np.float32).reshape(-1, 3), names)


def load_queries(path: PathLike) -> QuerySet:
    """Read query points from a ``.csv`` or ``.json`` file (formats in the module docstring).

    Returns:
        :class:`QuerySet` with points (N, 3) float32 ``(t, x, y)``, t a source frame number.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix, malformed rows, or no queries at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"query file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        queries = _load_csv(path)
    elif suffix == ".json":
        queries = _load_json(path)
    else:
        raise ValueError(f"query file {path} must end in .csv or .json, got {suffix or 'no suffix'!r}")
    if len(queries.points) == 0:
        raise ValueError(f"query file {path} contains no queries; expected at least one 't,x,y' row")
    return queries


def validate_queries(points: np.ndarray, num_frames: int, frame_size: Sequence[int], source: str = "queries") -> np.ndarray:
    """Check that queries lie inside the clip: ``0 <= t < T``, ``0 <= x <= W - 1``, ``0 <= y <= H - 1``.

    Args:
        points: (N, 3) ``(t, x, y)``, t a clip-frame index, x y source pixels.
        num_frames: T, the clip length.
        frame_size: ``(H, W)``.
        source: what to call the queries in error messages (e.g. the file name).

    Returns:
        (N, 3) float32, the same points.

    Raises:
        ValueError: wrong shape, or the first point outside the clip (with its index and value).
    """
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"{source}: expected an (N, 3) array of (t, x, y) with N >= 1, got shape {points.shape}")
    H, W = int(frame_size[0]), int(frame_size[1])
    t, x, y = points[:, 0], points[:, 1], points[:, 2]
    bad = ~((t >= 0) & (t < num_frames) & (t == np.round(t)) & (x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{source}: query {k} (t={t[k]:g}, x={x[k]:g}, y={y[k]:g}) is outside the clip; expected an integer "
            f"0 <= t < {num_frames}, 0 <= x <= {W - 1}, 0 <= y <= {H - 1} ({int(bad.sum())} of {len(points)} queries are outside)"
        )
    return points


def to_clip_frames(points: np.ndarray, frame_indices: Sequence[int], source: str = "queries") -> np.ndarray:
    """Replace source frame numbers in ``points[:, 0]`` by clip-frame indices.

    Args:
        points: (N, 3) ``(t, x, y)``, t a frame number of the source video.
        frame_indices: (T,) source frame number of each clip frame (increasing).

    Raises:
        ValueError: a query frame is not one of the decoded frames (outside the frame range or between strides).
    """
    points = np.asarray(points, dtype=np.float32).copy()
    frame_indices = np.asarray(frame_indices, dtype=np.int64)
    pos = np.searchsorted(frame_indices, points[:, 0])
    ok = (pos < len(frame_indices)) & (frame_indices[np.minimum(pos, len(frame_indices) - 1)] == points[:, 0])
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        shown = ", ".join(str(int(i)) for i in frame_indices[:6]) + (", ..." if len(frame_indices) > 6 else "")
        raise ValueError(
            f"{source}: query {k} is at frame {points[k, 0]:g}, which is not among the decoded frames "
            f"({shown}; {len(frame_indices)} frames from {int(frame_indices[0])} to {int(frame_indices[-1])}); "
            "change the query frame or the frame range / stride"
        )
    points[:, 0] = pos
    return points


def grid_queries(
    grid_size: int,
    frame_size: Sequence[int],
    query_frame: int = 0,
    model_resolution: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """A ``grid_size x grid_size`` grid of queries at frame ``query_frame``.

    The grid is laid out at the model resolution (as the predictor does, margin W/64) and rescaled
    to the source pixels; without ``model_resolution`` it is laid out in the source frame directly.

    Returns:
        (grid_size**2, 3) float32 ``(t, x, y)``, row-major (y outer).
    """
    import torch

    from cotracker.geometry import grid_points, rescale_points

    if grid_size < 1:
        raise ValueError(f"grid_size must be >= 1, got {grid_size}")
    layout_hw = tuple(model_resolution) if model_resolution is not None else tuple(frame_size)
    xy = grid_points(grid_size, layout_hw)[0]  # (g*g, 2)
    xy = rescale_points(xy, layout_hw, frame_size)
    t = torch.full((xy.shape[0], 1), float(query_frame))
    return torch.cat([t, xy], dim=1).numpy().astype(np.float32)


def load_mask(path: PathLike, frame_size: Sequence[int]) -> np.ndarray:
    """Read a segmentation mask image; any non-zero pixel is foreground.

    Args:
        path: PNG (or any Pillow image) of the same size as the video.
        frame_size: ``(H, W)`` the mask must have.

    Returns:
        (H, W) bool.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable, wrong size, or empty mask.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    try:
        with Image.open(path) as im:
            mask = np.asarray(im.convert("L")) > 0
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read mask {path}: {exc}; expected a PNG image") from None
    H, W = int(frame_size[0]), int(frame_size[1])
    if mask.shape != (H, W):
        raise ValueError(
            f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the video is {W}x{H}; the mask must have the video's size"
        )
    if not mask.any():
        raise ValueError(f"mask {path} is empty (all zero); expected non-zero pixels on the object to track")
    return mask


def mask_queries(
    mask: np.ndarray,
    grid_size: int,
    query_frame: int = 0,
    model_resolution: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """The grid queries (:func:`grid_queries`) that fall on the mask's foreground.

    With ``model_resolution`` the selection is the predictor's: the mask is resized to the model
    resolution with nearest-neighbour and read at the rounded model-pixel grid points; without it
    the mask is read at the rounded source-pixel grid points.

    Args:
        mask: (H, W) bool, in source pixels.
        grid_size: points per side of the grid.
        query_frame: the queries' ``t``.
        model_resolution: ``(h, w)`` the grid is laid out at (see :func:`grid_queries`).

    Returns:
        (M, 3) float32 ``(t, x, y)`` source pixels, M >= 1.

    Raises:
        ValueError: no grid point falls on the mask (use a larger grid).
    """
    import torch
    import torch.nn.functional as F

    mask = np.asarray(mask, dtype=bool)
    H, W = mask.shape
    queries = grid_queries(grid_size, (H, W), query_frame, model_resolution)
    if model_resolution is not None:
        h, w = int(model_resolution[0]), int(model_resolution[1])
        sampled = F.interpolate(torch.from_numpy(mask)[None, None].float(), size=(h, w), mode="nearest")[0, 0].numpy() != 0
        xy = grid_queries(grid_size, (h, w), query_frame)[:, 1:]  # model pixels
    else:
        h, w, sampled, xy = H, W, mask, queries[:, 1:]
    col = np.clip(np.rint(xy[:, 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.rint(xy[:, 1]).astype(np.int64), 0, h - 1)
    keep = sampled[row, col]
    if not keep.any():
        raise ValueError(f"no point of the {grid_size}x{grid_size} grid falls on the mask; use a larger --grid-size")
    return queries[keep]
