# SPDX-License-Identifier: Apache-2.0
"""Sub-pixel polish of the model's tracks with a guarded Lucas-Kanade chain at the input resolution.

The model sees the video at its own resolution (192x256, then 384x512 in the second pass) with features at stride
4, so its positions carry a few pixels of noise at the input resolution even where it follows the right point.
Pyramidal Lucas-Kanade from one frame to the next is precise to a fraction of a pixel but drifts and cannot come
back from a mistake. The polish keeps the model in charge and lets LK add the last digits: each point is chained
from its query frame, frame by frame, with LK started at the model's position; LK's answer is kept only where

* the model calls the point visible in both frames,
* LK's forward-backward round trip ends within ``fb_threshold`` pixels of where it started, and
* it lies within ``radius`` of the model's position (so the chain can never wander farther than that from the
  model),

and otherwise the chain restarts from the model's position. Everything here is in input-video pixels
(align-corners, as :mod:`cotracker.geometry`). The image pyramid follows the classical construction (a 5-tap
binomial blur, then every other pixel, so a point ``x`` at one level is ``x / 2`` at the next).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["PolishConfig", "lucas_kanade", "polish_tracks", "to_gray", "image_pyramid"]

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)
_SCHARR = ((-3.0, 0.0, 3.0), (-10.0, 0.0, 10.0), (-3.0, 0.0, 3.0))


@dataclass(frozen=True)
class PolishConfig:
    """Settings of :func:`polish_tracks`.

    Attributes:
        radius: LK's position is kept only within this distance of the model's, as a fraction of the frame's
            longer side (0.06: 31 px of a 512-wide frame).
        fb_threshold: forward-backward check: tracking LK's answer back to the previous frame must land within
            this many input pixels of where it started.
        window: side of LK's square integration window, input pixels (odd).
        levels: pyramid levels above the input resolution.
        iters: Gauss-Newton iterations per level.
        min_eigen: a window whose structure tensor's smaller eigenvalue (per pixel, grey levels 0..1 squared) is
            below this has no texture to lock on to: the model's position is kept.
    """

    radius: float = 0.06
    fb_threshold: float = 0.25
    window: int = 11
    levels: int = 2
    iters: int = 10
    min_eigen: float = 1e-4

    def __post_init__(self):
        if not 0.0 < self.radius <= 1.0:
            raise ValueError(f"PolishConfig.radius must be in (0, 1] (a fraction of the longer side), got {self.radius}")
        if not self.fb_threshold > 0:
            raise ValueError(f"PolishConfig.fb_threshold must be > 0 pixels, got {self.fb_threshold}")
        if self.window < 3 or self.window % 2 == 0:
            raise ValueError(f"PolishConfig.window must be an odd number of pixels >= 3, got {self.window}")
        if self.levels < 0:
            raise ValueError(f"PolishConfig.levels must be >= 0, got {self.levels}")
        if self.iters < 1:
            raise ValueError(f"PolishConfig.iters must be >= 1, got {self.iters}")
        if self.min_eigen < 0:
            raise ValueError(f"PolishConfig.min_eigen must be >= 0, got {self.min_eigen}")


def to_gray(frames: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB 0..255 (any dtype) -> (..., H, W) float32 luma in 0..1 (ITU-R BT.601 weights)."""
    f = frames.to(torch.float32)
    return (0.299 * f[..., 0, :, :] + 0.587 * f[..., 1, :, :] + 0.114 * f[..., 2, :, :]) / 255.0


def _blur_down(img: torch.Tensor) -> torch.Tensor:
    """(M, 1, H, W) -> (M, 1, ceil(H/2), ceil(W/2)): 5x5 binomial blur (reflected borders), every other pixel."""
    k = img.new_tensor(_BINOMIAL)
    k = k / k.sum()
    pad = 2
    if img.shape[-1] > pad and img.shape[-2] > pad:
        img = F.pad(img, (pad, pad, pad, pad), mode="reflect")
    else:
        img = F.pad(img, (pad, pad, pad, pad), mode="replicate")
    img = F.conv2d(img, k.view(1, 1, 1, 5))
    img = F.conv2d(img, k.view(1, 1, 5, 1))
    return img[..., ::2, ::2]


def image_pyramid(gray: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """(M, H, W) float images -> ``levels + 1`` tensors (M, 1, H_l, W_l), the input first."""
    pyr = [gray[:, None]]
    for _ in range(levels):
        pyr.append(_blur_down(pyr[-1]))
    return pyr


def _gradients(img: torch.Tensor) -> torch.Tensor:
    """(M, 1, H, W) -> (M, 2, H, W): Scharr d/dx and d/dy (per pixel, replicated borders)."""
    k = img.new_tensor(_SCHARR) / 32.0
    w = torch.stack([k, k.t()])[:, None]  # (2, 1, 3, 3)
    return F.conv2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), w)


def _sample(img: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of (1, C, H, W) ``img`` at (P, K, 2) pixel positions -> (P, K, C); borders replicated."""
    H, W = img.shape[-2:]
    gx = xy[..., 0] * (2.0 / max(W - 1, 1)) - 1.0
    gy = xy[..., 1] * (2.0 / max(H - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)[None]  # (1, P, K, 2)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)  # (1, C, P, K)
    return out[0].permute(1, 2, 0)  # (P, K, C)


def _window_offsets(window: int, device: torch.device) -> torch.Tensor:
    half = (window - 1) // 2
    r = torch.arange(-half, half + 1, device=device, dtype=torch.float32)
    oy, ox = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([ox.reshape(-1), oy.reshape(-1)], dim=-1)  # (K, 2)


def lucas_kanade(pyr_a: list[torch.Tensor], pyr_b: list[torch.Tensor], points: torch.Tensor, guess: torch.Tensor,
                 config: PolishConfig = PolishConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """Pyramidal Lucas-Kanade: where the points of image a are in image b.

    Args:
        pyr_a, pyr_b: the two images' :func:`image_pyramid` (each level (1, 1, H_l, W_l)), as many levels as
            ``config.levels + 1``.
        points: (P, 2) float32 ``(x, y)`` pixels of image a.
        guess: (P, 2) float32 first guess of their positions in image b.
        config: window, iterations, texture threshold.

    Returns:
        (P, 2) float32 positions in image b, and (P,) bool: False where a window had too little texture at some
        level or the answer is not finite.
    """
    if len(pyr_a) != config.levels + 1 or len(pyr_b) != config.levels + 1:
        raise ValueError(f"pyramids must have config.levels + 1 = {config.levels + 1} levels, "
                         f"got {len(pyr_a)} and {len(pyr_b)}")
    offsets = _window_offsets(config.window, points.device)  # (K, 2)
    ok = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
    flow = None  # (P, 2) displacement at the current level
    for level in range(config.levels, -1, -1):
        scale = 0.5 ** level
        p = points * scale  # (P, 2)
        flow = (guess - points) * scale if flow is None else flow * 2.0
        a, b = pyr_a[level], pyr_b[level]
        where_a = p[:, None] + offsets  # (P, K, 2)
        sampled = _sample(torch.cat([a, _gradients(a)], dim=1), where_a)  # (P, K, 3)
        tmpl, ix, iy = sampled.unbind(-1)  # (P, K) each
        gxx, gxy, gyy = (ix * ix).sum(1), (ix * iy).sum(1), (iy * iy).sum(1)  # (P,)
        det = gxx * gyy - gxy * gxy
        trace_half = 0.5 * (gxx + gyy)
        min_eig = trace_half - torch.sqrt(torch.clamp(trace_half ** 2 - det, min=0.0))
        ok &= min_eig / offsets.shape[0] >= config.min_eigen
        safe = torch.where(det.abs() > 1e-12, det, torch.ones_like(det))
        for _ in range(config.iters):
            warped = _sample(b, where_a + flow[:, None])[..., 0]  # (P, K)
            diff = tmpl - warped
            bx, by = (diff * ix).sum(1), (diff * iy).sum(1)
            step = torch.stack([gyy * bx - gxy * by, gxx * by - gxy * bx], dim=-1) / safe[:, None]  # (P, 2)
            flow = flow + torch.where(ok[:, None], step, torch.zeros_like(step))
    out = points + flow
    ok &= torch.isfinite(out).all(-1)
    return torch.where(torch.isfinite(out), out, guess), ok


class _Frames:
    """Frame ``t`` (3, H, W) of a clip: a (T, 3, H, W) tensor, or an iterable read once in increasing ``t`` (a
    decoder's second pass), keeping the frames up to ``keep_until`` for a chain that comes back to them."""

    def __init__(self, video, T: int, keep_until: int):
        self.T, self.keep_until = T, keep_until
        self.tensor = video if isinstance(video, torch.Tensor) else None
        self.stream = None if self.tensor is not None else iter(video)
        self.read, self.kept, self.last = 0, {}, None
        if self.tensor is not None and (video.dim() != 4 or video.shape[0] != T or video.shape[1] != 3):
            raise ValueError(f"video must be (T, 3, H, W) with T = {T} (the tracks' frames), got {tuple(video.shape)}")

    def __call__(self, t: int) -> torch.Tensor:
        if self.tensor is not None:
            return self.tensor[t]
        if t in self.kept:
            return self.kept[t]
        if self.last is not None and t == self.read - 1:
            return self.last
        if t < self.read:
            raise RuntimeError(f"frame {t} of a one-pass stream was asked for after frame {self.read - 1}")
        while self.read <= t:
            try:
                frame = next(self.stream)
            except StopIteration:
                raise ValueError(f"the frames ended after {self.read} of the tracks' {self.T}") from None
            if frame.dim() != 3 or frame.shape[0] != 3:
                raise ValueError(f"frame {self.read} must be (3, H, W), got {tuple(frame.shape)}")
            if self.last is not None and frame.shape != self.last.shape:
                raise ValueError(f"frame {self.read} is {tuple(frame.shape)}, frame {self.read - 1} "
                                 f"{tuple(self.last.shape)}: every frame must have one size")
            if self.read <= self.keep_until:
                self.kept[self.read] = frame
            self.last, self.read = frame, self.read + 1
        return self.last


def polish_tracks(video, tracks: torch.Tensor, visible: torch.Tensor, query_frames: torch.Tensor,
                  config: PolishConfig = PolishConfig(), backward: bool = False,
                  start: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Polish one clip's tracks (module docstring).

    Args:
        video: (T, 3, H, W) RGB 0..255 (uint8 or float) in the pixels of ``tracks``; or an iterable of its T
            frames (3, H, W), read once in order (e.g. decoded a second time from the file, so that the clip never
            has to be held at its full size; with ``backward`` the frames up to the last query frame are kept).
        tracks: (T, N, 2) float ``(x, y)`` pixels, the model's positions.
        visible: (T, N) bool, the model's visibility.
        query_frames: (N,) int frame index of each point's query; the chain starts there from ``tracks``.
        config: :class:`PolishConfig`.
        backward: also chain backwards from the query frame to frame 0 (with backward tracking); otherwise frames
            before the query frame are left as they are.
        start: optional (N,) int first frame to polish forward from (default the query frames): the online
            predictor resumes a chain that way, with ``tracks`` at frame ``start`` already polished.

    Returns:
        (T, N, 2) float32, the polished positions; query frames and frames LK does not improve are unchanged.
    """
    T, N = int(tracks.shape[0]), int(tracks.shape[1])
    if tuple(visible.shape) != (T, N) or tuple(query_frames.shape) != (N,):
        raise ValueError(f"visible must be (T, N) = {(T, N)} and query_frames (N,), got {tuple(visible.shape)} "
                         f"and {tuple(query_frames.shape)}")
    q = query_frames.to(torch.int64).cpu()
    frames = _Frames(video, T, int(q.max()) if backward and N else -1)
    model = tracks.to(torch.float32)
    out = model.clone()
    if N == 0 or T < 2:
        return out
    H, W = (int(v) for v in frames(0).shape[-2:])
    radius = config.radius * max(H, W)
    first = q if start is None else start.to(torch.int64).cpu()
    pyramids: dict[int, list[torch.Tensor]] = {}

    def pyramid(t: int) -> list[torch.Tensor]:
        if t not in pyramids:
            pyramids[t] = image_pyramid(to_gray(frames(t)[None]).to(model.device), config.levels)
        return pyramids[t]

    def link(t: int, n: int, idx: torch.Tensor) -> None:
        """Chain the points ``idx`` from frame t (``out``) to frame n."""
        p, m = out[t, idx], model[n, idx]
        p1, ok1 = lucas_kanade(pyramid(t), pyramid(n), p, m, config)
        back, ok2 = lucas_kanade(pyramid(n), pyramid(t), p1, p, config)
        good = (ok1 & ok2 & ((back - p).norm(dim=-1) < config.fb_threshold)
                & ((p1 - m).norm(dim=-1) < radius) & visible[n, idx] & visible[t, idx])
        out[n, idx] = torch.where(good[:, None], p1, m)

    for t in range(T - 1):  # forward: every point whose chain has reached frame t goes on to t + 1
        idx = torch.nonzero(first <= t).flatten()
        if idx.numel():
            link(t, t + 1, idx.to(model.device))
        pyramids.pop(t - 1, None)
    if backward:
        pyramids.clear()
        for t in range(T - 1, 0, -1):
            idx = torch.nonzero(q >= t).flatten()
            if idx.numel():
                link(t, t - 1, idx.to(model.device))
            pyramids.pop(t + 1, None)
    return out
