"""Training data: building the configured sources and mixing them step by step, deterministically.

Every micro-batch is a pure function of ``(seed, rank, micro-batch index)``: which source each sample
comes from and which item of that source. The datasets themselves are deterministic per item (item
``i`` is drawn with ``seed + i``), so a resumed run sees exactly the batches the uninterrupted run
would have seen, whatever the number of loader workers.

Each sample is tagged with its source; ``keypoint_ids`` are kept only for sources whose config sets
``keypoint_ids: true`` and replaced by -1 ("no keypoint") elsewhere, so a batch always carries a
(B, N) tensor and the keypoint embedding is used only on those samples.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from cotracker.training.config import DataConfig, DatasetConfig
from cotracker.types import CoTrackerData

__all__ = ["build_dataset", "SourceMixture", "MixtureBatchSampler", "mix_seed", "source_counts", "fit_sample"]

logger = logging.getLogger(__name__)


def mix_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (splitmix64 steps), stable across processes and runs."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) & 0xFFFFFFFFFFFFFFFF
        x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        x = z ^ (z >> 31)
    return x & 0x7FFFFFFFFFFFFFFF


def build_dataset(entry: DatasetConfig, data: DataConfig, seed: int) -> Dataset:
    """Instantiate one source at the shared crop size, clip length and track count.

    ``entry.options`` are passed to the dataset class (unknown ones raise ``TypeError`` from it). For the
    synthetic generators, ``options.scene`` / ``options.people`` hold generator parameters; by default
    they render at ``crop_size`` with ``seq_len`` frames.
    """
    opts = dict(entry.options)
    common = dict(crop_size=tuple(data.crop_size), seq_len=data.seq_len, traj_per_sample=data.traj_per_sample)
    try:
        if entry.type == "kubric":
            from cotracker.data.kubric import KubricMovifDataset

            return KubricMovifDataset(entry.root, seed=seed, **common, **opts)
        if entry.type == "synthetic_scene":
            from cotracker.data.synthetic_scenes import SceneConfig, SyntheticSceneDataset

            scene = dict(opts.pop("scene", {}) or {})
            scene.setdefault("size_hw", tuple(data.crop_size))
            scene.setdefault("num_frames", data.seq_len)
            scene.setdefault("num_points", max(2 * data.traj_per_sample, 64))
            for key in ("size_hw", "object_size", "thin_aspect", "limb_length", "limb_cycles", "fence_rails", "follow_gain",
                        "photo_exclude"):
                if key in scene:  # YAML gives lists
                    scene[key] = tuple(scene[key])
            return SyntheticSceneDataset(
                num_sequences=int(opts.pop("num_sequences", 100000)), config=SceneConfig(**scene), seed=seed,
                **common, **opts,
            )
        if entry.type == "posetrack":
            from cotracker.data.posetrack import PoseTrackDataset

            root = Path(entry.root).expanduser()
            json_folder = Path(opts.pop("json_folder", "posetrack_data/annotations/train"))
            json_folder = json_folder if json_folder.is_absolute() else root / json_folder
            if not json_folder.is_dir():
                raise FileNotFoundError(
                    f"dataset {entry.name!r}: PoseTrack annotation folder {json_folder} does not exist; set "
                    f"options.json_folder (absolute, or relative to {root})"
                )
            start = opts.pop("start_frames_json", None)
            if start is not None and not Path(start).is_absolute():
                start = root / start
            return PoseTrackDataset(root, json_folder, start_frames_json=start, max_frames=data.seq_len,
                                    interp_shape=tuple(data.crop_size), **opts)
        if entry.type == "synthetic_people":
            from cotracker.data.synthetic_people import PeopleConfig, SyntheticPeopleDataset

            people = dict(opts.pop("people", {}) or {})
            people.setdefault("size_hw", tuple(data.crop_size))
            people.setdefault("num_frames", data.seq_len)
            for key in ("size_hw", "person_height", "motions"):
                if key in people:
                    people[key] = tuple(people[key])
            return SyntheticPeopleDataset(
                num_sequences=int(opts.pop("num_sequences", 100000)), config=PeopleConfig(**people), seed=seed,
                interp_shape=tuple(data.crop_size), **opts,
            )
    except TypeError as exc:
        raise TypeError(f"dataset {entry.name!r} (type {entry.type}): bad options {sorted(opts)}: {exc}") from None
    raise ValueError(f"unknown dataset type {entry.type!r}")  # pragma: no cover - checked by DatasetConfig


def fit_sample(sample: CoTrackerData, seq_len: int, num_tracks: Optional[int],
               generator: Optional[torch.Generator] = None) -> CoTrackerData:
    """Bring a sample to exactly ``seq_len`` frames and ``num_tracks`` tracks.

    * Longer clips keep their first ``seq_len`` frames; shorter ones repeat their last frame, with
      ``valid`` and ``visibility`` False on the added frames.
    * Tracks never visible (and valid) are dropped; more than ``num_tracks`` are subsampled at random
      (``generator``), fewer are padded with dummy tracks (position 0, not visible, not valid,
      keypoint/person id -1) that every loss ignores.

    Args:
        sample: video (T, 3, H, W), trajectory (T, N, 2), visibility / valid (T, N), optional ids (N,).
        seq_len: frames wanted.
        num_tracks: tracks wanted (None keeps them all, after dropping never-visible ones).

    Returns:
        a new :class:`CoTrackerData` (``query_points`` dropped).
    """
    video, traj, vis, valid = sample.video, sample.trajectory, sample.visibility.bool(), sample.valid.bool()
    T, N = traj.shape[:2]
    kp = sample.keypoint_ids if sample.keypoint_ids is not None else torch.full((N,), -1, dtype=torch.long)
    pid = sample.person_ids if sample.person_ids is not None else torch.full((N,), -1, dtype=torch.long)
    if T >= seq_len:
        video, traj, vis, valid = video[:seq_len], traj[:seq_len], vis[:seq_len], valid[:seq_len]
    else:
        pad = seq_len - T
        video = torch.cat([video, video[-1:].expand(pad, *video.shape[1:])])
        traj = torch.cat([traj, traj[-1:].expand(pad, *traj.shape[1:])])
        vis = torch.cat([vis, vis.new_zeros(pad, N)])
        valid = torch.cat([valid, valid.new_zeros(pad, N)])
    keep = (vis & valid).any(dim=0).nonzero().flatten()  # (N',)
    if num_tracks is not None and keep.numel() > num_tracks:
        keep = keep[torch.randperm(keep.numel(), generator=generator)[:num_tracks]].sort().values
    traj, vis, valid, kp, pid = traj[:, keep], vis[:, keep], valid[:, keep], kp[keep].long(), pid[keep].long()
    if num_tracks is not None and keep.numel() < num_tracks:
        pad = num_tracks - keep.numel()
        traj = torch.cat([traj, traj.new_zeros(seq_len, pad, 2)], dim=1)
        vis = torch.cat([vis, vis.new_zeros(seq_len, pad)], dim=1)
        valid = torch.cat([valid, valid.new_zeros(seq_len, pad)], dim=1)
        kp = torch.cat([kp, kp.new_full((pad,), -1)])
        pid = torch.cat([pid, pid.new_full((pad,), -1)])
    return replace(sample, video=video, trajectory=traj, visibility=vis, valid=valid, keypoint_ids=kp,
                   person_ids=pid, query_points=None)


class SourceMixture(Dataset):
    """Index ``(source, item)`` -> sample of that source, tagged and with keypoint ids fixed up.

    Args:
        datasets: one dataset per source.
        names: source names (stored in ``sample.extra["source"]``).
        keypoint_sources: per source, whether its keypoint ids reach the model.
        seq_len, num_tracks: when given, every sample is brought to exactly ``seq_len`` frames and
            ``num_tracks`` tracks with :func:`fit_sample` (sources such as PoseTrack vary in both).
    """

    def __init__(self, datasets: Sequence[Dataset], names: Sequence[str], keypoint_sources: Sequence[bool],
                 seq_len: Optional[int] = None, num_tracks: Optional[int] = None):
        self.seq_len = seq_len
        self.num_tracks = num_tracks
        if not (len(datasets) == len(names) == len(keypoint_sources)):
            raise ValueError("datasets, names and keypoint_sources must have the same length")
        self.datasets = list(datasets)
        self.names = list(names)
        self.keypoint_sources = list(keypoint_sources)

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key: tuple[int, int]) -> CoTrackerData:
        source, item = key
        sample = self.datasets[source][item]
        if self.seq_len is not None:
            g = torch.Generator().manual_seed(mix_seed(source, item, 0xF17))
            sample = fit_sample(sample, self.seq_len, self.num_tracks, g)
        N = sample.trajectory.shape[1]
        kp = sample.keypoint_ids
        if kp is None or not self.keypoint_sources[source]:
            kp = torch.full((N,), -1, dtype=torch.long)
        pid = sample.person_ids if sample.person_ids is not None else torch.full((N,), -1, dtype=torch.long)
        extra = dict(sample.extra or {})
        extra["source"] = self.names[source]
        extra["source_index"] = source
        # drop dataset-chosen queries: training samples its own (and batches need equal fields)
        return replace(sample, keypoint_ids=kp.long(), person_ids=pid.long(), query_points=None, extra=extra)


class MixtureBatchSampler(Sampler):
    """Yields micro-batches of ``(source, item)`` keys, from micro-batch ``start`` on, forever.

    Micro-batch ``k`` of rank ``r`` draws, with a generator seeded by ``(seed, r, k)``, each sample's source
    with the given probabilities and then an item uniformly from that source.

    Args:
        lengths: length of each source.
        weights: sampling weights (normalised here).
        batch_size: samples per micro-batch.
        seed, rank: see above.
        start: index of the first micro-batch (for resuming).
    """

    def __init__(self, lengths: Sequence[int], weights: Sequence[float], batch_size: int, seed: int, rank: int = 0,
                 start: int = 0):
        if len(lengths) != len(weights) or not lengths:
            raise ValueError("need one weight per source and at least one source")
        if any(n < 1 for n in lengths):
            raise ValueError(f"every source needs at least one item, got lengths {list(lengths)}")
        w = torch.tensor([float(x) for x in weights], dtype=torch.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
        self.probs = w / w.sum()
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.start = start

    def batch(self, k: int) -> list[tuple[int, int]]:
        """The keys of micro-batch ``k``."""
        g = torch.Generator().manual_seed(mix_seed(self.seed, self.rank, k, 0xDA7A))
        sources = torch.multinomial(self.probs, self.batch_size, replacement=True, generator=g).tolist()
        keys = []
        for s in sources:
            item = int(torch.randint(self.lengths[s], (1,), generator=g).item())
            keys.append((s, item))
        return keys

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        k = self.start
        while True:
            yield self.batch(k)
            k += 1

    def __len__(self) -> int:  # effectively infinite; DataLoader only needs a number
        return 2**62


def source_counts(sampler: MixtureBatchSampler, num_batches: int, start: int = 0) -> list[int]:
    """How many samples each source contributes to ``num_batches`` micro-batches (for checks and logs)."""
    counts = [0] * len(sampler.lengths)
    for k in range(start, start + num_batches):
        for s, _ in sampler.batch(k):
            counts[s] += 1
    return counts
