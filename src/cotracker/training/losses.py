"""Tracking losses as pure functions: the sequence (trajectory) loss and the balanced visibility loss.

All functions take **per-window lists**, the layout the model's ``TrainData`` uses: window ``j`` covers
frames ``[start_j, start_j + S_j)`` and holds ``n`` refinement iterates of shape ``(B, S_j, N, 2)``.
Ground truth for each window is cut out with :func:`slice_windows`.

Normalisation (``normalization`` argument):

* ``"per_track"`` (CoTracker2, the default): the per-window terms are **summed** over windows and
  divided by ``N``, the number of tracks in the batch.
* ``"mean"`` (CoTracker3): the per-window terms are **averaged** over windows.

Coordinates are pixels at model resolution; visibility is bool (True = visible).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "NORMALIZATIONS",
    "EPS",
    "slice_windows",
    "masked_mean",
    "huber",
    "point_error",
    "sequence_loss",
    "balanced_vis_loss",
    "track_loss",
]

NORMALIZATIONS = ("per_track", "mean")
EPS = 1e-6


def slice_windows(x: torch.Tensor, window_starts: Sequence[int], window_lens: Sequence[int]) -> list[torch.Tensor]:
    """Cut a full-length tensor into the model's windows.

    Args:
        x: (B, T, ...) any tensor with time on dim 1 (tracks, visibility, valid mask).
        window_starts: first frame of each window.
        window_lens: number of frames S_j of each window (the length of that window's predictions).

    Returns:
        list over windows of (B, S_j, ...) views of ``x``.
    """
    if len(window_starts) != len(window_lens):
        raise ValueError(f"got {len(window_starts)} window starts but {len(window_lens)} window lengths")
    out = []
    for start, length in zip(window_starts, window_lens):
        if start < 0 or start + length > x.shape[1]:
            raise ValueError(f"window [{start}, {start + length}) does not fit in {x.shape[1]} frames")
        out.append(x[:, start : start + length])
    return out


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum(values * mask) / (EPS + sum(mask))``, a scalar; 0 when the mask is empty.

    Args:
        values: any shape, float.
        mask: broadcastable to ``values``; bool or float weights.
    """
    mask = mask.to(values.dtype)
    return (values * mask).sum() / (EPS + mask.expand_as(values).sum())


def huber(diff: torch.Tensor, delta: float) -> torch.Tensor:
    """Element-wise Huber: ``0.5 d^2`` where ``|d| <= delta``, else ``delta * (|d| - 0.5 delta)``."""
    a = diff.abs()
    return torch.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))


def point_error(pred: torch.Tensor, gt: torch.Tensor, huber_delta: Optional[float] = None) -> torch.Tensor:
    """Per-point error, averaged over ``(x, y)``.

    Args:
        pred, gt: (..., 2) pixels.
        huber_delta: None for L1 ``mean_xy |pred - gt|``; a number for ``mean_xy huber(pred - gt)``.

    Returns:
        (...) float error per point.
    """
    diff = pred - gt
    per = diff.abs() if huber_delta is None else huber(diff, huber_delta)
    return per.mean(dim=-1)


def _normalize(per_window: list[torch.Tensor], num_tracks: int, normalization: str) -> torch.Tensor:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if not per_window:
        raise ValueError("got no windows: the clip is too short for the model's window (T <= S/2)")
    total = torch.stack(per_window)
    if normalization == "per_track":
        return total.sum() / max(num_tracks, 1)
    return total.mean()


def sequence_loss(
    coords_preds: Sequence[Sequence[torch.Tensor]],
    gt_windows: Sequence[torch.Tensor],
    mask_windows: Sequence[torch.Tensor],
    gamma: float = 0.8,
    huber_delta: Optional[float] = None,
    normalization: str = "per_track",
) -> torch.Tensor:
    """Trajectory loss over all refinement iterates of all windows.

    For window ``j`` with ``n`` iterates ``P_{j,0..n-1}``, ground truth ``G_j`` and mask ``M_j``::

        L_j = (1/n) * sum_i gamma^(n-1-i) * sum(e(P_ji, G_j) * M_j) / (1e-6 + sum(M_j))
        e(P, G) = mean_xy |P - G|            (or mean_xy huber_delta(P - G))
        L = sum_j L_j / N                    (normalization "per_track", CoTracker2)
        L = mean_j L_j                       (normalization "mean", CoTracker3)

    so later iterates weigh more (the last has weight 1).

    Args:
        coords_preds: per window, per iterate: (B, S_j, N, 2) predicted pixels (model resolution).
        gt_windows: per window: (B, S_j, N, 2) ground-truth pixels.
        mask_windows: per window: (B, S_j, N) bool/float, where the loss applies (e.g. GT valid and
            ``queried_frame <= t``, optionally times visibility).
        gamma: iterate decay.
        huber_delta: None for L1, else the Huber threshold in pixels (CoTracker3 uses 6).
        normalization: ``"per_track"`` or ``"mean"`` (see the module docstring).

    Returns:
        scalar loss.
    """
    if not (len(coords_preds) == len(gt_windows) == len(mask_windows)):
        raise ValueError(
            f"per-window lists differ in length: {len(coords_preds)} predictions, {len(gt_windows)} GT, "
            f"{len(mask_windows)} masks"
        )
    per_window = []
    num_tracks = gt_windows[0].shape[2] if gt_windows else 0
    for preds, gt, mask in zip(coords_preds, gt_windows, mask_windows):
        n = len(preds)
        if n == 0:
            raise ValueError("a window holds no refinement iterates")
        term = gt.new_zeros(())
        for i, pred in enumerate(preds):
            if pred.shape != gt.shape:
                raise ValueError(f"prediction shape {tuple(pred.shape)} differs from GT window {tuple(gt.shape)}")
            term = term + gamma ** (n - 1 - i) * masked_mean(point_error(pred, gt, huber_delta), mask)
        per_window.append(term / n)
    return _normalize(per_window, num_tracks, normalization)


def balanced_vis_loss(
    vis_logits: Sequence[torch.Tensor],
    vis_windows: Sequence[torch.Tensor],
    valid_windows: Sequence[torch.Tensor],
    normalization: str = "per_track",
) -> torch.Tensor:
    """Class-balanced logistic visibility loss, computed on **logits**.

    With ``z`` the logit, ``y`` the GT visibility and ``V`` the valid mask of window ``j``::

        pos = y & V,   neg = ~y & V
        L_j = sum(softplus(-z) * pos) / (1e-6 + sum(pos)) + sum(softplus(z) * neg) / (1e-6 + sum(neg))

    ``softplus(-z) = -log sigmoid(z)`` is the stable binary cross-entropy for a visible point and
    ``softplus(z) = -log(1 - sigmoid(z))`` for an occluded one; visible and occluded points each
    contribute a mean, whatever their counts. Windows are combined as in :func:`sequence_loss`.
    (The official CoTracker2 code applied this to sigmoid *probabilities*; we use logits.)

    Args:
        vis_logits: per window (B, S_j, N) float logits.
        vis_windows: per window (B, S_j, N) bool GT visibility.
        valid_windows: per window (B, S_j, N) bool/float mask.
        normalization: ``"per_track"`` or ``"mean"``.

    Returns:
        scalar loss.
    """
    if not (len(vis_logits) == len(vis_windows) == len(valid_windows)):
        raise ValueError("per-window lists of logits, GT visibility and valid masks differ in length")
    per_window = []
    num_tracks = vis_logits[0].shape[2] if vis_logits else 0
    for z, y, valid in zip(vis_logits, vis_windows, valid_windows):
        y = y.bool()
        valid = valid.to(z.dtype)
        pos = y.to(z.dtype) * valid
        neg = (~y).to(z.dtype) * valid
        per_window.append(masked_mean(F.softplus(-z), pos) + masked_mean(F.softplus(z), neg))
    return _normalize(per_window, num_tracks, normalization)


def track_loss(
    coords_preds: Sequence[Sequence[torch.Tensor]],
    gt_windows: Sequence[torch.Tensor],
    vis_windows: Sequence[torch.Tensor],
    valid_windows: Sequence[torch.Tensor],
    gamma: float = 0.8,
    huber_delta: Optional[float] = None,
    visible_weight: float = 1.0,
    occluded_weight: Optional[float] = None,
    normalization: str = "per_track",
) -> torch.Tensor:
    """The trajectory term of the training objective, with an optional separate weight for occluded points.

    * ``occluded_weight is None`` (CoTracker2): ``visible_weight * sequence_loss(mask = valid)``, one term
      over visible and occluded points alike, with ``huber_delta`` as given.
    * otherwise (CoTracker3): ``visible_weight * sequence_loss(mask = valid & visible, huber_delta)
      + occluded_weight * sequence_loss(mask = valid & ~visible, L1)``.

    Args:
        coords_preds, gt_windows, valid_windows: as in :func:`sequence_loss`.
        vis_windows: per window (B, S_j, N) bool GT visibility.
        gamma, huber_delta, normalization: as in :func:`sequence_loss`.
        visible_weight: weight of the visible (or, without ``occluded_weight``, of every) point.
        occluded_weight: None, or the weight of the occluded points' L1 term.

    Returns:
        scalar loss.
    """
    if occluded_weight is None:
        return visible_weight * sequence_loss(coords_preds, gt_windows, valid_windows, gamma, huber_delta, normalization)
    vis_masks = [v.bool() & m.bool() for v, m in zip(vis_windows, valid_windows)]
    occ_masks = [~v.bool() & m.bool() for v, m in zip(vis_windows, valid_windows)]
    loss_vis = sequence_loss(coords_preds, gt_windows, vis_masks, gamma, huber_delta, normalization)
    loss_occ = sequence_loss(coords_preds, gt_windows, occ_masks, gamma, None, normalization)
    return visible_weight * loss_vis + occluded_weight * loss_occ
