"""Correlation pyramid and local correlation sampling.

The official model builds, per level, the full correlation volume between each point's track feature and
the whole feature map of the same frame, ``(B, S, N, h_l, w_l) = <f, fmap_l> / sqrt(C)``, then samples it
bilinearly at a ``(2r+1)^2`` neighbourhood of the current position. Bilinear sampling is linear in the
sampled map, so sampling the *feature map* at the neighbourhood and taking the dot product with the track
feature afterwards gives exactly the same numbers (the same border clamping applies to both), at a cost of
``O(N (2r+1)^2 C)`` instead of ``O(N h w C)`` per level. :func:`local_correlation` does the latter.

Ordering of the ``levels * (2r+1)^2`` outputs (compatibility-critical): levels fine to coarse; inside a
level, index ``(2r+1) * i + j`` holds x-offset ``i - r`` (slow axis) and y-offset ``j - r`` (fast axis).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..geometry import sample_features4d

__all__ = ["build_pyramid", "neighbourhood_offsets", "local_correlation"]


def build_pyramid(fmap: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Average-pool pyramid of feature maps.

    Args:
        fmap: (M, C, h, w) features (M = frames, any batching).
        levels: number of levels; level ``l`` is ``avg_pool2d(kernel 2, stride 2)`` applied ``l`` times.

    Returns:
        list of ``levels`` tensors (M, C, h / 2^l, w / 2^l), fine to coarse.
    """
    pyramid = [fmap]
    for _ in range(levels - 1):
        pyramid.append(F.avg_pool2d(pyramid[-1], kernel_size=2, stride=2))
    return pyramid


def neighbourhood_offsets(radius: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The ``(2r+1)^2`` sampling offsets ``(dx, dy)`` in the official order (dx slow, dy fast).

    Returns:
        ((2r+1)^2, 2): row ``(2r+1) * i + j`` is ``(i - r, j - r)``.
    """
    d = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    dx, dy = torch.meshgrid(d, d, indexing="ij")  # dx varies along rows (slow), dy along columns (fast)
    return torch.stack([dx, dy], dim=-1).reshape(-1, 2)


def local_correlation(
    pyramid: list[torch.Tensor], track_feat: torch.Tensor, coords: torch.Tensor, radius: int
) -> torch.Tensor:
    """Correlation of each point's track feature with its neighbourhood, at every pyramid level.

    Args:
        pyramid: ``levels`` tensors (B*S, C, h_l, w_l), frame-major (index ``b * S + s``).
        track_feat: (B, S, N, C) track features (frame ``s`` is correlated with map ``s``).
        coords: (B, S, N, 2) ``(x, y)`` positions in level-0 feature units.
        radius: neighbourhood radius r.

    Returns:
        (B, S, N, levels * (2r+1)^2), each value ``<f, fmap_l(p / 2^l + offset)> / sqrt(C)`` with
        bilinear, border-clamped sampling.
    """
    B, S, N, C = track_feat.shape
    offsets = neighbourhood_offsets(radius, device=coords.device, dtype=coords.dtype)  # (K, 2)
    K = offsets.shape[0]
    feat = track_feat.reshape(B * S, N, C)  # (B*S, N, C)
    scale = 1.0 / math.sqrt(C)
    out = []
    for level, fmap in enumerate(pyramid):
        centres = coords.reshape(B * S, N, 1, 2) / 2**level  # (B*S, N, 1, 2)
        pts = (centres + offsets).reshape(B * S, N * K, 2)  # (B*S, N*K, 2)
        sampled = sample_features4d(fmap, pts).reshape(B * S, N, K, C)  # (B*S, N, K, C)
        corr = torch.einsum("mnkc,mnc->mnk", sampled, feat) * scale  # (B*S, N, K)
        out.append(corr)
    return torch.cat(out, dim=-1).reshape(B, S, N, len(pyramid) * K)  # (B, S, N, L*K)
