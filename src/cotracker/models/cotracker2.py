"""CoTracker2: one window of iterative refinement, and the sliding-window driver.

The model loads Meta's ``cotracker2.pth`` (window 8) and ``cotracker2v1.pth`` (window 16) with
``strict=True`` and computes the same function (COTRACKER_FACTS.md sections 1 and 9), organised for memory:

* **One code path.** The offline :meth:`CoTracker2.forward` is the streaming loop: it calls the same
  window step as :meth:`CoTracker2.stream_step`, window after window, so online equals offline by construction.
* **Window-by-window encoding.** Each frame goes through the CNN once, when the first window containing it
  runs; the features of the frames shared with the next window are kept, everything older is dropped. The
  whole clip's feature maps never exist at once, and uint8 frames are converted to float per window.
* **Query features as windows reach them.** A point's track feature is sampled from its query frame when
  the first window containing that frame runs. The official model samples all of them up front, but a point
  only contributes (its feature is multiplied by the alive mask ``queried_frame < start + S``) once its
  query frame lies inside or before the current window, so the result is identical.
* **Local correlation.** See :mod:`cotracker.models.correlation` (identical to sampling the full volume).

Deliberate fixes of official defects:

1. Clips of ``T <= S / 2`` frames get one (padded) window; the official model runs none and returns zeros
   (see :func:`cotracker.models.windows.num_windows`).
2. The cross-attention mask branch is chosen explicitly, not by comparing shapes (wrong for N == 64; see
   :class:`cotracker.models.transformer.CrossAttnBlock`).

Coordinates: queries and outputs are ``(x, y)`` pixels of the model-resolution video (align-corners);
inside, positions are feature-grid units ``pixel / stride`` (see :mod:`cotracker.geometry`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from ..geometry import features_to_pixels, pixels_to_features, rescale_points, sample_features4d, sample_features5d
from .config import TrackerConfig, cotracker2
from .correlation import build_pyramid, flatten_pyramid, local_correlation
from .embeddings import flow_embedding, sincos_2d_grid, time_embedding
from .encoder import BasicEncoder
from .transformer import EfficientUpdateFormer
from .windows import alive_mask, hand_off, pad_frames, track_mask, window_starts

__all__ = ["TrainData", "TrackerOutput", "StreamState", "CoTracker2", "VIS_INIT_LOGIT"]

#: Visibility logit a window starts from for points not handed over from the previous window ("visible").
VIS_INIT_LOGIT = 10.0


class TrainData(NamedTuple):
    """Intermediate predictions for the training losses (only when ``is_train=True``).

    Attributes:
        coords: per window, per iteration: (B, S', N, 2) model pixels, S' = the window's frames inside the clip.
        vis_logits: per window: (B, S', N) visibility logits (from the final track features).
        window_starts: first frame of each window.
        mask: (B, T, N) bool, ``queried_frame <= t``.
    """

    coords: list[list[Tensor]]
    vis_logits: list[Tensor]
    window_starts: list[int]
    mask: Tensor


class TrackerOutput(NamedTuple):
    """What :class:`CoTracker2` returns.

    Attributes:
        coords: (B, T, N, 2) float, ``(x, y)`` model-resolution pixels.
        vis: (B, T, N) float, visibility probabilities (sigmoid of the logits).
        train_data: :class:`TrainData` when ``is_train=True``, else None.
    """

    coords: Tensor
    vis: Tensor
    train_data: Optional[TrainData]


@dataclass
class StreamState:
    """Everything the model remembers between windows of one video (the module itself holds none of it).

    Attributes:
        queried_frames: (B, N) int64 query frame of each point (``t`` truncated, as ``.long()``).
        queried_coords: (B, N, 2) query ``(x, y)`` in feature-grid units.
        keypoint_ids: (B, N) int64 keypoint id (-1 = none), or None.
        ind: first frame of the next window (0, step, 2 * step, ...).
        track_feat: (B, N, C) query-frame features of the points whose query frame has been reached.
        has_feat: (B, N) bool, True once ``track_feat`` holds the point's feature.
        coords: (B, T_seen, N, 2) model pixels predicted for every frame seen so far.
        vis_logits: (B, T_seen, N) visibility logits for every frame seen so far.
        fmap_cache: (B, F, C, h, w) features of frames ``[cache_start, cache_start + F)`` (the overlap with
            the next window), or None.
        cache_start: absolute index of the first cached frame.
    """

    queried_frames: Tensor
    queried_coords: Tensor
    keypoint_ids: Optional[Tensor]
    ind: int
    track_feat: Tensor
    has_feat: Tensor
    coords: Tensor
    vis_logits: Tensor
    fmap_cache: Optional[Tensor] = None
    cache_start: int = 0

    @property
    def num_frames(self) -> int:
        """Frames seen so far (T_seen)."""
        return self.coords.shape[1]

    def output(self) -> TrackerOutput:
        """Tracks and visibility probabilities for all frames seen so far."""
        return TrackerOutput(self.coords, torch.sigmoid(self.vis_logits), None)


class _WindowResult(NamedTuple):
    coords: list[Tensor]  # per iteration (B, S', N, 2) pixels
    vis_logits: Tensor  # (B, S', N)


class CoTracker2(nn.Module):
    """The CoTracker2 point tracker (checkpoint-compatible with Meta's ``cotracker2.pth``/``cotracker2v1.pth``).

    Args:
        config: model sizes; :func:`cotracker.models.config.cotracker2` by default.
    """

    def __init__(self, config: TrackerConfig = cotracker2()):
        super().__init__()
        if not isinstance(config, TrackerConfig):
            raise TypeError(f"CoTracker2 expects a TrackerConfig, got {type(config).__name__}")
        self.config = config
        c = config
        if c.num_keypoints > 0:
            # Pose variant: one learnable embedding per keypoint type, added to the transformer input.
            self.kp_emb = nn.Parameter(torch.randn(c.num_keypoints, 1, c.input_dim) * 0.1)
        else:
            self.kp_emb = None
        self.register_buffer("time_emb", time_embedding(c.window_len, c.input_dim), persistent=True)
        self.register_buffer("pos_emb", sincos_2d_grid(c.input_dim, c.feature_hw), persistent=True)
        self.fnet = BasicEncoder(c.encoder, c.latent_dim)
        self.updateformer = EfficientUpdateFormer(c.transformer, c.input_dim, c.output_dim)
        self.norm = nn.GroupNorm(1, c.latent_dim)
        self.track_feat_updater = nn.Sequential(nn.Linear(c.latent_dim, c.latent_dim), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(c.latent_dim, 1))

    # ------------------------------------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------------------------------------
    def forward(
        self,
        video: Tensor,
        queries: Tensor,
        iters: int = 4,
        is_train: bool = False,
        keypoint_ids: Optional[Tensor] = None,
    ) -> TrackerOutput:
        """Track query points through a whole clip (sliding windows of ``window_len``, hop ``step``).

        Args:
            video: (B, T, 3, H, W) float in 0..255 or uint8, RGB, at model resolution (H, W multiples of the
                stride and >= 32; the weights are trained for ``config.model_resolution``).
            queries: (B, N, 3) float ``(t, x, y)``: frame index (truncated to int) and model pixels.
            iters: refinement iterations per window (4 in training, 6 in the predictors).
            is_train: also return every iterate and the visibility logits per window (:class:`TrainData`).
            keypoint_ids: optional (B, N) int64 keypoint type per point (-1 = none); needs ``num_keypoints > 0``
                for ids >= 0.

        Returns:
            :class:`TrackerOutput` with coords (B, T, N, 2) model pixels and vis probabilities (B, T, N).
        """
        self._check_video(video, max_frames=None)
        _check_iters(iters)
        state = self.init_stream(queries, keypoint_ids)
        self._check_batch(video, state)
        T = video.shape[1]
        S, step = self.config.window_len, self.config.step
        starts = window_starts(T, S, step)
        # Without autograd, write every window into preallocated (B, T, ...) buffers in place (as the official
        # model does) instead of re-concatenating them; the zero frames not yet written are never read.
        inplace = not is_train and not torch.is_grad_enabled()
        if inplace:
            state.coords = _extend(state.coords, T)
            state.vis_logits = _extend(state.vis_logits, T)
        all_coords: list[list[Tensor]] = []
        all_vis: list[Tensor] = []
        for start in starts:
            assert start == state.ind
            state, res = self._advance(video[:, start : start + S], state, iters, inplace=inplace)
            if is_train:
                all_coords.append(res.coords)
                all_vis.append(res.vis_logits)
        train_data = None
        if is_train:
            frames = torch.arange(T, device=state.queried_frames.device)
            mask = state.queried_frames[:, None, :] <= frames[None, :, None]  # (B, T, N)
            train_data = TrainData(all_coords, all_vis, starts, mask)
        return TrackerOutput(state.coords, torch.sigmoid(state.vis_logits), train_data)

    def init_stream(self, queries: Tensor, keypoint_ids: Optional[Tensor] = None) -> StreamState:
        """Start tracking a new video online.

        Args:
            queries: (B, N, 3) float ``(t, x, y)`` in model pixels (t a frame index >= 0).
            keypoint_ids: optional (B, N) int64 keypoint ids (-1 = none).

        Returns:
            A fresh :class:`StreamState` (``ind = 0``, no frame seen).
        """
        if not isinstance(queries, Tensor):
            raise TypeError(f"queries must be a torch.Tensor of shape (B, N, 3), got {type(queries).__name__}")
        if queries.dim() != 3 or queries.shape[-1] != 3 or queries.shape[1] < 1:
            raise ValueError(
                f"queries must have shape (B, N, 3) with (t, x, y) per point and N >= 1, got {tuple(queries.shape)}"
            )
        queries = queries.to(device=self.time_emb.device, dtype=self.time_emb.dtype)
        if not torch.isfinite(queries).all():
            raise ValueError("queries contain NaN or infinite values")
        if (queries[..., 0] < 0).any():
            raise ValueError("query frame indices t must be >= 0")
        B, N = queries.shape[:2]
        qf = queries[..., 0].long()  # (B, N)
        qxy = pixels_to_features(queries[..., 1:], self.config.stride)  # (B, N, 2)
        kp = self._check_keypoint_ids(keypoint_ids, B, N, queries.device)
        return StreamState(
            queried_frames=qf,
            queried_coords=qxy,
            keypoint_ids=kp,
            ind=0,
            track_feat=qxy.new_zeros(B, N, self.config.latent_dim),
            has_feat=torch.zeros(B, N, dtype=torch.bool, device=queries.device),
            coords=qxy.new_zeros(B, 0, N, 2),
            vis_logits=qxy.new_zeros(B, 0, N),
        )

    def stream_step(
        self, chunk: Tensor, state: StreamState, iters: int = 6, init_coords: Optional[Tensor] = None
    ) -> tuple[TrackerOutput, StreamState]:
        """Run one window online at ``state.ind``.

        The caller passes frames ``[state.ind, state.ind + S)`` of the video (the last chunk may be shorter);
        frames already encoded by the previous window are taken from the state's cache.

        Args:
            chunk: (B, T_c, 3, H, W) float 0..255 or uint8, 1 <= T_c <= window_len.
            state: from :meth:`init_stream` or the previous call (not modified).
            iters: refinement iterations.
            init_coords: optional (B, T_c, N, 2) model pixels: a first guess of every point in the chunk's frames
                (e.g. the tracks of a coarser pass, for coarse-to-fine refinement). It replaces the usual
                initialisation (query position, or the last frame handed off by the previous window) on every
                frame except the overlap frames handed off by the previous window, which keep their predictions.

        Returns:
            (output for all frames seen so far: coords (B, T_seen, N, 2), vis (B, T_seen, N); the new state
            with ``ind`` advanced by ``step``).
        """
        if not isinstance(state, StreamState):
            raise TypeError(f"state must be a StreamState from init_stream(), got {type(state).__name__}")
        self._check_video(chunk, max_frames=self.config.window_len)
        _check_iters(iters)
        self._check_batch(chunk, state)
        if init_coords is not None:
            _check_init_coords(init_coords, chunk.shape[1], state.queried_coords.shape[:2])
        state, _ = self._advance(chunk, state, iters, init_coords=init_coords)
        return state.output(), state

    # ------------------------------------------------------------------------------------------------
    # one window
    # ------------------------------------------------------------------------------------------------
    def encode(self, frames: Tensor) -> Tensor:
        """Normalise and encode frames.

        Args:
            frames: (B, T, 3, H, W) uint8 or float 0..255.

        Returns:
            (B, T, C, H / stride, W / stride) features.
        """
        B, T = frames.shape[:2]
        x = frames.to(device=self.time_emb.device, dtype=self.time_emb.dtype)  # per window, on the model's device
        x = 2 * (x / 255.0) - 1.0  # [-1, 1]
        f = self.fnet(x.reshape(B * T, *x.shape[2:]))  # (B*T, C, h, w)
        return f.reshape(B, T, *f.shape[1:])

    def _window_features(self, chunk: Tensor, state: StreamState) -> tuple[Tensor, Optional[Tensor], int]:
        """Features of the window's real frames (reusing the cache), and the new cache."""
        ind, Tc = state.ind, chunk.shape[1]
        parts = []
        reused = 0
        cache = state.fmap_cache
        if cache is not None and state.cache_start <= ind < state.cache_start + cache.shape[1]:
            off = ind - state.cache_start
            reused = min(cache.shape[1] - off, Tc)
            parts.append(cache[:, off : off + reused])
        if reused < Tc:
            parts.append(self.encode(chunk[:, reused:]))
        fmaps = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)  # (B, Tc, C, h, w)
        step = self.config.step
        new_cache = fmaps[:, step:] if Tc > step else None  # frames the next window shares
        return fmaps, new_cache, ind + step

    def _advance(
        self, chunk: Tensor, state: StreamState, iters: int, inplace: bool = False,
        init_coords: Optional[Tensor] = None,
    ) -> tuple[StreamState, _WindowResult]:
        """Run the window starting at ``state.ind`` on ``chunk`` (its real frames) and return the new state.

        With ``inplace`` the prediction buffers of ``state`` (already long enough) are written in place, which
        is only valid without autograd and when the old state is discarded (the offline driver).
        ``init_coords`` (B, T_c, N, 2) model pixels: see :meth:`stream_step`.
        """
        c = self.config
        S, step, overlap = c.window_len, c.step, c.overlap
        ind, Tc = state.ind, chunk.shape[1]
        B, N = state.queried_frames.shape
        qf = state.queried_frames

        fmaps, new_cache, cache_start = self._window_features(chunk, state)
        fmaps = pad_frames(fmaps, S, dim=1)  # (B, S, C, h, w), last frame repeated

        # Query-frame features of the points whose query frame is in this window for the first time.
        new = (~state.has_feat) & (qf >= ind) & (qf < ind + S)  # (B, N)
        track_feat, has_feat = state.track_feat, state.has_feat
        if bool(new.any()):
            txy = torch.cat([(qf - ind).clamp(0, S - 1)[..., None].to(fmaps.dtype), state.queried_coords], dim=-1)
            sampled = sample_features5d(fmaps, txy[:, None])[:, 0]  # (B, N, C)
            track_feat = torch.where(new[..., None], sampled, track_feat)
            has_feat = has_feat | new

        # Window initialisation: query position and "visible", or the hand-off from the previous window.
        coords_init = state.queried_coords[:, None].expand(B, S, N, 2)  # (B, S, N, 2)
        guess = None
        if init_coords is not None:  # a first guess from a coarser pass, last frame repeated to S frames
            guess = pad_frames(pixels_to_features(init_coords.to(coords_init), c.stride), S, dim=1)
            before = (torch.arange(ind, ind + S, device=qf.device)[None, :, None] < qf[:, None, :])[..., None]
            guess = torch.where(before, coords_init, guess)  # before its query frame a point stays at the query
            coords_init = guess
        vis_init = torch.full((B, S, N), VIS_INIT_LOGIT, dtype=fmaps.dtype, device=fmaps.device)
        if ind > 0 and state.num_frames > ind:
            copy = (qf < ind + overlap)[:, None, :]  # (B, 1, N)
            prev_c = pixels_to_features(hand_off(state.coords, ind, overlap, S), c.stride)  # (B, S, N, 2)
            if guess is not None:  # hand off only the frames predicted before; the guess for the new ones
                handed = min(state.num_frames, ind + overlap) - ind
                frames = torch.arange(S, device=guess.device)[None, :, None, None]
                prev_c = torch.where(frames < handed, prev_c, guess)
            prev_v = hand_off(state.vis_logits, ind, overlap, S)  # (B, S, N)
            coords_init = torch.where(copy[..., None], prev_c, coords_init)
            vis_init = torch.where(copy, prev_v, vis_init)

        alive = alive_mask(qf, ind, S)  # (B, N)
        tmask = track_mask(qf, ind, S, overlap)  # (B, S, N)
        feat = (track_feat * alive[..., None])[:, None].expand(B, S, N, c.latent_dim)  # (B, S, N, C)
        coords_it, vis_logits = self.forward_window(
            fmaps, coords_init, feat, vis_init, tmask, alive, iters, state.keypoint_ids
        )
        res = _WindowResult([x[:, :Tc] for x in coords_it], vis_logits[:, :Tc])

        # Write frames [ind, ind + Tc), overwriting the overlap (out of place unless told otherwise, so that
        # autograd sees it and the caller's state stays valid).
        T_new = max(state.num_frames, ind + Tc)
        if inplace and state.num_frames >= T_new:
            coords_buf, vis_buf = state.coords, state.vis_logits
            coords_buf[:, ind : ind + Tc] = res.coords[-1]
            vis_buf[:, ind : ind + Tc] = res.vis_logits
        else:
            coords_buf = _extend(state.coords, T_new)
            vis_buf = _extend(state.vis_logits, T_new)
            coords_buf = torch.cat([coords_buf[:, :ind], res.coords[-1], coords_buf[:, ind + Tc :]], dim=1)
            vis_buf = torch.cat([vis_buf[:, :ind], res.vis_logits, vis_buf[:, ind + Tc :]], dim=1)
        new_state = dataclasses.replace(
            state,
            ind=ind + step,
            track_feat=track_feat,
            has_feat=has_feat,
            coords=coords_buf,
            vis_logits=vis_buf,
            fmap_cache=new_cache,
            cache_start=cache_start,
        )
        return new_state, res

    def forward_window(
        self,
        fmaps: Tensor,
        coords: Tensor,
        track_feat: Tensor,
        vis: Tensor,
        track_mask: Tensor,
        alive: Tensor,
        iters: int,
        keypoint_ids: Optional[Tensor] = None,
    ) -> tuple[list[Tensor], Tensor]:
        """Iteratively refine the tracks of one window.

        Args:
            fmaps: (B, S, C, h, w) features of the window's frames.
            coords: (B, S, N, 2) initial positions, feature units.
            track_feat: (B, S, N, C) track features (zero for points not alive).
            vis: (B, S, N) initial visibility logits.
            track_mask: (B, S, N) bool (see :func:`cotracker.models.windows.track_mask`).
            alive: (B, N) bool, points taking part in space attention.
            iters: number of refinement iterations.
            keypoint_ids: optional (B, N) int64 keypoint ids (-1 = none).

        Returns:
            (list over iterations of (B, S, N, 2) model pixels, visibility logits (B, S, N)).
        """
        c = self.config
        B, S, N, _ = coords.shape
        C, h, w = fmaps.shape[2:]
        if S != c.window_len:
            raise ValueError(f"forward_window needs exactly window_len={c.window_len} frames, got {S}")
        pyramid = flatten_pyramid(build_pyramid(fmaps.reshape(B * S, C, h, w), c.correlation.levels))

        # Position embedding at the window's first-frame init position (once), time embedding, keypoint type.
        pos = position_embedding(self.pos_emb.expand(B, -1, -1, -1), coords[:, 0], (h, w))  # (B, N, D)
        static = pos[:, :, None, :] + self.time_emb[:, None]  # (B, N, S, D)
        if keypoint_ids is not None and self.kp_emb is not None:
            kp = self.kp_emb[keypoint_ids.clamp(min=0), 0] * (keypoint_ids >= 0)[..., None]  # (B, N, D)
            static = static + kp[:, :, None, :]
        tm_vis = torch.stack([track_mask.to(vis.dtype), vis], dim=-1).permute(0, 2, 1, 3)  # (B, N, S, 2)
        attn_mask = alive[:, None, :].expand(B, S, N).reshape(B * S, N)  # (B*S, N)

        preds = []
        for _ in range(iters):
            coords = coords.detach()
            corr = local_correlation(pyramid, track_feat, coords, c.correlation.radius)  # (B, S, N, L*K)
            flow = flow_embedding(coords - coords[:, :1], c.flow_emb_channels)  # (B, S, N, flow_dim)
            x = torch.cat([flow, corr, track_feat], dim=-1).permute(0, 2, 1, 3)  # (B, N, S, D-2)
            x = torch.cat([x, tm_vis], dim=-1) + static  # (B, N, S, D)
            delta = self.updateformer(x, attn_mask)  # (B, N, S, 2 + C)
            delta = delta.permute(0, 2, 1, 3)  # (B, S, N, 2 + C)
            coords = coords + delta[..., :2]
            preds.append(features_to_pixels(coords, c.stride))
            dfeat = self.norm(delta[..., 2:].reshape(-1, c.latent_dim))  # (B*S*N, C)
            track_feat = track_feat + self.track_feat_updater(dfeat).reshape(B, S, N, c.latent_dim)
        vis_logits = self.vis_predictor(track_feat)[..., 0]  # (B, S, N)
        return preds, vis_logits

    # ------------------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------------------
    def _check_video(self, video: Tensor, max_frames: Optional[int]) -> None:
        if not isinstance(video, Tensor):
            raise TypeError(f"video must be a torch.Tensor (B, T, 3, H, W), got {type(video).__name__}")
        if video.dim() != 5 or video.shape[2] != 3:
            raise ValueError(
                f"video must have shape (B, T, 3, H, W) (RGB, 0..255), got {tuple(video.shape)}; "
                "permute channels-last frames with video.permute(0, 1, 4, 2, 3)"
            )
        if video.dtype != torch.uint8 and not video.is_floating_point():
            raise TypeError(f"video must be uint8 or float (0..255), got {video.dtype}")
        T, H, W = video.shape[1], video.shape[3], video.shape[4]
        if T < 1:
            raise ValueError("video has no frames")
        if max_frames is not None and T > max_frames:
            raise ValueError(f"a stream chunk holds at most window_len={max_frames} frames, got {T}")
        s = self.config.stride
        if H % s or W % s or H < 32 or W < 32:
            raise ValueError(
                f"video height and width must be multiples of the stride {s} and at least 32, got {H}x{W}; "
                f"resize to the model resolution {self.config.model_resolution} first"
            )

    @staticmethod
    def _check_batch(video: Tensor, state: StreamState) -> None:
        if video.shape[0] != state.queried_frames.shape[0]:
            raise ValueError(
                f"video batch size {video.shape[0]} does not match queries batch size {state.queried_frames.shape[0]}"
            )

    def _check_keypoint_ids(self, keypoint_ids: Optional[Tensor], B: int, N: int, device) -> Optional[Tensor]:
        if keypoint_ids is None:
            return None
        if not isinstance(keypoint_ids, Tensor) or keypoint_ids.dtype.is_floating_point or keypoint_ids.dtype == torch.bool:
            raise TypeError("keypoint_ids must be an integer torch.Tensor of shape (B, N)")
        if tuple(keypoint_ids.shape) != (B, N):
            raise ValueError(f"keypoint_ids must have shape (B, N) = {(B, N)}, got {tuple(keypoint_ids.shape)}")
        kp = keypoint_ids.long().to(device)
        K = self.config.num_keypoints
        bad = kp[(kp < -1) | (kp >= K)]
        if bad.numel():
            raise ValueError(
                f"keypoint_ids must be -1 (none) or in [0, {K}) for this model "
                f"(num_keypoints={K}), got values {sorted(set(bad.tolist()))[:5]}"
            )
        return kp


def position_embedding(pos_emb: Tensor, xy: Tensor, feature_hw: tuple[int, int]) -> Tensor:
    """``pos_emb`` (B, D, h0, w0) sampled at ``xy`` (B, N, 2) feature units of a (h, w) = ``feature_hw`` grid.

    At the trained grid size this is plain bilinear sampling (the official behaviour). On another grid (the model
    run at another resolution, e.g. a coarse-to-fine pass) the position is taken relative to the frame, as if the
    embedding grid were stretched over it: the corners map to the corners. Returns (B, N, D).
    """
    trained = (int(pos_emb.shape[-2]), int(pos_emb.shape[-1]))
    if tuple(feature_hw) != trained:
        xy = rescale_points(xy, feature_hw, trained)
    return sample_features4d(pos_emb, xy)


def _check_init_coords(init_coords: Tensor, frames: int, bn: tuple[int, int]) -> None:
    """``init_coords`` must be a finite (B, T_c, N, 2) float tensor matching the chunk and the queries."""
    if not isinstance(init_coords, Tensor) or not init_coords.is_floating_point():
        raise TypeError(f"init_coords must be a float tensor (B, T_c, N, 2), got {type(init_coords).__name__}")
    B, N = int(bn[0]), int(bn[1])
    if tuple(init_coords.shape) != (B, frames, N, 2):
        raise ValueError(
            f"init_coords must have shape (B, T_c, N, 2) = ({B}, {frames}, {N}, 2) (one guess per chunk frame and "
            f"point, model pixels), got {tuple(init_coords.shape)}"
        )
    if not torch.isfinite(init_coords).all():
        raise ValueError("init_coords contain NaN or infinite values")


def _check_iters(iters: int) -> None:
    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 1:
        raise ValueError(f"iters must be a positive int (4 in training, 6 for inference), got {iters!r}")


def _extend(buf: Tensor, length: int) -> Tensor:
    """Zero-pad ``buf`` (B, T, ...) along time to ``length`` frames."""
    if buf.shape[1] >= length:
        return buf
    pad = buf.new_zeros(buf.shape[0], length - buf.shape[1], *buf.shape[2:])
    return torch.cat([buf, pad], dim=1)
