"""Kubric MOVi-F point tracks: the on-disk layout, its writer, and the training loader.

Layout (one folder per sequence)::

    data_root/<seq>/frames/000.png ...     RGB frames, sorted by file name
    data_root/<seq>/<seq>.npy              np.save of a dict (load with allow_pickle=True):
                                             coords     (N, T, 2) float, (x, y) pixels of the frames
                                             visibility (N, T) bool, **True = occluded** (Kubric's flag)

The loader inverts the flag, so samples carry ``visibility`` True = visible.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from cotracker.data.augment import AugmentConfig, apply_augmentations, center_crop
from cotracker.data.base import (
    IMAGE_SUFFIXES,
    atomic_write,
    read_rgb,
    require_dir,
    sample_track_indices,
    to_sample,
    write_image,
)
from cotracker.types import CoTrackerData

__all__ = ["KubricMovifDataset", "write_kubric_sequence", "read_kubric_sequence", "process_clip", "sample_window"]

log = logging.getLogger(__name__)


def write_kubric_sequence(
    data_root,
    name: str,
    frames: np.ndarray,
    coords: np.ndarray,
    occluded: np.ndarray,
    image_format: str = "png",
) -> Path:
    """Write one sequence in the Kubric MOVi-F layout.

    Args:
        data_root: the dataset folder (created if needed).
        name: sequence name (folder and ``.npy`` stem).
        frames: (T, H, W, 3) uint8 RGB.
        coords: (N, T, 2) float (x, y) pixels.
        occluded: (N, T) bool, True where the point is occluded (Kubric's ``visibility`` flag).
        image_format: "png" (lossless, default) or "jpg".

    Returns:
        The sequence folder.
    """
    frames = np.asarray(frames)
    coords = np.asarray(coords, np.float32)
    occluded = np.asarray(occluded, bool)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got shape {frames.shape}")
    T = frames.shape[0]
    if coords.ndim != 3 or coords.shape[1:] != (T, 2):
        raise ValueError(f"coords must be (N, T={T}, 2), got {coords.shape}")
    if occluded.shape != coords.shape[:2]:
        raise ValueError(f"occluded must be (N, T) = {coords.shape[:2]}, got {occluded.shape}")
    seq = Path(data_root) / name
    digits = max(3, len(str(T - 1)))
    for t, f in enumerate(frames):
        write_image(seq / "frames" / f"{t:0{digits}d}.{image_format}", f)
    payload = {"coords": coords, "visibility": occluded}
    atomic_write(seq / f"{name}.npy", lambda f: np.save(f, payload, allow_pickle=True))
    return seq


def _frame_files(seq_dir: Path) -> list[Path]:
    fdir = require_dir(seq_dir / "frames", f"Kubric frames of sequence '{seq_dir.name}'")
    files = sorted(p for p in fdir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no image files in {fdir}; expected frames such as 000.png")
    return files


def _load_annotations(npy: Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    if not npy.is_file():
        raise FileNotFoundError(f"Kubric annotation file not found: {npy} (expected <seq>/<seq>.npy)")
    try:
        data = np.load(npy, allow_pickle=True)
        data = data.item() if data.dtype == object and data.shape == () else data
    except (ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(f"cannot read Kubric annotations {npy}: {exc}; expected np.save of a dict") from None
    if not isinstance(data, dict) or "coords" not in data or "visibility" not in data:
        raise ValueError(f"{npy}: expected a pickled dict with keys 'coords' (N, T, 2) and 'visibility' (N, T)")
    coords = np.asarray(data["coords"], np.float32)
    occ = np.asarray(data["visibility"]).astype(bool)
    if coords.ndim != 3 or coords.shape[2] != 2:
        raise ValueError(f"{npy}: 'coords' must have shape (N, T, 2), got {coords.shape}")
    if occ.shape != coords.shape[:2]:
        raise ValueError(f"{npy}: 'visibility' must have shape (N, T) = {coords.shape[:2]}, got {occ.shape}")
    if coords.shape[1] != num_frames:
        raise ValueError(f"{npy}: tracks cover {coords.shape[1]} frames but the frames folder has {num_frames}")
    return coords, occ


def read_kubric_sequence(seq_dir, frame_indices: Optional[Sequence[int]] = None):
    """Read one Kubric sequence folder.

    Args:
        seq_dir: ``data_root/<seq>``.
        frame_indices: optional frames to read (all when None).

    Returns:
        (frames (T', H, W, 3) uint8, tracks (T', N, 2) float32, visible (T', N) bool).
    """
    seq_dir = require_dir(seq_dir, "Kubric sequence")
    files = _frame_files(seq_dir)
    coords, occ = _load_annotations(seq_dir / f"{seq_dir.name}.npy", len(files))
    idx = np.arange(len(files)) if frame_indices is None else np.asarray(frame_indices)
    frames = np.stack([read_rgb(files[i]) for i in idx])
    tracks = coords[:, idx].transpose(1, 0, 2)  # (T', N, 2)
    visible = ~occ[:, idx].T  # (T', N)
    return frames, np.ascontiguousarray(tracks), np.ascontiguousarray(visible)


def sample_window(rng: np.random.Generator, num_frames: int, seq_len: int, random_frame_rate: bool = False) -> slice:
    """The frames of one training sample: ``seq_len`` frames from ``num_frames``, consecutive or, with
    ``random_frame_rate``, every k-th for a random k in [1, num_frames // seq_len]; the start is uniform."""
    if not 1 <= seq_len <= num_frames:
        raise ValueError(f"seq_len must be in [1, {num_frames}] (the clip's frames), got {seq_len}")
    stride = int(rng.integers(1, max(1, num_frames // seq_len) + 1)) if random_frame_rate else 1
    span = (seq_len - 1) * stride + 1
    t0 = int(rng.integers(0, num_frames - span + 1))
    return slice(t0, t0 + span, stride)


def process_clip(
    frames: np.ndarray,
    tracks: np.ndarray,
    visible: np.ndarray,
    rng: np.random.Generator,
    crop_size: Sequence[int],
    seq_len: int,
    traj_per_sample: int,
    sample_vis_1st_frame: bool = False,
    use_augs: bool = False,
    aug_config: AugmentConfig = AugmentConfig(),
    seq_name: str = "",
    random_frame_rate: bool = False,
    windowed: bool = False,
) -> CoTrackerData:
    """Turn a full clip into a training sample (shared by the Kubric loader and the on-the-fly generator).

    Steps: a random ``seq_len`` window (with ``random_frame_rate``, every k-th frame for a random
    k in [1, T // seq_len], as CoTracker3's Kubric training does); augmentations (``use_augs``) or a plain random crop; track
    sampling among points visible in frame 0 (and frame ``seq_len // 2`` unless ``sample_vis_1st_frame``).
    When no track qualifies, a sample with ``valid`` all False and ``extra["gotit"] = False`` is returned.

    Args:
        frames: (T, H, W, 3) uint8/float; tracks: (T, N, 2); visible: (T, N) bool.
        windowed: the clip is already the window, chosen with :func:`sample_window` and this ``rng`` (so that a
            generator renders only those frames); ``rng`` then continues from there.

    Returns:
        CoTrackerData with video (seq_len, 3, *crop_size), trajectory (seq_len, traj_per_sample, 2).
    """
    T = frames.shape[0]
    if T < seq_len:
        raise ValueError(f"sequence '{seq_name}' has {T} frames, fewer than seq_len={seq_len}")
    if not windowed:
        window = sample_window(rng, T, seq_len, random_frame_rate)
        frames, tracks, visible = frames[window], tracks[window], visible[window]
    elif T != seq_len:
        raise ValueError(f"sequence '{seq_name}': windowed=True needs the window's {seq_len} frames, got {T}")
    if use_augs:
        clip = apply_augmentations(frames, tracks, visible, crop_size, rng, aug_config)
        frames, tracks, visible = clip.frames, clip.tracks, clip.visible
    else:
        frames, tracks, visible = center_crop(frames, tracks, visible, crop_size, rng)
    sample_frames = (0,) if sample_vis_1st_frame else (0, seq_len // 2)
    idx = sample_track_indices(visible, traj_per_sample, rng, sample_frames)
    if idx is None:
        log.warning("sequence '%s': no track visible at frames %s; returning an invalid sample", seq_name, sample_frames)
        z = np.zeros((seq_len, traj_per_sample), bool)
        return to_sample(frames, np.zeros((seq_len, traj_per_sample, 2), np.float32), z, valid=z,
                         seq_name=seq_name, extra={"gotit": False})
    return to_sample(frames, tracks[:, idx], visible[:, idx], seq_name=seq_name, extra={"gotit": True})


class KubricMovifDataset(torch.utils.data.Dataset):
    """Kubric MOVi-F point tracks for training (or any folder written by :func:`write_kubric_sequence`).

    Item ``i`` uses ``np.random.default_rng(seed + i)`` for its window, crop, augmentations and track
    choice: deterministic and DataLoader-worker safe.

    Args:
        data_root: folder with one sub-folder per sequence.
        crop_size: (H, W) of the returned clips.
        seq_len: frames per sample.
        traj_per_sample: tracks per sample.
        sample_vis_1st_frame: sample only tracks visible in the first frame.
        use_augs: photometric and spatial augmentations (:mod:`cotracker.data.augment`).
        seed: base seed.
        aug_config: augmentation parameters.
        random_frame_rate: take every k-th frame for a random k in [1, T // seq_len].
    """

    def __init__(
        self,
        data_root,
        crop_size: Sequence[int] = (384, 512),
        seq_len: int = 24,
        traj_per_sample: int = 768,
        sample_vis_1st_frame: bool = False,
        use_augs: bool = False,
        seed: int = 0,
        aug_config: AugmentConfig = AugmentConfig(),
        random_frame_rate: bool = False,
    ):
        self.random_frame_rate = random_frame_rate
        self.data_root = require_dir(data_root, "Kubric MOVi-F data root")
        self.seq_names = sorted(p.name for p in self.data_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not self.seq_names:
            raise FileNotFoundError(
                f"no sequence folders in {self.data_root}; expected <seq>/frames/*.png and <seq>/<seq>.npy"
            )
        if len(crop_size) != 2:
            raise ValueError(f"crop_size must be (H, W), got {crop_size}")
        self.crop_size = tuple(int(c) for c in crop_size)
        self.seq_len = seq_len
        self.traj_per_sample = traj_per_sample
        self.sample_vis_1st_frame = sample_vis_1st_frame
        self.use_augs = use_augs
        self.seed = seed
        self.aug_config = aug_config
        log.info("found %d sequences in %s", len(self.seq_names), self.data_root)

    def __len__(self) -> int:
        return len(self.seq_names)

    def __getitem__(self, index: int) -> CoTrackerData:
        name = self.seq_names[index]
        rng = np.random.default_rng(self.seed + index)
        frames, tracks, visible = read_kubric_sequence(self.data_root / name)
        return process_clip(
            frames, tracks, visible, rng, crop_size=self.crop_size, seq_len=self.seq_len,
            traj_per_sample=self.traj_per_sample, sample_vis_1st_frame=self.sample_vis_1st_frame,
            use_augs=self.use_augs, aug_config=self.aug_config, seq_name=name,
            random_frame_rate=self.random_frame_rate,
        )
