"""Losses against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from cotracker.training.losses import (
    balanced_vis_loss,
    huber,
    masked_mean,
    sequence_loss,
    slice_windows,
    track_loss,
)
from cotracker.training.pose_losses import (
    acceleration,
    bone_length_loss,
    bone_pairs,
    keypoint_occlusion_rates,
    occlusion_aware_vis_loss,
    trajectory_continuity_loss,
)


def test_slice_windows_and_errors():
    x = torch.arange(10).view(1, 10)
    w = slice_windows(x, [0, 4, 8], [8, 6, 2])
    assert [t.tolist() for t in w] == [[list(range(8))], [list(range(4, 10))], [[8, 9]]]
    with pytest.raises(ValueError, match="does not fit"):
        slice_windows(x, [6], [8])


def test_huber_values():
    d = torch.tensor([-8.0, -6.0, 1.0, 7.0])
    # 0.5 d^2 if |d| <= 6 else 6 (|d| - 3)
    assert huber(d, 6.0).tolist() == [30.0, 18.0, 0.5, 24.0]


def test_sequence_loss_hand_computed_per_track_and_mean():
    # one window, B=1, S=2, N=2; two iterates with constant errors
    gt = torch.zeros(1, 2, 2, 2)
    p0 = torch.full((1, 2, 2, 2), 2.0)  # |err| = 2 everywhere
    p1 = torch.zeros(1, 2, 2, 2)
    p1[0, 0, 0] = torch.tensor([1.0, 3.0])  # mean_xy = 2 at one entry, 0 elsewhere
    mask = torch.tensor([[[True, True], [True, False]]])  # 3 valid entries
    # iterate 0: mean over 3 entries of 2 = 2; weight 0.8^(2-1-0)=0.8
    # iterate 1: (2 + 0 + 0) / 3 = 2/3; weight 1
    # window term: (0.8*2 + 2/3) / 2 ; per_track divides by N=2
    expected_window = (0.8 * 2 + 2 / 3) / 2
    loss = sequence_loss([[p0, p1]], [gt], [mask], gamma=0.8)
    assert loss.item() == pytest.approx(expected_window / 2, rel=1e-5)
    # two identical windows: per_track sums then /N, mean averages
    two = sequence_loss([[p0, p1], [p0, p1]], [gt, gt], [mask, mask], normalization="per_track")
    assert two.item() == pytest.approx(2 * expected_window / 2, rel=1e-5)
    mean = sequence_loss([[p0, p1], [p0, p1]], [gt, gt], [mask, mask], normalization="mean")
    assert mean.item() == pytest.approx(expected_window, rel=1e-5)
    with pytest.raises(ValueError, match="normalization"):
        sequence_loss([[p0]], [gt], [mask], normalization="sum")


def test_sequence_loss_huber():
    gt = torch.zeros(1, 1, 1, 2)
    pred = torch.tensor([10.0, 2.0]).view(1, 1, 1, 2)
    # huber6(10) = 6*(10-3) = 42, huber6(2) = 2 -> mean 22; one iterate weight 1; N = 1
    loss = sequence_loss([[pred]], [gt], [torch.ones(1, 1, 1)], huber_delta=6.0)
    assert loss.item() == pytest.approx(22.0, rel=1e-5)


def test_track_loss_separate_occluded_weight():
    gt = torch.zeros(1, 1, 2, 2)
    pred = torch.tensor([[[[1.0, 1.0], [4.0, 4.0]]]])  # errors 1 (visible point) and 4 (occluded point)
    vis = torch.tensor([[[True, False]]])
    valid = torch.ones(1, 1, 2, dtype=torch.bool)
    # v2: one term over both: mean(1, 4) = 2.5, / N = 2 -> 1.25
    assert track_loss([[pred]], [gt], [vis], [valid]).item() == pytest.approx(1.25, rel=1e-5)
    # v3-style: 0.05 * (1 / 2) + 0.01 * (4 / 2)
    got = track_loss([[pred]], [gt], [vis], [valid], visible_weight=0.05, occluded_weight=0.01)
    assert got.item() == pytest.approx(0.05 * 0.5 + 0.01 * 2.0, rel=1e-5)


def test_balanced_vis_loss_hand_computed():
    z = torch.tensor([[[2.0, -1.0, 0.5, 3.0]]])  # (B=1, S=1, N=4)
    y = torch.tensor([[[True, True, False, False]]])
    valid = torch.tensor([[[True, True, True, False]]])
    sp = lambda v: math.log1p(math.exp(v))  # softplus
    pos = (sp(-2.0) + sp(1.0)) / 2
    neg = sp(0.5) / 1
    expected = (pos + neg) / 4  # per_track: / N
    assert balanced_vis_loss([z], [y], [valid]).item() == pytest.approx(expected, rel=1e-5)
    assert balanced_vis_loss([z], [y], [valid], normalization="mean").item() == pytest.approx(pos + neg, rel=1e-5)
    # equals BCE-with-logits means per class
    bce = F.binary_cross_entropy_with_logits(z, y.float(), reduction="none")
    alt = bce[0, 0, :2].mean() + bce[0, 0, 2]
    assert balanced_vis_loss([z], [y], [valid], normalization="mean").item() == pytest.approx(alt.item(), rel=1e-5)
    # stable for huge logits
    big = torch.tensor([[[1e4, -1e4, 1e4, -1e4]]])
    assert torch.isfinite(balanced_vis_loss([big], [y], [valid]))


def test_masked_mean_empty_is_zero():
    assert masked_mean(torch.ones(3), torch.zeros(3)).item() == 0.0


def test_acceleration_and_continuity():
    t = torch.arange(5.0)
    gt = torch.stack([t, t * 0], -1).view(1, 5, 1, 2)  # constant velocity: zero acceleration
    pred = gt.clone()
    pred[0, 2, 0, 0] += 1.0  # a bump at frame 2 -> accelerations at frames 1,2,3: +1, -2, +1 in x
    assert acceleration(pred)[0, :, 0, 0].tolist() == [1.0, -2.0, 1.0]
    mask = torch.ones(1, 5, 1)
    # errors mean_xy: (1+0)/2, (2+0)/2, (1+0)/2 -> mean over 3 triples = (0.5 + 1 + 0.5) / 3
    loss = trajectory_continuity_loss(pred, gt, mask)
    assert loss.item() == pytest.approx(2.0 / 3.0, rel=1e-5)
    # ground truth with the same acceleration costs nothing
    assert trajectory_continuity_loss(pred, pred.clone(), mask).item() == pytest.approx(0.0, abs=1e-7)
    # masking frame 2 kills all three triples that contain it
    mask[0, 2] = 0
    assert trajectory_continuity_loss(pred, gt, mask).item() == pytest.approx(0.0, abs=1e-7)


def test_bone_pairs_by_person():
    # two people, each with nose (0), head_bottom (1), head_top (2); one stray point
    kp = torch.tensor([0, 1, 2, 0, 1, 2, -1])
    pid = torch.tensor([0, 0, 0, 1, 1, 1, -1])
    pairs = bone_pairs(kp, pid)
    got = sorted(tuple(p) for p in pairs.tolist())
    # bones (2,1) and (1,0) per person
    assert got == sorted([(2, 1), (1, 0), (5, 4), (4, 3)])
    with pytest.raises(ValueError, match="person_ids"):
        bone_pairs(kp)


def test_bone_length_loss_hand_computed():
    # nose, head_bottom, head_top of one person over 2 frames
    gt = torch.tensor([[[[0.0, 0.0], [0.0, 3.0], [0.0, 5.0]], [[0.0, 0.0], [0.0, 3.0], [0.0, 5.0]]]])
    pred = gt.clone()
    pred[0, 0, 1] = torch.tensor([4.0, 0.0])  # frame 0: bone (1,0) length 4 (gt 3); bone (2,1) sqrt(16+25)
    vis = torch.ones(1, 2, 3, dtype=torch.bool)
    vis[0, 1, 2] = False  # frame 1: head_top hidden -> bone (2,1) excluded there
    pairs = [bone_pairs(torch.tensor([0, 1, 2]))]
    # entries: f0 (2,1): |sqrt(41) - 2|; f0 (1,0): |4 - 3| = 1; f1 (1,0): 0
    expected = (abs(math.sqrt(41) - 2) + 1 + 0) / 3
    assert bone_length_loss(pred, gt, vis, pairs).item() == pytest.approx(expected, rel=1e-5)
    pred.requires_grad_(True)
    bone_length_loss(pred, gt, vis, pairs).backward()
    assert torch.isfinite(pred.grad).all()


def test_occlusion_aware_vis_loss_hand_computed():
    # keypoint 9 (wrist) occluded in 1 of 2 valid entries; keypoint 0 (nose) always visible (2 entries)
    kp = torch.tensor([[0, 9, -1]])
    visible = torch.tensor([[[True, True, False], [True, False, False]]])
    valid = torch.ones(1, 2, 3, dtype=torch.bool)
    rates = keypoint_occlusion_rates(visible, valid, kp, prior=0.0)
    assert rates[9].item() == pytest.approx(0.5)
    assert rates[0].item() == pytest.approx(0.0)
    z = torch.tensor([[[1.0, 2.0, 5.0], [0.0, -1.0, 5.0]]])
    r = torch.full((17,), 0.5)
    r[0] = 0.2
    sp = lambda v: math.log1p(math.exp(v))
    # nose visible twice: w = 0.5/(1-0.2); wrist visible once w = 1, occluded once w = 1; stray point ignored
    expected = (0.5 / 0.8 * (sp(-1.0) + sp(0.0)) + sp(-2.0) + sp(-1.0)) / 4
    got = occlusion_aware_vis_loss(z, visible, valid, kp, occlusion_rates=r)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_compute_losses_slices_gt_per_window():
    from cotracker.models.cotracker2 import TrainData
    from cotracker.training.config import load_config
    from cotracker.training.trainer import compute_losses
    from cotracker.types import CoTrackerData

    T, N = 6, 2
    gt = torch.arange(T * N * 2, dtype=torch.float32).view(1, T, N, 2)
    vis = torch.ones(1, T, N, dtype=torch.bool)
    vis[0, 4, 1] = False  # occluded only inside window 1
    batch = CoTrackerData(video=torch.zeros(1, T, 3, 4, 4), trajectory=gt, visibility=vis,
                          valid=torch.ones(1, T, N, dtype=torch.bool), keypoint_ids=torch.full((1, N), -1))
    # window 0 covers frames [0, 4) and is exact; window 1 covers [2, 6) and is off by 1 px in x
    w0 = gt[:, 0:4].clone()
    w1 = gt[:, 2:6].clone() + torch.tensor([1.0, 0.0])
    mask = torch.ones(1, T, N, dtype=torch.bool)
    mask[0, :2, 1] = False  # point 1 queried at frame 2
    logits = [torch.zeros(1, 4, N), torch.zeros(1, 4, N)]
    data = TrainData([[w0], [w1]], logits, [0, 2], mask)
    cfg = load_config("tiny")
    terms = compute_losses(data, batch, cfg)
    # track: window 0 -> 0; window 1 -> mean_xy |(1, 0)| = 0.5 on every valid entry; sum over windows / N = 0.25
    assert terms.track.item() == pytest.approx(0.25, rel=1e-5)
    # vis: logit 0 -> softplus(0) = log 2 for both classes; each window with both classes gives 2 log 2,
    # window 0 has no occluded valid entry -> log 2; total (log 2 + 2 log 2) / N
    assert terms.vis.item() == pytest.approx(3 * math.log(2) / 2, rel=1e-4)
    assert terms.total.item() == pytest.approx(0.25 + 10 * 3 * math.log(2) / 2, rel=1e-4)
    assert terms.bone.item() == 0.0 and terms.continuity.item() == 0.0
