"""The evaluation harness: run any :class:`~cotracker.evaluation.baselines.Tracker` over a benchmark.

``evaluate(tracker, EvalConfig(dataset=..., data_root=...))`` loads the dataset lazily from
:mod:`cotracker.data` (or the BADJA reader), runs the tracker on each video with the benchmark's
queries, scores it with the metric functions of this package and returns an :class:`EvalResult`
(per-video metrics and their means over videos). :func:`write_results` stores it atomically as
``per_video.json``, ``summary.json``, ``summary.md`` and ``summary.csv``.

Datasets and what is scored:

==========================  =========================================================================
``tapvid_davis_first``      TAP-Vid DAVIS, "first" queries, TAP-Vid metrics at 256 x 256
``tapvid_davis_strided``    TAP-Vid DAVIS, "strided" queries (every 5th frame), TAP-Vid metrics
``tapvid_kinetics_first``   TAP-Vid Kinetics, "first" queries
``kubric``                  Kubric MOVi-F folders, first-visible queries, TAP-Vid "first" metrics at 256 scale
``synthetic``               held-out :class:`~cotracker.data.SyntheticSceneDataset` clips generated on the fly
                            (seeded), first-visible queries, TAP-Vid "first" metrics at 256 scale
``dynamic_replica``         Dynamic Replica (queries at frame 0), DR accuracy and survival
``posetrack``               PoseTrack keypoints: PCK (bounding box), PCKh@0.5, OKS, jitter / acceleration error
``badja``                   BADJA joints: PCK at 0.2 sqrt(mask area) and at fixed pixel thresholds
==========================  =========================================================================

Query protocols: ``"joint"`` tracks all queries of a video in one call (points are context for each
other); ``"single"`` tracks each query alone (one call per point).
"""
from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from cotracker.evaluation.badja import (
    BadjaConfig,
    badja_queries,
    compute_badja_pck,
    find_badja_sequences,
    load_badja_sequence,
)
from cotracker.evaluation.baselines import Tracker
from cotracker.evaluation.metrics import compute_dynamic_replica_metrics, compute_tapvid_metrics, mean_over_videos
from cotracker.evaluation.pose_metrics import (
    bbox_size,
    head_size,
    keypoint_box_area,
    object_keypoint_similarity,
    pck,
    temporal_consistency,
    torso_size,
)
from cotracker.geometry import rescale_points, rescale_queries, txy_to_tapvid_queries
from cotracker.pose.keypoints import NUM_KEYPOINTS, POSETRACK_KEYPOINTS
from cotracker.types import CoTrackerData

__all__ = [
    "DATASETS",
    "QUERY_PROTOCOLS",
    "BENCHMARK_HW",
    "HEADLINE_METRICS",
    "SyntheticEvalConfig",
    "HELD_OUT_SEEDS",
    "check_calibration_seeds",
    "EvalConfig",
    "VideoResult",
    "EvalResult",
    "evaluate",
    "evaluate_sample",
    "run_tracker",
    "track_badja",
    "iter_dataset",
]

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = (
    "tapvid_davis_first",
    "tapvid_davis_strided",
    "tapvid_kinetics_first",
    "dynamic_replica",
    "posetrack",
    "badja",
    "kubric",
    "synthetic",
)
QUERY_PROTOCOLS: tuple[str, ...] = ("joint", "single")
# The TAP-Vid / Dynamic Replica thresholds are pixels at this scale.
BENCHMARK_HW: tuple[int, int] = (256, 256)

# The numbers a summary leads with, per dataset family.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "tapvid": ("average_jaccard", "average_pts_within_thresh", "occlusion_accuracy"),
    "dynamic_replica": ("accuracy_vis", "accuracy_occ", "accuracy", "survival"),
    "posetrack": ("pck_bbox", "pckh", "oks", "accel_error"),
    "badja": ("pck_mask", "pck_8px", "pck_16px", "pck_32px", "mean_error_px"),
}


def dataset_family(dataset: str) -> str:
    """``"tapvid"``, ``"dynamic_replica"``, ``"posetrack"`` or ``"badja"``."""
    if dataset in ("dynamic_replica", "posetrack", "badja"):
        return dataset
    return "tapvid"


#: Seeds reserved for the held-out synthetic benchmark sets (SyntheticEvalConfig's default base seed and beyond):
#: calibration and tuning clips must come from elsewhere.
HELD_OUT_SEEDS = range(1_000_000, 1_010_000)


def check_calibration_seeds(seed: int, clips: int = 1) -> None:
    """Refuse calibration clips ``seed .. seed + clips - 1`` that reach into :data:`HELD_OUT_SEEDS` (ValueError)."""
    if seed < HELD_OUT_SEEDS.stop and seed + max(int(clips), 1) > HELD_OUT_SEEDS.start:
        raise ValueError(f"--seed {seed} with {clips} clip(s) overlaps the benchmark's held-out seeds "
                         f"({HELD_OUT_SEEDS.start}..{HELD_OUT_SEEDS.stop - 1}); choose another, e.g. 3000000")


@dataclass(frozen=True)
class SyntheticEvalConfig:
    """The held-out synthetic set (``dataset="synthetic"``).

    Attributes:
        num_sequences: clips.
        num_frames: T per clip.
        size_hw: rendered (H, W).
        num_points: ground-truth tracks rendered per clip.
        traj_per_sample: tracks evaluated per clip.
        seed: base seed; clip i uses ``seed + i``. The default lies far from the training seeds (0, ...).
        limb_prob, thin_prob, plain_prob, fence_prob, follow_prob: the scene generator's articulated limbs, thin
            bars, plain surfaces, fences and object-following camera
            (:class:`~cotracker.data.synthetic_scenes.SceneConfig`); 0 (default) gives the plain held-out set.
        photo_prob, photo_dir, photo_exclude: surfaces cut from real videos or photos in ``photo_dir``
            (:mod:`cotracker.data.photo_textures`); off by default.
        query_kinds: evaluate only points on layers of these kinds (``cotracker.data.synthetic_scenes.LAYER_KINDS``,
            e.g. ``("limb",)``); empty (default) evaluates points anywhere.
    """

    num_sequences: int = 8
    num_frames: int = 24
    size_hw: tuple[int, int] = (256, 256)
    num_points: int = 512
    traj_per_sample: int = 64
    seed: int = HELD_OUT_SEEDS.start
    limb_prob: float = 0.0
    thin_prob: float = 0.0
    plain_prob: float = 0.0
    fence_prob: float = 0.0
    follow_prob: float = 0.0
    photo_prob: float = 0.0
    photo_dir: Optional[str] = None
    photo_exclude: tuple[str, ...] = ()
    query_kinds: tuple[str, ...] = ()

    @classmethod
    def articulated(cls, **kwargs) -> "SyntheticEvalConfig":
        """The articulated variant: the mixture of the second half of ``configs/train/synth_small_cont3.yaml``."""
        return cls(**{"limb_prob": 0.5, "thin_prob": 0.25, "plain_prob": 0.15, **kwargs})

    @classmethod
    def fences(cls, **kwargs) -> "SyntheticEvalConfig":
        """The articulated variant with fences and a following camera (``configs/train/synth_small_cont4.yaml``)."""
        return cls.articulated(**{"fence_prob": 0.7, "follow_prob": 0.7, **kwargs})

    @classmethod
    def limbs(cls, **kwargs) -> "SyntheticEvalConfig":
        """Few queries, all on articulated limbs: the articulated scenes with limbs on every object, 24 queries per
        clip sampled only on limbs (the situation of sparse keypoints on legs and arms, as in BADJA or pose). 2048
        points are rendered so that a clip has enough limb points to choose from (about 100-300)."""
        return cls.articulated(**{"limb_prob": 1.0, "num_points": 2048, "traj_per_sample": 24,
                                  "query_kinds": ("limb",), **kwargs})

    @classmethod
    def variant(cls, articulated: bool = False, fences: bool = False, limbs: bool = False,
                **kwargs) -> "SyntheticEvalConfig":
        """The default set, :meth:`articulated`, :meth:`fences` or :meth:`limbs` (the command-line flags of the
        same names)."""
        if articulated + fences + limbs > 1:
            raise ValueError("choose one synthetic variant: articulated, fences or limbs, not several")
        return (cls.articulated if articulated else cls.fences if fences else cls.limbs if limbs else cls)(**kwargs)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how.

    Attributes:
        dataset: one of :data:`DATASETS`.
        data_root: the dataset's file or folder (not needed for ``synthetic``).
        query_protocol: ``"joint"`` or ``"single"``.
        max_videos: evaluate only the first this many videos (None = all).
        synthetic: the held-out synthetic set's parameters.
        kubric_crop_hw, kubric_seq_len, kubric_traj_per_sample: Kubric clips as evaluated (no augmentation).
        pose_alpha: alpha of the bounding-box PCK on PoseTrack.
        pckh_alpha: alpha of PCKh (0.5).
        badja: BADJA thresholds.
        progress: show a tqdm progress bar on stderr.
    """

    dataset: str
    data_root: Optional[str] = None
    query_protocol: str = "joint"
    max_videos: Optional[int] = None
    synthetic: SyntheticEvalConfig = SyntheticEvalConfig()
    kubric_crop_hw: tuple[int, int] = (256, 256)
    kubric_seq_len: int = 24
    kubric_traj_per_sample: int = 256
    pose_alpha: float = 0.2
    pckh_alpha: float = 0.5
    badja: BadjaConfig = BadjaConfig()
    progress: bool = True

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}")
        if self.query_protocol not in QUERY_PROTOCOLS:
            raise ValueError(f"query_protocol must be 'joint' or 'single', got {self.query_protocol!r}")
        if self.dataset != "synthetic" and not self.data_root:
            raise ValueError(f"dataset {self.dataset!r} needs data_root (--data-root DIR); only 'synthetic' is generated")
        if self.max_videos is not None and self.max_videos < 1:
            raise ValueError(f"max_videos must be >= 1 or None, got {self.max_videos}")


@dataclass
class VideoResult:
    """Metrics of one video (floats; NaN where undefined)."""

    name: str
    metrics: dict[str, float]
    num_frames: int
    num_points: int
    seconds: float


@dataclass
class EvalResult:
    """Metrics of a whole run.

    Attributes:
        dataset: the dataset name.
        tracker: a label for the tracker (``"lk"``, ``"static"``, a checkpoint name).
        config: the :class:`EvalConfig` as a plain dict.
        per_video: one :class:`VideoResult` per video, in dataset order.
        aggregate: the mean of each metric over videos (NaN-skipping).
        step: training step of the evaluated checkpoint, when known.
    """

    dataset: str
    tracker: str
    config: dict
    per_video: list[VideoResult]
    aggregate: dict[str, float]
    step: Optional[int] = None
    extra: dict = field(default_factory=dict)

    def headline(self) -> dict[str, float]:
        """The dataset family's main metrics (those present)."""
        keys = HEADLINE_METRICS[dataset_family(self.dataset)]
        return {k: self.aggregate[k] for k in keys if k in self.aggregate}


# -- running a tracker ----------------------------------------------------------------------------------


def _check_result(res: Any, T: int, N: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        tracks, vis = res[0], res[1]
    except (TypeError, IndexError, KeyError):
        raise TypeError(f"a tracker must return (tracks, visibility) (a TrackResult), got {type(res).__name__}") from None
    tracks = torch.as_tensor(tracks).detach().to("cpu")
    vis = torch.as_tensor(vis).detach().to("cpu")
    if tuple(tracks.shape) != (1, T, N, 2):
        raise ValueError(f"the tracker returned tracks of shape {tuple(tracks.shape)}; expected (1, T={T}, N={N}, 2)")
    if tuple(vis.shape) != (1, T, N):
        raise ValueError(f"the tracker returned visibility of shape {tuple(vis.shape)}; expected (1, T={T}, N={N})")
    if vis.dtype != torch.bool:
        vis = vis > 0.5
    return tracks[0].to(torch.float32).numpy(), vis[0].numpy()


def run_tracker(tracker: Tracker, video: torch.Tensor, queries: np.ndarray, protocol: str = "joint",
                keypoint_ids: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Track ``queries`` through one video.

    Args:
        tracker: a :class:`Tracker`.
        video: (T, 3, H, W) float RGB 0..255.
        queries: (N, 3) ``(t, x, y)`` pixels of ``video``.
        protocol: ``"joint"`` (one call) or ``"single"`` (one call per query).
        keypoint_ids: optional (N,) keypoint slots (-1 = not a keypoint), passed to trackers whose
            ``uses_keypoint_ids`` is true (a model with a keypoint embedding); ignored by the others.

    Returns:
        tracks (T, N, 2) float32 pixels and visibility (T, N) bool.
    """
    if protocol not in QUERY_PROTOCOLS:
        raise ValueError(f"protocol must be 'joint' or 'single', got {protocol!r}")
    T = int(video.shape[0])
    N = int(queries.shape[0])
    v = video[None].to(torch.float32)  # (1, T, 3, H, W)
    if N == 0:
        return np.zeros((T, 0, 2), np.float32), np.zeros((T, 0), bool)
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))[None]  # (1, N, 3)
    kp = None
    if keypoint_ids is not None and getattr(tracker, "uses_keypoint_ids", False):
        kp = torch.as_tensor(np.asarray(keypoint_ids), dtype=torch.int64).reshape(1, -1)
        if kp.shape[1] != N:
            raise ValueError(f"keypoint_ids must have one id per query ({N}), got {kp.shape[1]}")

    def call(sel: slice):
        if kp is None:
            return tracker(v, queries=q[:, sel])
        return tracker(v, queries=q[:, sel], keypoint_ids=kp[:, sel])

    if protocol == "joint":
        return _check_result(call(slice(None)), T, N)
    tracks = np.zeros((T, N, 2), np.float32)
    vis = np.zeros((T, N), bool)
    for n in range(N):
        t_n, v_n = _check_result(call(slice(n, n + 1)), T, 1)
        tracks[:, n], vis[:, n] = t_n[:, 0], v_n[:, 0]
    return tracks, vis


# -- datasets -------------------------------------------------------------------------------------------


def _tapvid_source(root: Path, kind: str) -> Path:
    if kind == "davis":
        if root.is_file():
            return root
        for c in (root / "tapvid_davis.pkl", root / "tapvid_davis" / "tapvid_davis.pkl"):
            if c.is_file():
                return c
        raise FileNotFoundError(f"no TAP-Vid DAVIS pickle at {root}: pass the tapvid_davis.pkl file or its folder")
    for c in (root / "tapvid_kinetics", root):
        if c.is_dir() and any(c.glob("*.pkl")):
            return c
    raise FileNotFoundError(f"no TAP-Vid Kinetics pickles (*_of_0010.pkl) in {root} or {root / 'tapvid_kinetics'}")


# Where each dataset class lives, in case ``cotracker.data`` does not re-export it.
_DATA_MODULES: dict[str, str] = {
    "TapVidDataset": "cotracker.data.tapvid",
    "KubricMovifDataset": "cotracker.data.kubric",
    "SceneConfig": "cotracker.data.synthetic_scenes",
    "SyntheticSceneDataset": "cotracker.data.synthetic_scenes",
    "DynamicReplicaDataset": "cotracker.data.dynamic_replica",
    "PoseTrackDataset": "cotracker.data.posetrack",
}


def _data_class(name: str, dataset: str):
    import importlib  # noqa: PLC0415

    for module in ("cotracker.data", _DATA_MODULES.get(name)):
        if module is None:
            continue
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ModuleNotFoundError:
            cls = None
        if cls is not None:
            return cls
    raise ValueError(f"dataset {dataset!r} needs cotracker.data.{name}, which this installation does not provide yet")


def _build_dataset(config: EvalConfig):
    """The dataset object for ``config.dataset`` (imported lazily); BADJA returns a list of clip names."""
    ds = config.dataset
    root = Path(config.data_root) if config.data_root else None
    if root is not None and not root.exists():
        raise FileNotFoundError(f"--data-root {root} does not exist")
    if ds == "badja":
        return find_badja_sequences(root)
    def need(name: str):
        return _data_class(name, ds)

    if ds.startswith("tapvid_"):
        kind = "davis" if "davis" in ds else "kinetics"
        return need("TapVidDataset")(_tapvid_source(root, kind), dataset_type=kind, queried_first=ds.endswith("_first"))
    if ds == "kubric":
        return need("KubricMovifDataset")(
            root, crop_size=config.kubric_crop_hw, seq_len=config.kubric_seq_len,
            traj_per_sample=config.kubric_traj_per_sample, use_augs=False,
        )
    if ds == "synthetic":
        s = config.synthetic
        scene = need("SceneConfig")(num_frames=s.num_frames, size_hw=tuple(s.size_hw), num_points=s.num_points,
                                    limb_prob=s.limb_prob, thin_prob=s.thin_prob, plain_prob=s.plain_prob,
                                    fence_prob=s.fence_prob, follow_prob=s.follow_prob, photo_prob=s.photo_prob,
                                    photo_dir=s.photo_dir, photo_exclude=tuple(s.photo_exclude))
        return need("SyntheticSceneDataset")(
            s.num_sequences, scene, seed=s.seed, traj_per_sample=s.traj_per_sample, use_augs=False,
            query_kinds=tuple(s.query_kinds) or None,
        )
    if ds == "dynamic_replica":
        return need("DynamicReplicaDataset")(root)
    if ds == "posetrack":
        return need("PoseTrackDataset")(root)
    raise AssertionError(ds)  # unreachable: EvalConfig validates the name


def iter_dataset(config: EvalConfig) -> tuple[int, Iterator[Any]]:
    """``(number of videos, iterator over samples)``: CoTrackerData, or BadjaSequence for ``badja``."""
    dataset = _build_dataset(config)
    n = len(dataset)
    if config.max_videos is not None:
        n = min(n, config.max_videos)
    if config.dataset == "badja":
        names = list(dataset)[:n]
        return n, (load_badja_sequence(config.data_root, name) for name in names)
    if config.dataset == "posetrack":
        return n, (_with_posetrack_head_boxes(dataset, dataset[i]) for i in range(n))
    return n, (dataset[i] for i in range(n))


def _with_posetrack_head_boxes(dataset, sample: CoTrackerData) -> CoTrackerData:
    """Attach the PoseTrack ``bbox_head`` of every person and frame as ``extra["head_boxes_by_person"]``.

    ``{track_id: (T, 4) float (x, y, w, h)}`` in the sample's pixels (NaN where the person has no head
    box in a frame). The clip is located from the dataset's JSON folder and the sample name
    ``"<video>:<start frame>"``; when that is not possible the sample is returned unchanged (PCKh then
    uses the head_top-head_bottom distance).
    """
    try:
        from cotracker.data.posetrack import read_posetrack_json  # noqa: PLC0415

        stem, _, start = str(sample.seq_name).rpartition(":")
        doc = read_posetrack_json(Path(dataset.json_folder) / f"{stem}.json")
        T, H, W = int(sample.video.shape[0]), int(sample.video.shape[2]), int(sample.video.shape[3])
        clip = doc["images"][int(start): int(start) + T]
        from PIL import Image  # noqa: PLC0415

        with Image.open(Path(dataset.main_folder) / clip[0]["file_name"]) as im:
            src_hw = (im.height, im.width)
    except (AttributeError, ValueError, KeyError, IndexError, OSError) as exc:
        logger.info("no PoseTrack head boxes for %s (%s); PCKh uses the head keypoints", sample.seq_name, exc)
        return sample
    row = {im["id"]: t for t, im in enumerate(clip)}
    boxes: dict[int, np.ndarray] = {}
    for a in doc["annotations"]:
        box = a.get("bbox_head")
        if a.get("image_id") not in row or box is None or len(box) != 4:
            continue
        x, y, w, h = (float(v) for v in box)
        corners = rescale_points(torch.tensor([[x, y], [x + w, y + h]]), src_hw, (H, W))  # (2, 2)
        tid = int(a["track_id"])
        boxes.setdefault(tid, np.full((T, 4), np.nan))[row[a["image_id"]]] = [
            corners[0, 0], corners[0, 1], corners[1, 0] - corners[0, 0], corners[1, 1] - corners[0, 1]]
    sample.extra = {**(sample.extra or {}), "head_boxes_by_person": boxes}
    return sample


# -- per-family scoring --------------------------------------------------------------------------------


def _floats(metrics: dict) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        v = np.asarray(v).reshape(-1)
        out[k] = float(v[0]) if v.size else float("nan")
    return out


def _check_sample(sample: CoTrackerData) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    if not isinstance(sample, CoTrackerData):
        raise TypeError(f"expected a CoTrackerData sample, got {type(sample).__name__}")
    video = sample.video
    if video.dim() != 4 or video.shape[1] != 3:
        raise ValueError(f"sample '{sample.seq_name}': video must be (T, 3, H, W), got {tuple(video.shape)}")
    tracks = sample.trajectory.detach().cpu().numpy().astype(np.float32)
    vis = sample.visibility.detach().cpu().numpy().astype(bool)
    T = video.shape[0]
    if tracks.ndim != 3 or tracks.shape[0] != T or tracks.shape[2] != 2 or vis.shape != tracks.shape[:2]:
        raise ValueError(
            f"sample '{sample.seq_name}': expected trajectory (T={T}, N, 2) and visibility (T, N), got "
            f"{tracks.shape} and {vis.shape}"
        )
    return video, tracks, vis


def _queries(sample: CoTrackerData, tracks: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Queries (N', 3) txy and the kept track indices: the dataset's own, else each track's first visible frame."""
    if sample.query_points is not None:
        q = sample.query_points.detach().cpu().numpy().astype(np.float32)
        if q.shape != (tracks.shape[1], 3):
            raise ValueError(f"sample '{sample.seq_name}': query_points must be (N={tracks.shape[1]}, 3), got {q.shape}")
        return q, np.arange(tracks.shape[1])
    keep = np.flatnonzero(vis.any(axis=0))
    t0 = np.argmax(vis[:, keep], axis=0)
    xy = tracks[t0, keep]
    return np.concatenate([t0[:, None].astype(np.float32), xy], axis=1), keep


def _score_tapvid(tracker, sample, config: EvalConfig) -> tuple[dict, int]:
    video, tracks, vis = _check_sample(sample)
    q, keep = _queries(sample, tracks, vis)
    tracks, vis = tracks[:, keep], vis[:, keep]
    pred, pvis = run_tracker(tracker, video, q, config.query_protocol)
    hw = tuple(video.shape[-2:])
    to256 = lambda a: rescale_points(torch.from_numpy(a), hw, BENCHMARK_HW).numpy()  # noqa: E731
    q256 = txy_to_tapvid_queries(rescale_queries(torch.from_numpy(q), hw, BENCHMARK_HW)).numpy()  # (N, 3) (t, y, x)
    mode = "strided" if config.dataset.endswith("_strided") else "first"
    m = compute_tapvid_metrics(
        q256[None],
        (~vis).T[None],
        to256(tracks).transpose(1, 0, 2)[None],  # (1, N, T, 2)
        (~pvis).T[None],
        to256(pred).transpose(1, 0, 2)[None],
        mode,
    )
    return _floats(m), len(keep)


def _score_dynamic_replica(tracker, sample, config: EvalConfig) -> tuple[dict, int]:
    video, tracks, vis = _check_sample(sample)
    if sample.query_points is not None:
        q = sample.query_points.detach().cpu().numpy().astype(np.float32)
    else:  # the protocol: every point queried at frame 0 at its ground-truth position, even if occluded
        q = np.concatenate([np.zeros((tracks.shape[1], 1), np.float32), tracks[0]], axis=1)
    pred, _ = run_tracker(tracker, video, q, config.query_protocol)
    m = compute_dynamic_replica_metrics(pred[None], tracks[None], vis[None], tuple(video.shape[-2:]))
    return _floats(m), tracks.shape[1]


def _score_posetrack(tracker, sample, config: EvalConfig) -> tuple[dict, int]:
    """PCK / PCKh / OKS over (frame, person) instances at frames after each keypoint's query frame.

    Needs ``sample.keypoint_ids`` (PoseTrack slots 0..16) and ``sample.person_ids``. Keypoints are scored
    where visible and ``valid``. PCKh uses the PoseTrack head box of ``sample.extra["head_boxes_by_person"]``
    (``{track_id: (T, 4)}``, see :func:`_with_posetrack_head_boxes`) and, where a person has no head box
    in a frame, the head_top-head_bottom distance. OKS uses the area of the box around the visible GT keypoints.
    """
    video, tracks, vis = _check_sample(sample)
    if sample.keypoint_ids is None or sample.person_ids is None:
        raise ValueError(f"PoseTrack sample '{sample.seq_name}' needs keypoint_ids and person_ids")
    q, keep = _queries(sample, tracks, vis)
    tracks, vis = tracks[:, keep], vis[:, keep]
    kp = sample.keypoint_ids.cpu().numpy()[keep]
    pid = sample.person_ids.cpu().numpy()[keep]
    pred, _ = run_tracker(tracker, video, q, config.query_protocol, keypoint_ids=np.where(pid >= 0, kp, -1))
    T = tracks.shape[0]
    persons = np.unique(pid[pid >= 0])
    P = len(persons)
    gt_k = np.zeros((T, P, NUM_KEYPOINTS, 2))
    pr_k = np.zeros((T, P, NUM_KEYPOINTS, 2))
    vis_k = np.zeros((T, P, NUM_KEYPOINTS), bool)  # ground truth visible (for the normalisers)
    scored = np.zeros((T, P, NUM_KEYPOINTS), bool)  # visible and after the query frame
    valid = sample.valid.detach().cpu().numpy().astype(bool)[:, keep]
    if valid.shape != vis.shape:
        raise ValueError(f"PoseTrack sample '{sample.seq_name}': valid must be (T, N) like visibility, got {valid.shape}")
    vis = vis & valid
    after = np.arange(T)[:, None] > np.round(q[:, 0])[None, :]  # (T, N)
    for n in range(len(keep)):
        if pid[n] < 0 or not 0 <= kp[n] < NUM_KEYPOINTS:
            continue
        p = int(np.searchsorted(persons, pid[n]))
        gt_k[:, p, kp[n]] = tracks[:, n]
        pr_k[:, p, kp[n]] = pred[:, n]
        vis_k[:, p, kp[n]] = vis[:, n]
        scored[:, p, kp[n]] = vis[:, n] & after[:, n]
    hsize = head_size(gt_k, vis_k)  # (T, P) from the head keypoints
    by_person = sample.extra.get("head_boxes_by_person") if isinstance(sample.extra, dict) else None
    if by_person:
        boxes = np.full((T, P, 4), np.nan)
        for p, tid in enumerate(persons):
            if int(tid) in by_person and np.shape(by_person[int(tid)]) == (T, 4):
                boxes[:, p] = by_person[int(tid)]
        from_box = head_size(head_box_xywh=boxes)
        hsize = np.where(np.isfinite(from_box), from_box, hsize)
    pck_box = pck(pr_k, gt_k, scored, bbox_size(gt_k, vis_k), config.pose_alpha)
    out = {
        "pck_bbox": pck_box.pck,
        "pck_torso": pck(pr_k, gt_k, scored, torso_size(gt_k, vis_k), config.pose_alpha).pck,
        "pckh": pck(pr_k, gt_k, scored, hsize, config.pckh_alpha).pck,
    }
    # PoseTrack order is scored slot for slot with COCO's sigmas (head_bottom/head_top take the eyes').
    oks = object_keypoint_similarity(pr_k, gt_k, scored, keypoint_box_area(gt_k, vis_k))
    out["oks"] = float(np.nanmean(oks)) if np.isfinite(oks).any() else float("nan")
    out.update({k: float(v) for k, v in temporal_consistency(pred, tracks, vis).items()})
    # per keypoint slot (PoseTrack order): where trackers fail (wrists, ankles)
    out.update({f"pck_bbox/{name}": float(v) for name, v in zip(POSETRACK_KEYPOINTS, pck_box.per_keypoint)})
    return out, len(keep)


def track_badja(tracker: Tracker, seq, protocol: str = "joint") -> tuple[np.ndarray, np.ndarray]:
    """Run the BADJA protocol's queries (:func:`~cotracker.evaluation.badja.badja_queries`) through one clip.

    Returns:
        (T, N, 2) the tracker's positions in every frame, and (N,) the joint slot of each query.
    """
    q, joint_ids = badja_queries(seq.annotations)
    video = torch.from_numpy(seq.frames).permute(0, 3, 1, 2).to(torch.float32)  # (T, 3, H, W)
    pred, _ = run_tracker(tracker, video, q, protocol)
    return pred, joint_ids


def _score_badja(tracker, seq, config: EvalConfig) -> tuple[dict, int]:
    ann = seq.annotations
    pred, joint_ids = track_badja(tracker, seq, config.query_protocol)
    m = compute_badja_pck(pred[ann.frame_indices], ann.joints[:, joint_ids], ann.visible[:, joint_ids],
                          seq.mask_areas(), config.badja)
    return m, len(joint_ids)


_SCORERS: dict[str, Callable] = {
    "tapvid": _score_tapvid,
    "dynamic_replica": _score_dynamic_replica,
    "posetrack": _score_posetrack,
    "badja": _score_badja,
}


def evaluate_sample(tracker: Tracker, sample: Any, config: EvalConfig) -> VideoResult:
    """Run and score one video (a CoTrackerData, or a BadjaSequence for ``badja``)."""
    start = time.perf_counter()
    metrics, n = _SCORERS[dataset_family(config.dataset)](tracker, sample, config)
    name = getattr(sample, "seq_name", None) or getattr(sample, "name", "")
    num_frames = len(sample.frames) if config.dataset == "badja" else int(sample.video.shape[0])
    return VideoResult(name=str(name), metrics=metrics, num_frames=num_frames, num_points=int(n),
                       seconds=time.perf_counter() - start)


def evaluate(tracker: Tracker, config: EvalConfig, tracker_name: str = "", step: Optional[int] = None) -> EvalResult:
    """Evaluate ``tracker`` on ``config.dataset``.

    Args:
        tracker: any :class:`Tracker` (a baseline or a :class:`~cotracker.predictor.CoTrackerPredictor`).
        config: what to evaluate.
        tracker_name: a label stored with the results.
        step: training step of the checkpoint, stored with the results.

    Returns:
        EvalResult with per-video metrics and their means over videos.
    """
    if not callable(tracker):
        raise TypeError(f"tracker must be callable as tracker(video, queries=...), got {type(tracker).__name__}")
    n, samples = iter_dataset(config)
    from tqdm import tqdm  # noqa: PLC0415

    per_video = []
    bar = tqdm(total=n, desc=f"evaluate {config.dataset}", unit="video", file=sys.stderr, disable=not config.progress)
    try:
        for sample in samples:
            res = evaluate_sample(tracker, sample, config)
            per_video.append(res)
            bar.update(1)
            logger.info("%s: %s", res.name, {k: round(v, 4) for k, v in res.metrics.items() if isinstance(v, float)})
    finally:
        bar.close()
    if not per_video:
        raise ValueError(f"dataset {config.dataset!r} at {config.data_root} yielded no videos")
    aggregate = mean_over_videos([r.metrics for r in per_video])
    return EvalResult(
        dataset=config.dataset,
        tracker=tracker_name or getattr(tracker, "name", type(tracker).__name__),
        config=_plain(asdict(config)),
        per_video=per_video,
        aggregate=aggregate,
        step=step,
    )


def _plain(x: Any) -> Any:
    """JSON-ready copy: tuples -> lists, non-finite floats -> None."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, Path):
        return str(x)
    return x
