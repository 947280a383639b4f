"""The one coordinate convention of the package, and every conversion between frames of reference.

Convention: a point is ``(x, y)`` in pixels of some image of size ``(H, W)``, **align-corners**:
``x = 0`` is the centre of the leftmost pixel column and ``x = W - 1`` the centre of the rightmost one.
Queries add a leading frame index: ``(t, x, y)``.

Frames of reference used in the package and the functions that move between them:

* input video pixels  <->  model resolution (384 x 512) pixels: :func:`rescale_points`
  (``x * (W_to - 1) / (W_from - 1)``).
* an image  <->  its mirror image (left-right or upside-down): :func:`flip_points` (``x -> W - 1 - x``).
* model pixels  <->  feature-grid units (stride 4, no half-pixel shift): :func:`pixels_to_features`,
  :func:`features_to_pixels`.
* pixels  <->  ``grid_sample``'s normalised ``[-1, 1]``: :func:`pixels_to_normalized`.
* TAP-Vid's ``[0, 1]`` points and ``(t, y, x)`` queries: :func:`tapvid_points_to_pixels`,
  :func:`tapvid_queries_to_txy`, :func:`txy_to_tapvid_queries`.

Nowhere else in the package is ``(W - 1) / (w - 1)`` written by hand.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "rescale_points",
    "rescale_queries",
    "flip_points",
    "pixels_to_features",
    "features_to_pixels",
    "pixels_to_normalized",
    "grid_points",
    "bilinear_sample",
    "sample_features4d",
    "sample_features5d",
    "tapvid_points_to_pixels",
    "pixels_to_tapvid_points",
    "tapvid_queries_to_txy",
    "txy_to_tapvid_queries",
]


def _scale(size_from: int, size_to: int) -> float:
    """Align-corners scale factor between two lengths (a length of 1 maps to 0)."""
    return (size_to - 1) / max(size_from - 1, 1)


def rescale_points(xy: torch.Tensor, from_hw: Sequence[int], to_hw: Sequence[int]) -> torch.Tensor:
    """Rescale ``(..., 2)`` points ``(x, y)`` from an image of size ``from_hw`` to one of size ``to_hw``.

    Args:
        xy: (..., 2) float, ``(x, y)`` align-corners pixels of the ``from_hw = (H, W)`` image.
        from_hw: ``(H, W)`` of the image the points are in.
        to_hw: ``(H, W)`` of the target image.

    Returns:
        (..., 2) float, the same points in the target image's pixels.
    """
    sx = _scale(from_hw[1], to_hw[1])
    sy = _scale(from_hw[0], to_hw[0])
    return xy * xy.new_tensor([sx, sy])


def rescale_queries(queries: torch.Tensor, from_hw: Sequence[int], to_hw: Sequence[int]) -> torch.Tensor:
    """Rescale ``(..., 3)`` queries ``(t, x, y)``; the frame index ``t`` is unchanged."""
    return torch.cat([queries[..., :1], rescale_points(queries[..., 1:], from_hw, to_hw)], dim=-1)


def flip_points(xy: torch.Tensor, hw: Sequence[int], axis: str) -> torch.Tensor:
    """The ``(..., 2)`` points ``(x, y)`` of an ``hw = (H, W)`` image in its mirror image (an involution).

    Args:
        xy: (..., 2) align-corners pixels.
        hw: ``(H, W)`` of the image.
        axis: ``"x"`` (mirrored left-right: ``x -> W - 1 - x``) or ``"y"`` (upside-down: ``y -> H - 1 - y``).
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    i = 0 if axis == "x" else 1
    size = hw[1] if axis == "x" else hw[0]
    out = xy.clone()
    out[..., i] = (size - 1) - xy[..., i]
    return out


def pixels_to_features(xy: torch.Tensor, stride: int) -> torch.Tensor:
    """Pixels of the model input -> feature-grid units. Feature column ``i`` is pixel ``x = stride * i``."""
    return xy / stride


def features_to_pixels(xy: torch.Tensor, stride: int) -> torch.Tensor:
    """Feature-grid units -> pixels of the model input (inverse of :func:`pixels_to_features`)."""
    return xy * stride


def pixels_to_normalized(coords: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """Map align-corners pixel coordinates to ``grid_sample``'s ``[-1, 1]`` range.

    Args:
        coords: (..., D) float, one coordinate per axis, in the order of ``sizes``.
        sizes: D axis lengths, e.g. ``(W, H)`` for ``(x, y)`` coordinates or ``(T, W, H)`` for ``(t, x, y)``.
    """
    scale = coords.new_tensor([2.0 / max(s - 1, 1) for s in sizes])
    return coords * scale - 1.0


def grid_points(
    grid_size: int,
    extent_hw: Sequence[float],
    center_yx: Optional[Sequence[float]] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """A regular ``grid_size x grid_size`` grid of ``(x, y)`` points inside an extent.

    The margin is ``W / 64`` on both axes (the convention the official checkpoints were evaluated
    with): for a 384 x 512 extent, ``x = linspace(8, 504, g)`` and ``y = linspace(8, 376, g)``.
    Points are row-major (``y`` outer, ``x`` inner).

    Args:
        grid_size: points per side, >= 1. A size of 1 gives the centre.
        extent_hw: ``(H, W)`` of the box the grid covers, in pixels.
        center_yx: centre of the box ``(y, x)``; defaults to ``(H / 2, W / 2)``.

    Returns:
        (1, grid_size**2, 2) float32 ``(x, y)``.
    """
    if grid_size < 1:
        raise ValueError(f"grid_size must be >= 1, got {grid_size}")
    H, W = float(extent_hw[0]), float(extent_hw[1])
    cy, cx = (H / 2, W / 2) if center_yx is None else (float(center_yx[0]), float(center_yx[1]))
    if grid_size == 1:
        return torch.tensor([[[cx, cy]]], dtype=torch.float32, device=device)
    margin = W / 64
    ys = torch.linspace(margin - H / 2 + cy, H / 2 + cy - margin, grid_size, device=device)
    xs = torch.linspace(margin - W / 2 + cx, W / 2 + cx - margin, grid_size, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).reshape(1, -1, 2)  # (1, g*g, 2)


def bilinear_sample(inp: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` with pixel coordinates, align-corners and border padding.

    Args:
        inp: (B, C, H, W) or (B, C, T, H, W).
        coords: (B, H_o, W_o, 2) ``(x, y)`` pixels, or (B, T_o, H_o, W_o, 3) ``(t, x, y)`` for 5D input.

    Returns:
        (B, C, H_o, W_o) or (B, C, T_o, H_o, W_o).
    """
    if inp.dim() == 4:
        H, W = inp.shape[-2:]
        grid = pixels_to_normalized(coords, (W, H))
    elif inp.dim() == 5:
        T, H, W = inp.shape[-3:]
        # grid_sample wants (x, y, t) in the last axis.
        grid = pixels_to_normalized(coords[..., [1, 2, 0]], (W, H, T))
    else:
        raise ValueError(f"bilinear_sample expects a 4D or 5D input, got {inp.dim()}D")
    return F.grid_sample(inp, grid.to(inp.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def sample_features4d(feat: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Sample a feature map at points.

    Args:
        feat: (B, C, H, W).
        xy: (B, R, 2) ``(x, y)`` in feature-map pixels.

    Returns:
        (B, R, C).
    """
    out = bilinear_sample(feat, xy[:, :, None, :])  # (B, C, R, 1)
    return out[..., 0].permute(0, 2, 1)  # (B, R, C)


def sample_features5d(feat: torch.Tensor, txy: torch.Tensor) -> torch.Tensor:
    """Sample a stack of feature maps at space-time points.

    Args:
        feat: (B, T, C, H, W).
        txy: (B, R1, R2, 3) ``(t, x, y)``, t a (fractional) frame index, x y feature-map pixels.

    Returns:
        (B, R1, R2, C).
    """
    out = bilinear_sample(feat.permute(0, 2, 1, 3, 4), txy[:, :, :, None, :])  # (B, C, R1, R2, 1)
    return out[..., 0].permute(0, 2, 3, 1)  # (B, R1, R2, C)


def tapvid_points_to_pixels(points01: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """TAP-Vid's normalised ``(x, y)`` in [0, 1] -> align-corners pixels of an ``(H, W)`` frame.

    Uses ``x * (W - 1)``, as the official CoTracker evaluation does (TAP-Vid's own code uses ``x * W``).
    """
    return points01 * points01.new_tensor([hw[1] - 1, hw[0] - 1])


def pixels_to_tapvid_points(xy: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`tapvid_points_to_pixels`."""
    return xy / xy.new_tensor([max(hw[1] - 1, 1), max(hw[0] - 1, 1)])


def tapvid_queries_to_txy(queries_tyx: torch.Tensor) -> torch.Tensor:
    """TAP-Vid query order ``(t, y, x)`` -> the package's ``(t, x, y)``."""
    return queries_tyx[..., [0, 2, 1]]


def txy_to_tapvid_queries(queries_txy: torch.Tensor) -> torch.Tensor:
    """The package's ``(t, x, y)`` -> TAP-Vid's ``(t, y, x)``."""
    return queries_txy[..., [0, 2, 1]]
