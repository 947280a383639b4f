"""Correlation pyramid and local correlation sampling.

The official model builds, per level, the full correlation volume between each point's track feature and
the whole feature map of the same frame, ``(B, S, N, h_l, w_l) = <f, fmap_l> / sqrt(C)``, then samples it
bilinearly at a ``(2r+1)^2`` neighbourhood of the current position. :func:`local_correlation` computes the
same volume (in chunks of points, so its memory is bounded) and samples it with one gather of the
``(2r+2)^2`` integer neighbours plus a shared bilinear interpolation, which gives the same numbers.

Ordering of the ``levels * (2r+1)^2`` outputs (compatibility-critical): levels fine to coarse; inside a
level, index ``(2r+1) * i + j`` holds x-offset ``i - r`` (slow axis) and y-offset ``j - r`` (fast axis).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["build_pyramid", "flatten_pyramid", "neighbourhood_offsets", "local_correlation"]


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


def flatten_pyramid(pyramid: list[torch.Tensor]) -> list[torch.Tensor]:
    """Channels-last copies of a pyramid for :func:`local_correlation` (do it once per window, not per iteration).

    Args:
        pyramid: ``levels`` tensors (M, C, h_l, w_l).

    Returns:
        ``levels`` tensors (M, h_l, w_l, C), contiguous.
    """
    return [f.permute(0, 2, 3, 1).contiguous() for f in pyramid]


#: Upper bound on the elements of one level's correlation volume held at once (128 MiB of float32);
#: points are processed in chunks below it.
MAX_VOLUME_ELEMENTS = 32 * 1024 * 1024


def local_correlation(
    pyramid: list[torch.Tensor], track_feat: torch.Tensor, coords: torch.Tensor, radius: int
) -> torch.Tensor:
    """Correlation of each point's track feature with its neighbourhood, at every pyramid level.

    As in the official model, the correlation volume ``<f, fmap_l> / sqrt(C)`` of each level is computed with
    one batched matrix product (in chunks of points, so at most :data:`MAX_VOLUME_ELEMENTS` values exist at a
    time) and sampled bilinearly with border clamping. All ``(2r+1)^2`` positions of a point share the
    fractional part of its position (the offsets are integers), so the sampling gathers the ``(2r+2)^2``
    integer positions around it (clamped to the map, which equals border padding) and interpolates them
    with the shared weights, instead of ``(2r+1)^2`` separate ``grid_sample`` look-ups.

    Args:
        pyramid: ``levels`` tensors (B*S, h_l, w_l, C), channels-last (see :func:`flatten_pyramid`),
            frame-major (index ``b * S + s``).
        track_feat: (B, S, N, C) track features (frame ``s`` is correlated with map ``s``).
        coords: (B, S, N, 2) ``(x, y)`` positions in level-0 feature units.
        radius: neighbourhood radius r.

    Returns:
        (B, S, N, levels * (2r+1)^2), each value ``<f, fmap_l(p / 2^l + offset)> / sqrt(C)`` with
        bilinear, border-clamped sampling; order: levels fine to coarse, x-offset slow, y-offset fast.
    """
    B, S, N, C = track_feat.shape
    M = B * S
    P = 2 * radius + 2  # integer positions per axis around a point
    feat = track_feat.reshape(M, N, C) * (1.0 / math.sqrt(C))  # (M, N, C)
    steps = torch.arange(P, device=coords.device)  # (P,)
    out = []
    for level, fmap in enumerate(pyramid):
        if fmap.dim() != 4 or fmap.shape[0] != M or fmap.shape[-1] != C:
            raise ValueError(
                f"local_correlation expects channels-last maps (B*S, h, w, C) = ({M}, h, w, {C}) "
                f"(use flatten_pyramid), got {tuple(fmap.shape)}"
            )
        h, w = fmap.shape[1:3]
        maps_t = fmap.reshape(M, h * w, C).transpose(1, 2)  # (M, C, h*w)
        centres = coords.reshape(M, N, 2) / 2**level  # (M, N, 2)
        base = torch.floor(centres)
        frac = (centres - base).to(feat.dtype)  # (M, N, 2) shared bilinear weights
        base = base.long() - radius  # (M, N, 2) first integer position of the patch
        xs = (base[..., 0:1] + steps).clamp(0, w - 1)  # (M, N, P)
        ys = (base[..., 1:2] + steps).clamp(0, h - 1)  # (M, N, P)
        flat = (ys[:, :, None, :] * w + xs[:, :, :, None]).reshape(M, N, P * P)  # (M, N, P_x*P_y), x slow
        chunk = max(1, MAX_VOLUME_ELEMENTS // max(M * h * w, 1))
        patches = []
        for n0 in range(0, N, chunk):
            vol = torch.bmm(feat[:, n0 : n0 + chunk], maps_t)  # (M, n, h*w)
            patches.append(vol.gather(2, flat[:, n0 : n0 + chunk]))  # (M, n, P*P)
        c = (patches[0] if len(patches) == 1 else torch.cat(patches, dim=1)).reshape(M, N, P, P)
        fx = frac[..., 0, None, None]  # (M, N, 1, 1)
        fy = frac[..., 1, None, None]
        cx = c[:, :, :-1] * (1 - fx) + c[:, :, 1:] * fx  # (M, N, 2r+1, P_y), interpolated along x
        corr = cx[..., :-1] * (1 - fy) + cx[..., 1:] * fy  # (M, N, 2r+1, 2r+1)
        out.append(corr.reshape(M, N, -1))
    return torch.cat(out, dim=-1).reshape(B, S, N, -1)  # (B, S, N, L*K)
