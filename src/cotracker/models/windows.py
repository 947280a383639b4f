"""Pure sliding-window arithmetic of CoTracker2 (no model, no parameters).

Windows have length S and hop ``step = S // 2``; window ``k`` starts at frame ``k * step`` and covers
``[start, start + S)``, trimmed to the clip. Consecutive windows share ``overlap = S - step`` frames; the
later window overwrites them.
"""
from __future__ import annotations

import torch

__all__ = [
    "official_num_windows",
    "num_windows",
    "window_starts",
    "pad_frames",
    "alive_mask",
    "track_mask",
    "hand_off",
]


def official_num_windows(num_frames: int, window_len: int, step: int) -> int:
    """The official window count ``(T - S + step - 1) // step + 1`` (Python floor division).

    It is 0 for ``T <= S / 2`` (the official model then returns all-zero tracks); see :func:`num_windows`.
    """
    return (num_frames - window_len + step - 1) // step + 1


def num_windows(num_frames: int, window_len: int, step: int) -> int:
    """Number of windows needed to cover ``num_frames`` frames.

    Deliberate fix of an official defect: clips of ``T <= S / 2`` frames get **one** window (padded by
    repeating the last frame) instead of none. For longer clips this equals :func:`official_num_windows`.

    Raises:
        ValueError: if ``num_frames < 1``.
    """
    if num_frames < 1:
        raise ValueError(f"need at least one frame, got {num_frames}")
    return max(1, official_num_windows(num_frames, window_len, step))


def window_starts(num_frames: int, window_len: int, step: int) -> list[int]:
    """First frame of every window: ``[0, step, 2 * step, ...]`` (the last window reaches frame T-1)."""
    return [k * step for k in range(num_windows(num_frames, window_len, step))]


def pad_frames(x: torch.Tensor, length: int, dim: int = 1) -> torch.Tensor:
    """Pad ``x`` along ``dim`` to ``length`` by repeating its last entry (no-op if already long enough)."""
    n = x.shape[dim]
    if n >= length:
        return x
    last = x.narrow(dim, n - 1, 1)
    reps = [1] * x.dim()
    reps[dim] = length - n
    return torch.cat([x, last.repeat(*reps)], dim=dim)


def alive_mask(queried_frames: torch.Tensor, start: int, window_len: int) -> torch.Tensor:
    """Points whose query frame is before the end of the window ``[start, start + S)``.

    Args:
        queried_frames: (B, N) int64 query frame per point.

    Returns:
        (B, N) bool.
    """
    return queried_frames < start + window_len


def track_mask(queried_frames: torch.Tensor, start: int, window_len: int, overlap: int) -> torch.Tensor:
    """The ``track_mask`` input of a window: query frame <= absolute frame, and (for ``start > 0``) False on
    the first ``overlap`` frames, which the previous window already estimated (official rule).

    Args:
        queried_frames: (B, N) int64.

    Returns:
        (B, S, N) bool.
    """
    frames = torch.arange(start, start + window_len, device=queried_frames.device)  # (S,)
    mask = queried_frames[:, None, :] <= frames[None, :, None]  # (B, S, N)
    if start > 0:
        mask[:, :overlap] = False
    return mask


def hand_off(
    previous: torch.Tensor, start: int, overlap: int, window_len: int, dim: int = 1
) -> torch.Tensor:
    """Initialisation of a window from the previous predictions on its overlap frames.

    Takes ``previous[start : start + overlap]`` along ``dim`` (fewer frames if ``previous`` ends earlier)
    and repeats the last of them up to ``window_len`` frames ("replicate" padding).

    Args:
        previous: (B, T_prev, ...) predictions so far (frames on ``dim``).
        start: window start frame.
        overlap: frames shared with the previous window.
        window_len: S.

    Returns:
        (B, S, ...) along ``dim``.

    Raises:
        ValueError: if ``previous`` has no frame at or after ``start``.
    """
    avail = min(previous.shape[dim], start + overlap) - start
    if avail < 1:
        raise ValueError(f"no previous prediction to hand off at frame {start} (have {previous.shape[dim]} frames)")
    return pad_frames(previous.narrow(dim, start, avail), window_len, dim=dim)
