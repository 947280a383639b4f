"""Synthetic people: articulated, textured 2D figures with the 17 PoseTrack keypoints.

Each person is a small 3D stick model (pelvis, spine, head, two arms, two legs) posed by a motion
cycle (walk, run, wave, jump), turned by a yaw angle, projected orthographically, moved across the
image with a changing scale, and rendered as textured body parts (clothing on the torso, sleeves
and trousers, skin on the head and forearms) on a textured background with a panning camera. The
body parts are layers of :mod:`cotracker.data.render`, ordered by their depth, so people occlude each
other and themselves (the far arm goes behind the torso).

Ground truth per keypoint: its projected joint position, visible when inside the image, when one
of the parts it belongs to is on top at its pixel, and (for shoulders, hips, ears and the nose)
when it is not on the far side of the body. Surface points on every part (and the background) get
exact tracks too, stored in the Kubric layout next to the PoseTrack JSON.

Proportions (fractions of the standing height) follow adult anthropometric averages.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from cotracker.data.base import (
    first_visible_queries,
    fix_num_tracks,
    require_cv2,
    rescale_tracks,
    resize_frames,
    to_sample,
)
from cotracker.data.render import Layer, premultiply, render_layers, sample_canonical_points, visibility_from_ids
from cotracker.data.synthetic_scenes import smooth_curve
from cotracker.data.textures import clothing_texture, random_texture, skin_texture
from cotracker.pose.keypoints import NUM_KEYPOINTS, keypoint_index
from cotracker.types import CoTrackerData

__all__ = ["PeopleConfig", "PeopleClip", "MOTIONS", "generate_people", "SyntheticPeopleDataset", "write_people_sequence"]

MOTIONS = ("walk", "run", "wave", "jump")

# Body proportions (fractions of standing height).
HEAD_LEN, TORSO_LEN, SHOULDER_W, HIP_W = 0.13, 0.30, 0.23, 0.16
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.15, 0.245, 0.245
PELVIS_HEIGHT = 0.52
# Part widths.
WIDTH = {"head": 0.10, "torso": 0.24, "upper_arm": 0.055, "forearm": 0.045, "thigh": 0.085, "shin": 0.065}


@dataclass(frozen=True)
class PeopleConfig:
    """Parameters of the people generator.

    Attributes:
        num_frames: T.
        size_hw: rendered (H, W).
        min_people, max_people: people per clip (inclusive).
        person_height: standing height range as a fraction of H.
        motions: motion cycles to draw from.
        surface_points_per_person: surface tracks sampled on each person's body parts.
        background_points: surface tracks on the background.
        camera_pan: camera pan over the clip (fraction of W).
        scale_change: log-range of each person's scale change (walking towards / away from the camera).
        fps: frame rate that sets the cycle speeds.
    """

    num_frames: int = 24
    size_hw: tuple[int, int] = (384, 512)
    min_people: int = 1
    max_people: int = 4
    person_height: tuple[float, float] = (0.35, 0.85)
    motions: tuple[str, ...] = MOTIONS
    surface_points_per_person: int = 256
    background_points: int = 256
    camera_pan: float = 0.1
    scale_change: float = 0.25
    fps: float = 25.0

    def __post_init__(self):
        if not 1 <= self.min_people <= self.max_people:
            raise ValueError(f"need 1 <= min_people <= max_people, got {self.min_people}, {self.max_people}")
        bad = [m for m in self.motions if m not in MOTIONS]
        if bad or not self.motions:
            raise ValueError(f"unknown motions {bad}; choose from {MOTIONS}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")


@dataclass
class PeopleClip:
    """A rendered clip of people.

    Attributes:
        frames: (T, H, W, 3) uint8.
        keypoints: (T, P, 17, 2) float32 (x, y) pixels, PoseTrack order.
        keypoint_visible: (T, P, 17) bool.
        surface_tracks: (T, M, 2) float32; surface_visible: (T, M) bool.
        surface_person: (M,) int64 person index, -1 for the background.
        motions: the motion of each person.
    """

    frames: np.ndarray
    keypoints: np.ndarray
    keypoint_visible: np.ndarray
    surface_tracks: np.ndarray
    surface_visible: np.ndarray
    surface_person: np.ndarray
    motions: list


def _pose_angles(motion: str, psi: np.ndarray, rng: np.random.Generator) -> dict:
    """Joint angles (radians) over the clip for one motion cycle; psi (T,) is the cycle phase."""
    s = np.sin(psi)
    T = psi.shape[0]
    z = np.zeros(T)
    out = {k: z.copy() for k in ("hip_l", "hip_r", "knee_l", "knee_r", "sh_l", "sh_r", "ab_l", "ab_r",
                                  "el_l", "el_r", "bounce", "lean")}
    out["frontal_elbow"] = (False, False)
    if motion in ("walk", "run"):
        amp = 0.45 if motion == "walk" else 0.8
        out["hip_l"], out["hip_r"] = amp * s, -amp * s
        knee = (0.55 if motion == "walk" else 1.3)
        out["knee_l"] = 0.1 + knee * np.clip(np.sin(psi - 1.2), 0, None)
        out["knee_r"] = 0.1 + knee * np.clip(np.sin(psi + np.pi - 1.2), 0, None)
        arm = 0.35 if motion == "walk" else 0.75
        out["sh_l"], out["sh_r"] = -arm * s, arm * s
        out["el_l"] = out["el_r"] = np.full(T, 0.25 if motion == "walk" else 1.4)
        out["ab_l"] = out["ab_r"] = np.full(T, 0.08)
        out["bounce"] = (0.012 if motion == "walk" else 0.04) * -np.abs(np.cos(psi))
        out["lean"] = np.full(T, 0.03 if motion == "walk" else 0.15)
    elif motion == "wave":
        side = rng.integers(2)
        raised, rest = ("ab_r", "ab_l") if side else ("ab_l", "ab_r")
        el_raised = "el_r" if side else "el_l"
        out[raised] = np.full(T, 2.3) + 0.1 * s
        out[rest] = np.full(T, 0.1)
        out[el_raised] = 0.7 + 0.5 * s
        out["el_l" if side else "el_r"] = np.full(T, 0.2)
        out["frontal_elbow"] = (not side, bool(side))
        out["hip_l"] = 0.05 * s
        out["hip_r"] = -0.05 * s
        out["knee_l"] = out["knee_r"] = np.full(T, 0.05)
        out["lean"] = 0.03 * np.sin(psi / 2)
    elif motion == "jump":
        air = np.clip(np.sin(psi), 0, None)  # in the air
        crouch = np.clip(-np.sin(psi), 0, None)  # preparing / landing
        out["bounce"] = -0.22 * air + 0.08 * crouch
        out["hip_l"] = out["hip_r"] = 0.9 * crouch + 0.25 * air
        out["knee_l"] = out["knee_r"] = 1.5 * crouch + 0.4 * air
        out["ab_l"] = out["ab_r"] = 0.3 + 2.0 * air
        out["sh_l"] = out["sh_r"] = -0.6 * crouch
        out["el_l"] = out["el_r"] = 0.3 + 0.3 * crouch
        out["lean"] = 0.35 * crouch
        out["frontal_elbow"] = (True, True)
    return out


def _rotx(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate (T, 3) vectors about the X axis (flexion: +angle turns Y (down) towards Z (forward))."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([v[:, 0], c * v[:, 1] - s * v[:, 2], s * v[:, 1] + c * v[:, 2]], axis=1)


def _skeleton_3d(ang: dict) -> dict:
    """Joint positions (T, 3) in body units, X = the person's left, Y = down, Z = forward, pelvis at 0."""
    T = ang["lean"].shape[0]
    o = np.zeros((T, 3))

    def vec(x, y, z):
        return np.tile(np.array([x, y, z], np.float64), (T, 1))

    j = {"pelvis": o}
    down = vec(0, 1, 0)
    for side, sx in (("l", 1.0), ("r", -1.0)):
        hip = vec(sx * HIP_W / 2, 0, 0)
        knee = hip + THIGH * _rotx(down, ang[f"hip_{side}"])
        ankle = knee + SHIN * _rotx(down, ang[f"hip_{side}"] - ang[f"knee_{side}"])
        j[f"hip_{side}"], j[f"knee_{side}"], j[f"ankle_{side}"] = hip, knee, ankle
    neck = _rotx(vec(0, -TORSO_LEN, 0), ang["lean"])
    j["neck"] = neck
    for k, (side, sx) in enumerate((("l", 1.0), ("r", -1.0))):
        sh = neck + vec(sx * SHOULDER_W / 2, 0.02, 0)
        ab = ang[f"ab_{side}"][:, None]
        # Upper arm: abduct sideways in the frontal plane, then flex forward.
        d = np.concatenate([sx * np.sin(ab), np.cos(ab), np.zeros_like(ab)], axis=1)
        d = _rotx(d, ang[f"sh_{side}"])
        elbow = sh + UPPER_ARM * d
        e = ang[f"el_{side}"][:, None]
        if ang["frontal_elbow"][k]:  # bend in the frontal plane, towards the head
            n = np.concatenate([-d[:, 1:2], d[:, 0:1], np.zeros_like(ab)], axis=1)
            n = n * np.where(n[:, 1:2] > 0, -1.0, 1.0)
        else:  # bend forwards (sagittal plane)
            n = _rotx(d, np.full(T, np.pi / 2))
        nn = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        wrist = elbow + FOREARM * (np.cos(e) * d + np.sin(e) * nn)
        j[f"shoulder_{side}"], j[f"elbow_{side}"], j[f"wrist_{side}"] = sh, elbow, wrist
    up = _rotx(vec(0, -1, 0), ang["lean"])
    fwd = _rotx(vec(0, 0, 1), ang["lean"])
    hb = neck + 0.03 * up
    j["head_bottom"] = hb
    j["head_top"] = hb + HEAD_LEN * up
    j["nose"] = hb + 0.045 * up + 0.05 * fwd
    j["ear_l"] = hb + 0.06 * up + vec(0.045, 0, 0)
    j["ear_r"] = hb + 0.06 * up + vec(-0.045, 0, 0)
    return j


# PoseTrack keypoint -> joint name.
_KP_JOINT = {
    "nose": "nose", "head_bottom": "head_bottom", "head_top": "head_top", "left_ear": "ear_l", "right_ear": "ear_r",
    "left_shoulder": "shoulder_l", "right_shoulder": "shoulder_r", "left_elbow": "elbow_l", "right_elbow": "elbow_r",
    "left_wrist": "wrist_l", "right_wrist": "wrist_r", "left_hip": "hip_l", "right_hip": "hip_r",
    "left_knee": "knee_l", "right_knee": "knee_r", "left_ankle": "ankle_l", "right_ankle": "ankle_r",
}
# Body parts: name -> (start joint, end joint, width key, depth bias).
_PARTS = {
    "torso": ("neck", "pelvis", "torso", 0.01),
    "head": ("head_bottom", "head_top", "head", -0.02),
    "upper_arm_l": ("shoulder_l", "elbow_l", "upper_arm", 0.0),
    "forearm_l": ("elbow_l", "wrist_l", "forearm", -0.001),
    "upper_arm_r": ("shoulder_r", "elbow_r", "upper_arm", 0.0),
    "forearm_r": ("elbow_r", "wrist_r", "forearm", -0.001),
    "thigh_l": ("hip_l", "knee_l", "thigh", 0.02),
    "shin_l": ("knee_l", "ankle_l", "shin", 0.021),
    "thigh_r": ("hip_r", "knee_r", "thigh", 0.02),
    "shin_r": ("knee_r", "ankle_r", "shin", 0.021),
}
# Keypoint -> the parts it belongs to (visible when one of them is on top).
_KP_PARTS = {
    "nose": ("head",), "head_bottom": ("head", "torso"), "head_top": ("head",), "left_ear": ("head",),
    "right_ear": ("head",), "left_shoulder": ("torso", "upper_arm_l"), "right_shoulder": ("torso", "upper_arm_r"),
    "left_elbow": ("upper_arm_l", "forearm_l"), "right_elbow": ("upper_arm_r", "forearm_r"),
    "left_wrist": ("forearm_l",), "right_wrist": ("forearm_r",), "left_hip": ("torso", "thigh_l"),
    "right_hip": ("torso", "thigh_r"), "left_knee": ("thigh_l", "shin_l"), "right_knee": ("thigh_r", "shin_r"),
    "left_ankle": ("shin_l",), "right_ankle": ("shin_r",),
}
_BILATERAL = ("left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip")


def _part_shape(kind: str, h: int, w: int, m: int) -> np.ndarray:
    """Canonical alpha of a part: a capsule (limbs), rounded box (torso) or ellipse (head). (h, w) float32."""
    cv2 = require_cv2()
    a = np.zeros((h, w), np.uint8)
    r = (h - 2 * m) / 2
    cy = (h - 1) / 2
    if kind == "head":
        cv2.ellipse(a, (int(round((w - 1) / 2 * 16)), int(round(cy * 16))), (int((w - 2 * m) / 2 * 16), int(r * 16)),
                    0, 0, 360, 255, -1, cv2.LINE_AA, shift=4)
    else:
        rr = r if kind != "torso" else 0.35 * r
        x0, x1 = m + rr, w - 1 - m - rr
        y0, y1 = m + rr, h - 1 - m - rr
        cv2.rectangle(a, (int(round(x0)), m), (int(round(x1)), h - 1 - m), 255, -1)
        if y1 > y0:
            cv2.rectangle(a, (m, int(round(y0))), (w - 1 - m, int(round(y1))), 255, -1)
        for cx in (x0, x1):
            for yy in (y0, y1):
                cv2.circle(a, (int(round(cx * 16)), int(round(yy * 16))), int(rr * 16), 255, -1, cv2.LINE_AA, shift=4)
    return a.astype(np.float32) / 255.0


class _Person:
    """Sampled appearance and motion of one person."""

    def __init__(self, cfg: PeopleConfig, rng: np.random.Generator, depth: float):
        H, W = cfg.size_hw
        T = cfg.num_frames
        self.motion = str(cfg.motions[rng.integers(len(cfg.motions))])
        self.height0 = rng.uniform(*cfg.person_height) * H
        self.scale = self.height0 * np.exp(smooth_curve(rng, T, 1, cfg.scale_change)[:, 0])  # (T,) px per unit
        base = self.motion in ("walk", "run")
        self.yaw = (rng.choice([-1, 1]) * rng.uniform(0.9, 1.9)) if base else rng.uniform(-0.8, 0.8)
        self.yaw = self.yaw + smooth_curve(rng, T, 1, 0.2)[:, 0]
        freq = {"walk": 0.9, "run": 1.4, "wave": 1.5, "jump": 0.8}[self.motion] * rng.uniform(0.8, 1.2)
        self.phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * freq * np.arange(T) / cfg.fps
        speed = {"walk": 0.8, "run": 2.0, "wave": 0.0, "jump": 0.1}[self.motion] / cfg.fps
        direction = np.sign(np.sin(self.yaw[0])) or 1.0
        x0 = rng.uniform(0.1, 0.9) * W
        # Feet low enough that the head starts inside the frame (people may still be cut at the bottom).
        ground = rng.uniform(min(max(0.55 * H, 1.02 * self.height0), 1.02 * H), 1.02 * H)
        steps = direction * speed * self.scale * np.abs(np.sin(self.yaw))
        self.root_x = x0 + np.concatenate([[0.0], np.cumsum(steps[1:])])
        self.ground = ground + smooth_curve(rng, T, 1, 0.02 * H)[:, 0]
        self.depth = depth
        self.angles = _pose_angles(self.motion, self.phase, rng)
        self.joints3d = _skeleton_3d(self.angles)
        # Appearance.
        short_sleeves = rng.random() < 0.5
        shorts = rng.random() < 0.3
        self.textures = {"skin": skin_texture, "shirt": clothing_texture, "pants": clothing_texture}
        self.part_tex = {
            "head": "skin", "torso": "shirt", "upper_arm": "shirt", "forearm": "skin" if short_sleeves else "shirt",
            "thigh": "pants", "shin": "skin" if shorts else "pants",
        }

    def project(self, camera_shift: np.ndarray) -> tuple[dict, dict]:
        """Image positions (T, 2) and depths (T,) of every joint."""
        c, s = np.cos(self.yaw)[:, None], np.sin(self.yaw)[:, None]
        pix, dep = {}, {}
        bounce = self.angles["bounce"]
        for name, p in self.joints3d.items():
            x = p[:, 0:1] * c + p[:, 2:3] * s
            zf = -p[:, 0:1] * s + p[:, 2:3] * c  # towards the camera
            y = p[:, 1:2] + bounce[:, None]
            sc = self.scale[:, None]
            img = np.concatenate([self.root_x[:, None] + sc * x, self.ground[:, None] + sc * (y - PELVIS_HEIGHT)], axis=1)
            pix[name] = img + camera_shift
            dep[name] = -zf[:, 0]
        return pix, dep


def _part_layer(rng, person: _Person, part: str, pix: dict, dep: dict, textures: dict) -> tuple[Layer, np.ndarray]:
    cv2 = require_cv2()
    a_name, b_name, wkey, bias = _PARTS[part]
    s0 = person.height0
    length = {"torso": TORSO_LEN, "head": HEAD_LEN, "upper_arm": UPPER_ARM, "forearm": FOREARM,
              "thigh": THIGH, "shin": SHIN}[wkey]
    m = 2
    lc = max(4, int(round(length * s0)))
    wc = max(4, int(round(WIDTH[wkey] * s0)))
    extra = 0 if wkey in ("head", "torso") else wc  # limbs overhang their joints by a radius
    h, w = wc + 2 * m, lc + extra + 2 * m
    alpha = _part_shape("head" if wkey == "head" else ("torso" if wkey == "torso" else "limb"), h, w, m)
    tex = textures[person.part_tex[wkey]]
    ty, tx = rng.integers(0, tex.shape[0] - h + 1), rng.integers(0, tex.shape[1] - w + 1)
    rgba = premultiply(tex[ty : ty + h, tx : tx + w], alpha)
    a_c = np.array([m + extra / 2, (h - 1) / 2])
    A, B = pix[a_name], pix[b_name]
    T = A.shape[0]
    affine = np.empty((T, 2, 3))
    for t in range(T):
        d = B[t] - A[t]
        n = np.linalg.norm(d)
        min_len = 0.25 * length * person.scale[t]
        u = d / n if n > 1e-6 else np.array([0.0, 1.0])
        d = u * max(n, min_len)
        if wkey == "torso":
            yaw = person.yaw[t]
            width = WIDTH["torso"] * person.scale[t] * np.sqrt(np.cos(yaw) ** 2 + (0.6 * np.sin(yaw)) ** 2)
        else:
            width = WIDTH[wkey] * person.scale[t]
        perp = np.array([-u[1], u[0]])
        lin = np.stack([d / lc, perp * width / wc], axis=1)
        affine[t] = np.concatenate([lin, (A[t] - lin @ a_c)[:, None]], axis=1)
    depth = person.depth + 0.5 * (dep[a_name] + dep[b_name]) + bias
    inner = cv2.erode((alpha > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return Layer(rgba=rgba, affine=affine, depth=depth), inner


def generate_people(config: PeopleConfig, rng: np.random.Generator) -> PeopleClip:
    """Render one clip of synthetic people with keypoint and surface ground truth."""
    H, W = config.size_hw
    T = config.num_frames
    pan = smooth_curve(rng, T, 2, [config.camera_pan * W, 0.3 * config.camera_pan * H])
    bh, bw = int(1.5 * H), int(1.5 * W)
    bg = random_texture(rng, bh, bw, detail=0.3)
    off = np.array([-(bw - W) / 2, -(bh - H) / 2])
    bg_aff = np.stack([np.array([[1.0, 0, off[0] + pan[t, 0]], [0, 1.0, off[1] + pan[t, 1]]]) for t in range(T)])
    layers = [Layer(rgba=premultiply(bg, np.ones((bh, bw), np.float32)), affine=bg_aff, depth=np.full(T, np.inf),
                    full_frame=True)]
    pts = [rng.uniform([0, 0], [W - 1, H - 1], size=(config.background_points, 2)) - off[None]]
    owner_person = [-1]
    P = int(rng.integers(config.min_people, config.max_people + 1))
    people = [_Person(config, rng, depth=float(d)) for d in np.sort(rng.permutation(P) * 2.0)]
    # Larger people are nearer the camera: sort depth by mean height.
    order = np.argsort([-p.height0 for p in people])
    for rank, k in enumerate(order):
        people[k].depth = 2.0 * rank
    keypoints = np.zeros((T, P, NUM_KEYPOINTS, 2), np.float32)
    kp_owner = np.full((P, NUM_KEYPOINTS, 2), -1, np.int64)
    kp_self_hidden = np.zeros((T, P, NUM_KEYPOINTS), bool)
    for p, person in enumerate(people):
        pix, dep = person.project(pan)
        size = max(16, int(round(person.height0 * 0.5)))
        textures = {k: f(rng, size * 2, size * 2) for k, f in person.textures.items()}
        part_index = {}
        part_masks = []
        for part in _PARTS:
            ly, inner = _part_layer(rng, person, part, pix, dep, textures)
            part_index[part] = len(layers)
            layers.append(ly)
            part_masks.append(inner)
            owner_person.append(p)
        areas = np.array([m.sum() for m in part_masks], np.float64)
        counts = rng.multinomial(config.surface_points_per_person, areas / max(areas.sum(), 1))
        for m, c in zip(part_masks, counts):
            pts.append(sample_canonical_points(rng, m, int(c)))
        for name, joint in _KP_JOINT.items():
            k = keypoint_index(name)
            keypoints[:, p, k] = pix[joint]
            for i, part in enumerate(_KP_PARTS[name]):
                kp_owner[p, k, i] = part_index[part]
        centre_depth = dep["pelvis"]
        for name in _BILATERAL:
            k = keypoint_index(name)
            ref = dep["head_bottom"] if "ear" in name else centre_depth
            kp_self_hidden[:, p, k] = dep[_KP_JOINT[name]] - ref > 0.35 * HIP_W
        kp_self_hidden[:, p, keypoint_index("nose")] = dep["nose"] > dep["head_bottom"] + 0.01
    gain = (1.0 + smooth_curve(rng, T, 1, 0.1)[:, 0]).astype(np.float32)
    clip = render_layers(layers, (H, W), pts, frame_gain=gain)
    kp_flat = keypoints.reshape(T, P * NUM_KEYPOINTS, 2)
    vis = visibility_from_ids(clip.id_buffer, kp_flat, kp_owner.reshape(P * NUM_KEYPOINTS, 2))
    vis = vis.reshape(T, P, NUM_KEYPOINTS) & ~kp_self_hidden
    surface_person = np.asarray(owner_person, np.int64)[clip.point_layer]
    return PeopleClip(
        frames=clip.frames, keypoints=keypoints, keypoint_visible=vis, surface_tracks=clip.tracks,
        surface_visible=clip.visible, surface_person=surface_person, motions=[p.motion for p in people],
    )


def write_people_sequence(out_dir, name: str, clip: PeopleClip, split: str = "train", video_index: int = 0) -> dict:
    """Write a people clip as PoseTrack18 (frames + JSON) and its surface tracks in the Kubric layout.

    Layout: ``out_dir/images/<split>/<name>/*.jpg``, ``out_dir/posetrack_data/annotations/<split>/<name>.json``,
    ``out_dir/kubric/<name>/{frames/, <name>.npy}``.

    Returns:
        {"posetrack_json": path, "kubric_dir": path}.
    """
    from cotracker.data.kubric import write_kubric_sequence  # noqa: PLC0415
    from cotracker.data.posetrack import write_posetrack_video  # noqa: PLC0415

    out = Path(out_dir)
    js = write_posetrack_video(
        out, out / "posetrack_data" / "annotations" / split, name, clip.frames, clip.keypoints,
        clip.keypoint_visible, split=split, video_index=video_index,
    )
    kdir = write_kubric_sequence(out / "kubric", name, clip.frames, clip.surface_tracks.transpose(1, 0, 2),
                                 ~clip.surface_visible.T)
    return {"posetrack_json": js, "kubric_dir": kdir}


class SyntheticPeopleDataset(torch.utils.data.Dataset):
    """Synthetic people drawn on the fly, as keypoint tracks (like :class:`PoseTrackDataset`).

    Item ``i`` is rendered with ``np.random.default_rng(seed + i)``.

    Args:
        num_sequences: dataset length.
        config: generator parameters.
        seed: base seed.
        surface_points: extra surface tracks appended after the keypoints (keypoint id -1), 0 for none.
        interp_shape: optional (H, W) to resize to (tracks rescaled align-corners).
        drop_invisible: drop keypoint tracks never visible in the clip.
        num_tracks: optional fixed number of tracks per sample (see :func:`cotracker.data.base.fix_num_tracks`).
    """

    def __init__(
        self,
        num_sequences: int,
        config: PeopleConfig = PeopleConfig(),
        seed: int = 0,
        surface_points: int = 0,
        interp_shape: Optional[Sequence[int]] = None,
        drop_invisible: bool = True,
        num_tracks: Optional[int] = None,
    ):
        self.num_tracks = num_tracks
        if num_sequences < 1:
            raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
        self.num_sequences = num_sequences
        self.config = config
        self.seed = seed
        self.surface_points = surface_points
        self.interp_shape = None if interp_shape is None else tuple(interp_shape)
        self.drop_invisible = drop_invisible

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, index: int) -> CoTrackerData:
        if not 0 <= index < self.num_sequences:
            raise IndexError(f"index {index} out of range for {self.num_sequences} synthetic people clips")
        rng = np.random.default_rng(self.seed + index)
        clip = generate_people(self.config, rng)
        T, P = clip.keypoints.shape[:2]
        tracks = clip.keypoints.reshape(T, P * NUM_KEYPOINTS, 2)
        visible = clip.keypoint_visible.reshape(T, -1)
        kp_ids = np.tile(np.arange(NUM_KEYPOINTS), P)
        person_ids = np.repeat(np.arange(P), NUM_KEYPOINTS)
        if self.drop_invisible:
            keep = visible.any(axis=0)
            tracks, visible, kp_ids, person_ids = tracks[:, keep], visible[:, keep], kp_ids[keep], person_ids[keep]
        if self.surface_points > 0:
            cand = np.flatnonzero(clip.surface_visible.any(axis=0))
            if cand.size:
                pick = rng.choice(cand, self.surface_points, replace=cand.size < self.surface_points)
                tracks = np.concatenate([tracks, clip.surface_tracks[:, pick]], axis=1)
                visible = np.concatenate([visible, clip.surface_visible[:, pick]], axis=1)
                kp_ids = np.concatenate([kp_ids, np.full(pick.size, -1)])
                person_ids = np.concatenate([person_ids, clip.surface_person[pick]])
        frames = clip.frames
        if self.interp_shape is not None and tuple(frames.shape[1:3]) != self.interp_shape:
            tracks = rescale_tracks(tracks, frames.shape[1:3], self.interp_shape)
            frames = resize_frames(frames, self.interp_shape)
        queries, _ = first_visible_queries(tracks, visible)
        valid = np.ones(visible.shape, bool)
        if self.num_tracks is not None:
            tracks, visible, valid, queries, kp_ids, person_ids = fix_num_tracks(
                self.num_tracks, tracks, visible, valid, queries, kp_ids, person_ids)
        return to_sample(frames, tracks, visible, valid=valid, seq_name=f"people_{self.seed + index:06d}",
                         query_points=queries,
                         keypoint_ids=kp_ids, person_ids=person_ids, extra={"motions": clip.motions})
