"""Query sampling for training (CoTracker2's rule).

Each track is queried at its **first visible frame**, except the first ``N * random_fraction`` tracks
(a quarter by default), which are queried at a frame drawn uniformly among their visible frames. The
query position is the ground truth at that frame. Queries are ``(t, x, y)`` in the sample's pixels.
"""
from __future__ import annotations

from typing import Optional

import torch

__all__ = ["sample_training_queries"]


def sample_training_queries(
    trajectory: torch.Tensor,
    visibility: torch.Tensor,
    valid: Optional[torch.Tensor] = None,
    random_fraction: float = 0.25,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Pick one query per track.

    Args:
        trajectory: (B, T, N, 2) float pixels ``(x, y)``.
        visibility: (B, T, N) bool.
        valid: optional (B, T, N) bool; only frames both visible and valid can be queried.
        random_fraction: share of tracks (the first ``int(N * random_fraction)``) queried at a random
            visible frame instead of the first one.
        generator: torch generator for the random frames (CPU).

    Returns:
        (B, N, 3) float32 queries ``(t, x, y)``. A track never visible is queried at frame 0.
    """
    if trajectory.ndim != 4 or trajectory.shape[-1] != 2:
        raise ValueError(f"trajectory must be (B, T, N, 2), got {tuple(trajectory.shape)}")
    if visibility.shape != trajectory.shape[:3]:
        raise ValueError(f"visibility must be {tuple(trajectory.shape[:3])}, got {tuple(visibility.shape)}")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
    B, T, N, _ = trajectory.shape
    ok = visibility.bool()
    if valid is not None:
        ok = ok & valid.bool()
    frames = torch.arange(T, device=ok.device)[None, :, None].expand(B, T, N)  # (B, T, N)
    # first visible frame: smallest t where ok (T where none, then clamped to 0 below)
    first = torch.where(ok, frames, torch.full_like(frames, T)).min(dim=1).values  # (B, N)
    t_query = torch.where(first >= T, torch.zeros_like(first), first)
    n_rand = int(N * random_fraction)
    if n_rand > 0:
        sub = ok[:, :, :n_rand].cpu()  # (B, T, n_rand)
        scores = torch.rand(sub.shape, generator=generator)
        scores = torch.where(sub, scores, torch.full_like(scores, -1.0))
        rand_t = scores.argmax(dim=1).to(t_query.device)  # a uniformly random visible frame (B, n_rand)
        has_any = sub.any(dim=1).to(t_query.device)
        t_query[:, :n_rand] = torch.where(has_any, rand_t, t_query[:, :n_rand])
    xy = torch.gather(trajectory, 1, t_query[:, None, :, None].expand(B, 1, N, 2)).squeeze(1)  # (B, N, 2)
    return torch.cat([t_query[..., None].to(trajectory.dtype), xy], dim=-1).float()
