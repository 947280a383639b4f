"""Test doubles and fixtures writers for the pose tests."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from cotracker.pose.keypoints import COCO_KEYPOINTS, POSETRACK_KEYPOINTS

HW = (48, 64)  # test frames = the fake model's resolution, so no rescaling happens
VELOCITY = (1.0, 0.5)  # pixels per frame of the fake tracker


class ShiftModel(nn.Module):
    """A stand-in tracker: every query moves at a constant velocity from its query frame (model pixels).

    Visibility probability is 1, except for points whose x at that frame exceeds ``occlude_x`` (0 there).
    Every call is recorded in ``calls`` (queries and keypoint ids) so tests can check what was asked.
    """

    def __init__(self, hw=HW, velocity=VELOCITY, num_keypoints: int = 0, occlude_x: float = float("inf")):
        super().__init__()
        self.config = SimpleNamespace(model_resolution=tuple(hw), window_len=8, step=4, num_keypoints=num_keypoints)
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the module a device
        self.velocity = torch.tensor(velocity, dtype=torch.float32)
        self.occlude_x = occlude_x
        self.calls: list[dict] = []

    def forward(self, video, queries, iters=4, keypoint_ids=None):
        self.calls.append({"queries": queries.clone(), "keypoint_ids": None if keypoint_ids is None else keypoint_ids.clone()})
        B, T = video.shape[:2]
        t = torch.arange(T, dtype=torch.float32)[None, :, None]  # (1, T, 1)
        dt = t - queries[:, None, :, 0]  # (B, T, N)
        coords = queries[:, None, :, 1:] + dt[..., None] * self.velocity  # (B, T, N, 2)
        vis = (coords[..., 0] <= self.occlude_x).float()
        return coords, vis


def random_video(T: int = 8, hw=HW, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (T, 3, *hw), generator=g, dtype=torch.uint8)


def person(cx: float, cy: float, scale: float = 1.0) -> np.ndarray:
    """A plausible upright person (17, 3) in PoseTrack order around (cx, cy), every keypoint labelled (v = 1)."""
    offsets = np.array([
        [0, -8], [0, -6], [0, -12], [-2, -9], [2, -9],
        [-4, -4], [4, -4], [-6, 0], [6, 0], [-7, 4], [7, 4],
        [-3, 4], [3, 4], [-3, 9], [3, 9], [-3, 14], [3, 14],
    ], dtype=np.float64) * scale
    kp = np.ones((17, 3))
    kp[:, :2] = offsets + [cx, cy]
    return kp


def posetrack_json(frames: dict[int, list[tuple[int, np.ndarray]]], num_frames: int, video_id: str = "000342",
                   layout: str = "posetrack") -> dict:
    """A PoseTrack18-style video JSON: ``frames`` maps frame -> [(track_id, (17, 3) keypoints)]."""
    base = int(f"1{video_id}0000")
    images = [{"id": base + t, "frame_id": base + t, "file_name": f"images/val/{video_id}_mpii_test/{t:06d}.jpg",
               "vid_id": video_id, "nframes": num_frames, "is_labeled": t in frames,
               "ignore_regions_x": [], "ignore_regions_y": []} for t in range(num_frames)]
    images = images[::-1]  # the reader must order frames by frame_id, not by list position
    anns = []
    for t, people in frames.items():
        for tid, kp in people:
            anns.append({"id": len(anns) + 1, "image_id": base + t, "category_id": 1, "track_id": tid,
                         "keypoints": [float(v) for v in np.asarray(kp).reshape(-1)], "bbox": [0, 0, 1, 1]})
    names = POSETRACK_KEYPOINTS if layout == "posetrack" else COCO_KEYPOINTS
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(names)}]}
