"""Temporal smoothing of keypoint tracks: the One-Euro filter (Casiez, Roussel and Vogel, CHI 2012).

The One-Euro filter is an exponential low-pass filter whose cut-off frequency rises with the speed
of the point: ``cutoff = min_cutoff + beta * |speed|``. A still or slow joint is smoothed strongly
(removing tracker jitter), a fast one passes almost unfiltered (no lag on fast motion). For offline
tracks, ``bidirectional=True`` runs the filter forwards and backwards in time and averages the two:
their lags have opposite signs, so a constant-velocity motion is reproduced without lag.

Units: positions in pixels, speeds in pixels per second, frequencies in Hz at ``fps`` frames per second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

__all__ = ["OneEuroConfig", "one_euro_filter", "smooth_tracks"]


@dataclass(frozen=True)
class OneEuroConfig:
    """Parameters of the One-Euro filter.

    Attributes:
        min_cutoff: cut-off frequency (Hz) for a still point; lower smooths more.
        beta: how fast the cut-off rises with speed (Hz per pixel/second); higher lags less on fast motion.
        d_cutoff: cut-off frequency (Hz) of the low-pass filter on the speed estimate.
        fps: frame rate of the video (frames per second).
        bidirectional: average a forward and a backward pass (offline, zero lag on constant velocity).
        edge_pad: frames of point-reflected padding at each end of a run (bidirectional only); None = three
            time constants of the still-point filter, ``3 * fps / (2 pi min_cutoff)``.
    """

    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0
    fps: float = 30.0
    bidirectional: bool = True
    edge_pad: Optional[int] = None

    def __post_init__(self):
        for name in ("min_cutoff", "d_cutoff", "fps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"OneEuroConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.edge_pad is not None and self.edge_pad < 0:
            raise ValueError(f"OneEuroConfig.edge_pad must be >= 0 or None, got {self.edge_pad}")
        if self.beta < 0:
            raise ValueError(f"OneEuroConfig.beta must be >= 0, got {self.beta}")


def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray | float:
    """Smoothing factor of an exponential filter with the given cut-off (Hz) at ``fps``."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * fps)


def _one_euro_pass(x: np.ndarray, cfg: OneEuroConfig) -> np.ndarray:
    """Causal One-Euro pass over time. x: (L, n, 2) float64, every frame valid -> (L, n, 2)."""
    out = np.empty_like(x)
    out[0] = x[0]  # the filter starts at the first sample
    prev, dprev = x[0], np.zeros(x.shape[1:])  # (n, 2) last filtered position and velocity (pixels / second)
    a_d = _alpha(cfg.d_cutoff, cfg.fps)
    for t in range(1, x.shape[0]):
        dhat = a_d * (x[t] - prev) * cfg.fps + (1 - a_d) * dprev  # (n, 2)
        cutoff = cfg.min_cutoff + cfg.beta * np.linalg.norm(dhat, axis=-1)  # (n,)
        a = _alpha(cutoff, cfg.fps)[:, None]  # (n, 1)
        prev = a * x[t] + (1 - a) * prev
        dprev = dhat
        out[t] = prev
    return out


def _odd_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Extend (L, n, 2) by ``pad`` frames at both ends, point-reflected about the end samples."""
    pad = min(pad, x.shape[0] - 1)
    if pad <= 0:
        return x
    head = 2 * x[:1] - x[pad:0:-1]  # (pad, n, 2)
    tail = 2 * x[-1:] - x[-2:-pad - 2:-1]  # (pad, n, 2)
    return np.concatenate([head, x, tail], axis=0)


def _runs(valid: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, stop, point)`` of every maximal run of True frames in (T, N) ``valid``."""
    T = valid.shape[0]
    edges = np.diff(np.concatenate([np.zeros((1, valid.shape[1]), bool), valid, np.zeros((1, valid.shape[1]), bool)]
                                   ).astype(np.int8), axis=0)  # (T + 1, N): +1 where a run starts, -1 after it ends
    starts, ends = np.argwhere(edges == 1), np.argwhere(edges == -1)
    order_s = np.lexsort((starts[:, 0], starts[:, 1]))
    order_e = np.lexsort((ends[:, 0], ends[:, 1]))
    out = [(int(s[0]), int(e[0]), int(s[1])) for s, e in zip(starts[order_s], ends[order_e])]
    assert all(0 <= a < b <= T for a, b, _ in out)
    return out


def one_euro_filter(
    tracks: np.ndarray, valid: Optional[np.ndarray] = None, config: OneEuroConfig = OneEuroConfig()
) -> np.ndarray:
    """Smooth point tracks over time with the One-Euro filter.

    Each contiguous run of valid frames of a point is filtered on its own. With ``bidirectional``, a run is
    first extended at both ends by its point reflection (``2 x_0 - x_k``, which continues a constant
    velocity), so the two passes agree at the ends too and linear motion passes without lag everywhere.

    Args:
        tracks: (T, N, 2) float, ``(x, y)`` pixels per frame and point.
        valid: optional (T, N) bool, the frames each point is defined in (e.g. from its query frame on);
            invalid frames are returned unchanged. Defaults to every frame where the point is finite.
        config: the filter's parameters.

    Returns:
        (T, N, 2) float64, the smoothed tracks.
    """
    x = np.asarray(tracks, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 2:
        raise ValueError(f"one_euro_filter expects tracks of shape (T, N, 2), got {tuple(x.shape)}")
    finite = np.isfinite(x).all(-1)
    if valid is not None and np.shape(valid) != x.shape[:2]:
        raise ValueError(f"valid must have shape {x.shape[:2]} (T, N), got {np.shape(valid)}")
    valid = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    out = x.copy()
    groups: dict[tuple[int, int], list[int]] = {}
    for start, stop, n in _runs(valid):  # points with the same run are filtered together
        groups.setdefault((start, stop), []).append(n)
    pad = config.edge_pad if config.edge_pad is not None else int(math.ceil(3 * config.fps / (2 * math.pi * config.min_cutoff)))
    for (start, stop), idx in groups.items():
        seg = x[start:stop, idx]  # (L, n, 2)
        if not config.bidirectional:
            out[start:stop, idx] = _one_euro_pass(seg, config)
            continue
        padded = _odd_pad(seg, pad)
        p = (padded.shape[0] - seg.shape[0]) // 2
        both = 0.5 * (_one_euro_pass(padded, config) + _one_euro_pass(padded[::-1], config)[::-1])
        out[start:stop, idx] = both[p:p + seg.shape[0]]
    return out


def smooth_tracks(
    tracks: torch.Tensor, valid: Optional[torch.Tensor] = None, config: OneEuroConfig = OneEuroConfig()
) -> torch.Tensor:
    """:func:`one_euro_filter` on tensors of shape (..., T, N, 2) (leading dimensions are independent).

    Args:
        tracks: (..., T, N, 2) float, pixels.
        valid: optional (..., T, N) bool.
        config: the filter's parameters.

    Returns:
        (..., T, N, 2) of the input dtype and device.
    """
    lead = tracks.shape[:-3]
    T, N = tracks.shape[-3], tracks.shape[-2]
    x = tracks.detach().cpu().double().reshape(-1, T, N, 2).numpy()  # (L, T, N, 2)
    v = None if valid is None else valid.detach().cpu().bool().reshape(-1, T, N).numpy()
    # Fold the leading dimensions into the point axis: the filter treats points independently.
    x = x.transpose(1, 0, 2, 3).reshape(T, -1, 2)  # (T, L*N, 2)
    v = None if v is None else v.transpose(1, 0, 2).reshape(T, -1)  # (T, L*N)
    y = one_euro_filter(x, v, config).reshape(T, -1, N, 2).transpose(1, 0, 2, 3)  # (L, T, N, 2)
    return torch.from_numpy(np.ascontiguousarray(y)).to(tracks.dtype).to(tracks.device).reshape(*lead, T, N, 2)
