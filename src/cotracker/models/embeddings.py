"""Sine-cosine embeddings: frame index (``time_emb``), feature-grid position (``pos_emb``) and flow.

Layouts follow the official checkpoints exactly (COTRACKER_FACTS.md section 1.4):

* 1D: frequencies ``omega_k = 10000^(-k / (D/2))``, output ``[sin(p * omega), cos(p * omega)]`` as two
  blocks of ``D/2`` (not interleaved), computed in float64 and returned as float32.
* 2D grid: the first half of the channels embeds the **x / column** index, the second half the y / row index.
* Flow: ``[dx, dy, pe(dx), pe(dy)]`` where each ``pe`` is **interleaved** ``sin, cos`` pairs with
  **linear** frequencies ``f_j = 2 j * 1000 / C`` (``f_0 = 0``), computed in the input dtype.
"""
from __future__ import annotations

import torch

__all__ = ["sincos_1d", "time_embedding", "sincos_2d_grid", "flow_embedding"]


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """1D sin-cos embedding of positions.

    Args:
        dim: embedding width D (even).
        positions: (...,) positions (any float or int dtype).

    Returns:
        (..., D) float32: ``[sin(p * omega_k)]_k`` then ``[cos(p * omega_k)]_k``, k = 0..D/2-1.
    """
    if dim % 2:
        raise ValueError(f"sincos_1d needs an even dim, got {dim}")
    half = dim // 2
    omega = torch.arange(half, dtype=torch.float64, device=positions.device) / half
    omega = 1.0 / 10000.0**omega  # (D/2,)
    angles = positions.to(torch.float64)[..., None] * omega  # (..., D/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).float()


def time_embedding(length: int, dim: int) -> torch.Tensor:
    """The ``time_emb`` buffer: 1D embedding of frame indices 0..length-1, shape (1, length, dim) float32."""
    return sincos_1d(dim, torch.arange(length))[None]


def sincos_2d_grid(dim: int, hw: tuple[int, int]) -> torch.Tensor:
    """The ``pos_emb`` buffer: 2D sin-cos embedding over an ``(h, w)`` grid.

    Args:
        dim: total width D (divisible by 4).
        hw: grid size ``(h, w)`` (feature grid of the model resolution, e.g. (96, 128)).

    Returns:
        (1, D, h, w) float32. Channels ``0..D/2-1`` embed the column (x) index, ``D/2..D-1`` the row (y) index.
    """
    if dim % 4:
        raise ValueError(f"sincos_2d_grid needs dim divisible by 4, got {dim}")
    h, w = hw
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")  # (h, w) each
    emb = torch.cat([sincos_1d(dim // 2, xs), sincos_1d(dim // 2, ys)], dim=-1)  # (h, w, D)
    return emb.permute(2, 0, 1)[None].contiguous()  # (1, D, h, w)


def flow_embedding(xy: torch.Tensor, channels: int) -> torch.Tensor:
    """Embedding of 2D displacements (feature units), as the official ``get_2d_embedding(cat_coords=True)``.

    Args:
        xy: (..., 2) displacement ``(dx, dy)``.
        channels: C, sin/cos channels per axis (even; 64 for CoTracker2).

    Returns:
        (..., 2 + 2C): ``[dx, dy, pe_x (C), pe_y (C)]`` with ``pe[2j] = sin(v f_j)``, ``pe[2j+1] = cos(v f_j)``,
        ``f_j = 2 j * 1000 / C``.
    """
    if channels % 2:
        raise ValueError(f"flow_embedding needs an even number of channels, got {channels}")
    freqs = torch.arange(0, channels, 2, device=xy.device, dtype=xy.dtype) * (1000.0 / channels)  # (C/2,)
    angles = xy[..., None] * freqs  # (..., 2, C/2)
    pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1)  # (..., 2, C/2, 2) interleaved
    pe = pe.flatten(-3)  # (..., 2C): pe_x then pe_y
    return torch.cat([xy, pe], dim=-1)
