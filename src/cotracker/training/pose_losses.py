"""Pose-specific training losses (the specification's "consistency-aware training").

Three pure functions over tracks of human keypoints, each masked so that only annotated joints count:

* :func:`trajectory_continuity_loss` penalises acceleration that the ground truth does not have;
* :func:`bone_length_loss` keeps bone lengths along :data:`cotracker.pose.keypoints.SKELETON` as in the
  ground truth where both ends are visible;
* :func:`occlusion_aware_vis_loss` weighs the visibility loss per keypoint type by how often that joint
  is occluded, so often-hidden joints (wrists, ankles) are not drowned by always-visible ones.

Points are tied to keypoints by ``keypoint_ids`` (N,) in PoseTrack order (0..16, -1 = not a keypoint)
and to people by ``person_ids`` (N,) (-1 = none). Coordinates are pixels at model resolution.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from cotracker.pose.keypoints import NUM_KEYPOINTS, SKELETON
from cotracker.training.losses import EPS, huber, masked_mean

__all__ = [
    "acceleration",
    "trajectory_continuity_loss",
    "bone_pairs",
    "bone_length_loss",
    "keypoint_occlusion_rates",
    "occlusion_aware_vis_loss",
]


def acceleration(tracks: torch.Tensor) -> torch.Tensor:
    """Second finite difference in time: ``a_t = p_{t+1} - 2 p_t + p_{t-1}``.

    Args:
        tracks: (B, T, N, 2) pixels, T >= 3.

    Returns:
        (B, T-2, N, 2), entry ``t`` is the acceleration at frame ``t + 1``.
    """
    if tracks.shape[1] < 3:
        raise ValueError(f"acceleration needs at least 3 frames, got {tracks.shape[1]}")
    return tracks[:, 2:] - 2 * tracks[:, 1:-1] + tracks[:, :-2]


def trajectory_continuity_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor,
    huber_delta: Optional[float] = None,
) -> torch.Tensor:
    """Penalise accelerations of the prediction that the ground truth does not have.

    ::

        a(p)_t = p_{t+1} - 2 p_t + p_{t-1}
        m_t    = M_{t-1} * M_t * M_{t+1}
        L      = sum_t,n m_t * e(a(pred)_t - a(gt)_t) / (1e-6 + sum m_t)
        e(d)   = mean_xy |d|   (or mean_xy huber(d) with ``huber_delta``)

    A jittery prediction of a smooth motion is penalised; a real change of speed in the ground truth
    is not (unlike a plain smoothness prior).

    Args:
        pred: (B, T, N, 2) predicted pixels.
        gt: (B, T, N, 2) ground-truth pixels.
        mask: (B, T, N) bool/float, where the ground truth is defined (e.g. valid & keypoint & queried).
        huber_delta: None for L1, else the Huber threshold in pixels.

    Returns:
        scalar loss; 0 when fewer than 3 frames or no masked triple exists.
    """
    if pred.shape != gt.shape or pred.ndim != 4 or pred.shape[-1] != 2:
        raise ValueError(f"pred and gt must both be (B, T, N, 2), got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if pred.shape[1] < 3:
        return pred.sum() * 0.0
    m = mask.to(pred.dtype)
    m3 = m[:, 2:] * m[:, 1:-1] * m[:, :-2]  # (B, T-2, N)
    diff = acceleration(pred) - acceleration(gt)  # (B, T-2, N, 2)
    err = diff.abs() if huber_delta is None else huber(diff, huber_delta)
    return masked_mean(err.mean(-1), m3)


def bone_pairs(
    keypoint_ids: torch.Tensor,
    person_ids: Optional[torch.Tensor] = None,
    skeleton: tuple[tuple[int, int], ...] = SKELETON,
) -> torch.Tensor:
    """Point-index pairs that form a bone of the same person.

    Args:
        keypoint_ids: (N,) int64 keypoint index (PoseTrack order) or -1.
        person_ids: (N,) int64 person id or -1; None means all keypoints belong to one person
            (then every keypoint id may appear at most once).
        skeleton: bones as (keypoint a, keypoint b) pairs.

    Returns:
        (P, 2) int64 point indices ``(i, j)`` with ``keypoint_ids[i], keypoint_ids[j]`` a bone and the same
        person; P may be 0.
    """
    if keypoint_ids.ndim != 1:
        raise ValueError(f"keypoint_ids must be (N,), got shape {tuple(keypoint_ids.shape)}")
    kp = keypoint_ids.long()
    if person_ids is None:
        present = kp[kp >= 0]
        if present.numel() != present.unique().numel():
            raise ValueError("keypoint ids repeat but no person_ids were given; pass person_ids to group them")
        pid = torch.zeros_like(kp)
    else:
        if person_ids.shape != keypoint_ids.shape:
            raise ValueError(f"person_ids shape {tuple(person_ids.shape)} differs from keypoint_ids {tuple(kp.shape)}")
        pid = person_ids.long()
    pairs = []
    for a, b in skeleton:
        ia = torch.nonzero(kp == a).flatten()
        ib = torch.nonzero(kp == b).flatten()
        if ia.numel() == 0 or ib.numel() == 0:
            continue
        same = (pid[ia][:, None] == pid[ib][None, :]) & (pid[ia][:, None] >= 0)  # (|ia|, |ib|)
        ii, jj = torch.nonzero(same, as_tuple=True)
        pairs.append(torch.stack([ia[ii], ib[jj]], dim=1))
    if not pairs:
        return torch.zeros(0, 2, dtype=torch.long, device=keypoint_ids.device)
    return torch.cat(pairs)


def bone_length_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    visible: torch.Tensor,
    pairs: list[torch.Tensor],
) -> torch.Tensor:
    """Keep bone lengths as in the ground truth where both ends are visible.

    For every bone ``(i, j)`` of batch element ``b`` and frame ``t`` with both ends visible::

        l(p) = || p_i - p_j ||_2
        L    = mean over those (b, t, bone) of | l(pred) - l(gt) |

    Args:
        pred: (B, T, N, 2) predicted pixels.
        gt: (B, T, N, 2) ground-truth pixels.
        visible: (B, T, N) bool, GT visible **and** valid (and queried).
        pairs: list over the batch of (P_b, 2) int64 point-index pairs, from :func:`bone_pairs`.

    Returns:
        scalar loss; 0 when no bone has both ends visible.
    """
    if pred.shape != gt.shape or pred.ndim != 4:
        raise ValueError(f"pred and gt must both be (B, T, N, 2), got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if len(pairs) != pred.shape[0]:
        raise ValueError(f"got {len(pairs)} pair lists for a batch of {pred.shape[0]}")
    total = pred.sum() * 0.0
    count = pred.new_zeros(())
    for b, pb in enumerate(pairs):
        if pb.numel() == 0:
            continue
        i, j = pb[:, 0], pb[:, 1]
        # a tiny epsilon keeps the gradient of the norm finite when both ends coincide
        len_pred = ((pred[b, :, i] - pred[b, :, j]).pow(2).sum(-1) + 1e-12).sqrt()  # (T, P)
        len_gt = (gt[b, :, i] - gt[b, :, j]).pow(2).sum(-1).sqrt()  # (T, P)
        both = (visible[b, :, i].bool() & visible[b, :, j].bool()).to(pred.dtype)  # (T, P)
        total = total + ((len_pred - len_gt).abs() * both).sum()
        count = count + both.sum()
    return total / (EPS + count)


def keypoint_occlusion_rates(
    visible: torch.Tensor,
    valid: torch.Tensor,
    keypoint_ids: torch.Tensor,
    num_keypoints: int = NUM_KEYPOINTS,
    prior: float = 1.0,
) -> torch.Tensor:
    """Fraction of valid entries in which each keypoint type is occluded, smoothed towards 1/2.

    ::

        r_k = (#occluded_k + prior) / (#valid_k + 2 prior)

    Args:
        visible: (B, T, N) bool GT visibility.
        valid: (B, T, N) bool/float mask.
        keypoint_ids: (B, N) int64, -1 for non-keypoints.
        num_keypoints: K.
        prior: pseudo-count of one visible and one occluded observation per keypoint type.

    Returns:
        (K,) float occlusion rate per keypoint type, in (0, 1) when ``prior > 0``.
    """
    kp = keypoint_ids.long()[:, None, :].expand_as(visible)  # (B, T, N)
    ok = valid.bool() & (kp >= 0) & (kp < num_keypoints)
    idx = kp[ok]
    occ = (~visible.bool())[ok].to(torch.float32)
    n_valid = torch.zeros(num_keypoints, device=visible.device).index_add_(0, idx, torch.ones_like(occ))
    n_occ = torch.zeros(num_keypoints, device=visible.device).index_add_(0, idx, occ)
    return (n_occ + prior) / (n_valid + 2 * prior)


def occlusion_aware_vis_loss(
    vis_logits: torch.Tensor,
    visible: torch.Tensor,
    valid: torch.Tensor,
    keypoint_ids: torch.Tensor,
    occlusion_rates: Optional[torch.Tensor] = None,
    num_keypoints: int = NUM_KEYPOINTS,
) -> torch.Tensor:
    """Visibility loss on logits, balanced per keypoint type by its occlusion rate.

    With ``r_k`` the occlusion rate of keypoint type ``k`` (:func:`keypoint_occlusion_rates`, computed from
    this batch unless given) each entry of keypoint type ``k`` is weighted::

        w = 1 / (2 (1 - r_k))   if visible          w = 1 / (2 r_k)   if occluded
        L = sum(w * bce(z, y) * V) / (1e-6 + sum(V))
        bce(z, 1) = softplus(-z),   bce(z, 0) = softplus(z)

    so that for every keypoint type the visible and occluded entries carry equal total weight, matching
    the occlusion pattern of each joint. Entries of non-keypoint points (id -1) are ignored.

    Args:
        vis_logits: (B, T, N) float visibility logits.
        visible: (B, T, N) bool GT visibility.
        valid: (B, T, N) bool/float mask.
        keypoint_ids: (B, N) int64 keypoint type per point, -1 for none.
        occlusion_rates: optional (K,) rates, e.g. running statistics over the data set.
        num_keypoints: K.

    Returns:
        scalar loss; 0 when no keypoint entry is valid.
    """
    if vis_logits.shape != visible.shape:
        raise ValueError(f"vis_logits {tuple(vis_logits.shape)} and visible {tuple(visible.shape)} differ")
    if occlusion_rates is None:
        occlusion_rates = keypoint_occlusion_rates(visible, valid, keypoint_ids, num_keypoints)
    rates = occlusion_rates.to(vis_logits.dtype).clamp(EPS, 1 - EPS)
    kp = keypoint_ids.long()[:, None, :].expand_as(visible)  # (B, T, N)
    is_kp = (kp >= 0) & (kp < num_keypoints)
    r = rates[kp.clamp(0, num_keypoints - 1)]  # (B, T, N)
    y = visible.bool()
    weight = torch.where(y, 0.5 / (1 - r), 0.5 / r)
    bce = torch.where(y, F.softplus(-vis_logits), F.softplus(vis_logits))
    mask = valid.to(vis_logits.dtype) * is_kp.to(vis_logits.dtype)
    return (weight * bce * mask).sum() / (EPS + mask.sum())
