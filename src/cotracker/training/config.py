"""Training configuration: dataclasses, YAML loading, ``key=value`` overrides, strict validation.

A config file mirrors :class:`TrainConfig`::

    name: kubric_only
    model: {preset: cotracker2, num_keypoints: 0}
    data:
      train:
        - {name: kubric, type: kubric, root: /data/kubric_movi_f, weight: 1.0}
      val: []
    loss: {normalization: per_track}
    optim: {lr: 5.0e-4}
    trainer: {num_steps: 50000, out_dir: runs/kubric_only}

Every key is checked: an unknown key is an error that names the section and lists the keys it accepts.
Overrides are dotted paths, list items by index: ``trainer.num_steps=100``, ``data.train.0.root=/x``.
Values are parsed as YAML (``1e-4``, ``true``, ``null``, ``[384, 512]``).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import yaml

__all__ = [
    "DATASET_TYPES",
    "OFFICIAL_DATASET_TYPES",
    "DatasetConfig",
    "EncoderPretrainConfig",
    "DataConfig",
    "ModelConfig",
    "LossConfig",
    "OptimConfig",
    "TrainerConfig",
    "TrainConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "check_data_paths",
    "resolve_config_path",
]

# dataset type -> whether it reads an official folder (True) or generates samples (False)
DATASET_TYPES = {"kubric": True, "posetrack": True, "synthetic_scene": False, "synthetic_people": False}
OFFICIAL_DATASET_TYPES = tuple(k for k, v in DATASET_TYPES.items() if v)
PRECISIONS = ("32-true", "bf16-mixed", "bf16-true", "16-mixed")


@dataclass
class DatasetConfig:
    """One data source.

    Attributes:
        type: ``kubric`` | ``posetrack`` (official folders, ``root`` required) or ``synthetic_scene`` |
            ``synthetic_people`` (generated on the fly, no ``root``).
        name: label used in logs (defaults to ``type``).
        root: folder of the official dataset.
        weight: sampling probability in a mixture (normalised over the entries).
        keypoint_ids: pass keypoint ids to the model for samples of this source (the keypoint embedding
            is then used "only on PoseTrack samples" when only the people source sets it).
        options: extra keyword arguments for the dataset class (e.g. ``split``, ``num_samples``).
    """

    type: str = "synthetic_scene"
    name: str = ""
    root: Optional[str] = None
    weight: float = 1.0
    keypoint_ids: bool = False
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.type not in DATASET_TYPES:
            raise ValueError(f"unknown dataset type {self.type!r}; expected one of {', '.join(DATASET_TYPES)}")
        if not self.name:
            self.name = self.type
        if self.weight < 0:
            raise ValueError(f"dataset {self.name!r}: weight must be >= 0, got {self.weight}")
        if DATASET_TYPES[self.type] and not self.root:
            raise ValueError(
                f"dataset {self.name!r} of type {self.type!r} needs 'root' (the official dataset folder); "
                f"set it in the config or with data.train.<i>.root=/path, or use a synthetic_* type"
            )


@dataclass
class DataConfig:
    """Data shared by all sources (every sample of a batch has the same shape).

    Attributes:
        train: training sources (mixed by their weights).
        val: held-out sources for periodic validation.
        crop_size: (H, W) of training clips, pixels.
        seq_len: T frames per clip.
        traj_per_sample: N tracks per clip.
        batch_size: clips per step per process.
        num_workers: data-loader worker processes per process.
        val_samples: clips evaluated per validation source.
    """

    train: list[DatasetConfig] = field(default_factory=lambda: [DatasetConfig()])
    val: list[DatasetConfig] = field(default_factory=list)
    crop_size: tuple[int, int] = (384, 512)
    seq_len: int = 24
    traj_per_sample: int = 768
    batch_size: int = 1
    num_workers: int = 2
    val_samples: int = 8

    def __post_init__(self):
        if not self.train:
            raise ValueError("data.train is empty; give at least one training source")
        if sum(d.weight for d in self.train) <= 0:
            raise ValueError("the weights of data.train sum to 0; give at least one source a positive weight")
        if len(self.crop_size) != 2 or min(self.crop_size) <= 0:
            raise ValueError(f"data.crop_size must be (H, W) > 0, got {self.crop_size}")
        for key in ("seq_len", "traj_per_sample", "batch_size", "val_samples"):
            if getattr(self, key) < 1:
                raise ValueError(f"data.{key} must be >= 1, got {getattr(self, key)}")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0, got {self.num_workers}")


@dataclass
class ModelConfig:
    """Which tracker to train.

    Attributes:
        preset: a :mod:`cotracker.models.config` preset name (``cotracker2``, ``cotracker2v1``, ``small``, ``tiny``).
        overrides: TrackerConfig fields to change (e.g. ``{window_len: 16}``).
        num_keypoints: 0 (keypoint embedding absent) or 17 (present).
        init_checkpoint: fine-tune from this checkpoint: a registered name or a path to a ``.pth`` (Meta's
            files too), ``.safetensors`` or one of our training ``.ckpt`` files (its weights only).
        freeze_vis_head: keep the visibility head fixed (fine-tuning).
        train_iters: refinement iterations during training.
        init_encoder: an ``encoder.safetensors`` (``fnet.*`` weights, written by the ``encoder_pretrain`` stage)
            loaded into the encoder after ``init_checkpoint``.
    """

    preset: str = "cotracker2"
    overrides: dict = field(default_factory=dict)
    num_keypoints: int = 0
    init_checkpoint: Optional[str] = None
    freeze_vis_head: bool = False
    train_iters: int = 4
    init_encoder: Optional[str] = None

    def __post_init__(self):
        from cotracker.models.config import PRESETS  # noqa: PLC0415

        if self.preset not in PRESETS:
            raise ValueError(f"model.preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.num_keypoints not in (0, 17):
            raise ValueError(f"model.num_keypoints must be 0 (embedding absent) or 17 (present), got {self.num_keypoints}")
        if self.train_iters < 1:
            raise ValueError(f"model.train_iters must be >= 1, got {self.train_iters}")


@dataclass
class LossConfig:
    """Loss weights and options (defaults: CoTracker2's objective).

    total = track_loss(gamma, huber_delta, visible_weight, occluded_weight)
            + vis_weight * balanced_vis_loss
            + continuity_weight * trajectory_continuity_loss     (keypoint tracks only)
            + bone_weight * bone_length_loss                      (keypoint tracks only)
            + occlusion_vis_weight * occlusion_aware_vis_loss     (keypoint tracks only)

    The pose terms apply to points with a keypoint id (``keypoint_ids >= 0``, i.e. sources with
    ``keypoint_ids: true``), on the last refinement iterate of each window, averaged over windows.

    Attributes:
        occluded_weight: None (CoTracker2: occluded points share the trajectory term) or a separate L1 weight
            for occluded points (CoTracker3 uses visible_weight 0.05, occluded_weight 0.01, huber_delta 6).
        normalization: ``per_track`` (CoTracker2: sum over windows / N; the default) or ``mean``
            (CoTracker3: mean over windows).
        query_random_fraction: share of tracks queried at a random visible frame.
    """

    gamma: float = 0.8
    huber_delta: Optional[float] = None
    visible_weight: float = 1.0
    occluded_weight: Optional[float] = None
    vis_weight: float = 10.0
    normalization: str = "per_track"
    continuity_weight: float = 0.0
    bone_weight: float = 0.0
    occlusion_vis_weight: float = 0.0
    query_random_fraction: float = 0.25

    def __post_init__(self):
        if self.normalization not in ("per_track", "mean"):
            raise ValueError(f"loss.normalization must be 'per_track' or 'mean', got {self.normalization!r}")
        if not 0.0 <= self.query_random_fraction <= 1.0:
            raise ValueError(f"loss.query_random_fraction must be in [0, 1], got {self.query_random_fraction}")


@dataclass
class OptimConfig:
    """AdamW with a one-cycle schedule over ``num_steps + schedule_extra_steps`` steps.

    Attributes:
        anneal: ``linear`` (CoTracker2) or ``cos`` (CoTracker3).
        clip_grad_norm: max gradient norm (0 or null disables clipping).
        accumulate: micro-batches per optimiser step.
    """

    lr: float = 5e-4
    weight_decay: float = 1e-5
    eps: float = 1e-8
    pct_start: float = 0.05
    anneal: str = "linear"
    schedule_extra_steps: int = 100
    clip_grad_norm: Optional[float] = 10.0
    accumulate: int = 1

    def __post_init__(self):
        if self.anneal not in ("linear", "cos"):
            raise ValueError(f"optim.anneal must be 'linear' or 'cos', got {self.anneal!r}")
        if self.accumulate < 1:
            raise ValueError(f"optim.accumulate must be >= 1, got {self.accumulate}")
        if self.lr <= 0:
            raise ValueError(f"optim.lr must be > 0, got {self.lr}")


@dataclass
class TrainerConfig:
    """Run length, hardware, precision, logging and checkpointing.

    Attributes:
        out_dir: run folder (checkpoints/, tensorboard/, log.jsonl, config.yaml).
        num_steps: optimiser steps.
        seed: base seed; rank ``r`` uses ``seed + r`` for its data.
        accelerator / devices / num_nodes / strategy: passed to Lightning Fabric.
        precision: ``32-true`` or ``bf16-mixed`` (also ``bf16-true``, ``16-mixed``).
        checkpoint_every: save every this many steps (and at the end).
        keep_last: checkpoints kept on disk.
        log_every: scalars every this many steps.
        val_every: validation every this many steps (0 = never).
        video_every: overlay images of predicted tracks in TensorBoard (0 = never).
        tensorboard: write TensorBoard event files.
        max_minutes: wall-clock budget of this process in minutes (0 = none): once spent, the run saves a
            checkpoint at the step it reached and stops; the same command resumes it (for machines lent for
            minutes at a time). The LR schedule still spans ``num_steps``.
    """

    out_dir: str = "runs/train"
    num_steps: int = 50000
    seed: int = 0
    accelerator: str = "auto"
    devices: Union[int, str] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    checkpoint_every: int = 1000
    keep_last: int = 3
    log_every: int = 10
    val_every: int = 0
    video_every: int = 0
    tensorboard: bool = True
    max_minutes: float = 0.0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision must be one of {PRECISIONS}, got {self.precision!r}")
        for key in ("num_steps", "checkpoint_every", "keep_last", "log_every", "num_nodes"):
            if getattr(self, key) < 1:
                raise ValueError(f"trainer.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("val_every", "video_every"):
            if getattr(self, key) < 0:
                raise ValueError(f"trainer.{key} must be >= 0, got {getattr(self, key)}")
        if not self.max_minutes >= 0:
            raise ValueError(f"trainer.max_minutes must be >= 0 (0 = no limit), got {self.max_minutes}")


@dataclass
class EncoderPretrainConfig:
    """Optional first stage: contrastive correspondence pretraining of the CNN encoder (``fnet``).

    Before the tracker is trained, the encoder alone learns features whose dot product finds the ground-truth
    correspondence of a track over the whole feature map of another frame (a softmax over all cells, cross-entropy
    on the cell of the true position). It costs a fraction of a tracker step and gives the correlation volume
    informative features from the start; see :mod:`cotracker.training.encoder_pretrain`.

    Attributes:
        steps: pretraining steps (0 disables the stage).
        lr: peak learning rate (one-cycle, cosine).
        temperature: softmax temperature on cosine similarities.
        frames_per_sample: frames of each clip encoded per step (a reference frame and the others as targets).
    """

    steps: int = 0
    lr: float = 1e-3
    temperature: float = 0.1
    frames_per_sample: int = 4

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError(f"encoder_pretrain.steps must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"encoder_pretrain.lr must be > 0, got {self.lr}")
        if not self.temperature > 0:
            raise ValueError(f"encoder_pretrain.temperature must be > 0, got {self.temperature}")
        if self.frames_per_sample < 2:
            raise ValueError(f"encoder_pretrain.frames_per_sample must be >= 2, got {self.frames_per_sample}")


@dataclass
class TrainConfig:
    """A whole training run."""

    name: str = "train"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    encoder_pretrain: EncoderPretrainConfig = field(default_factory=EncoderPretrainConfig)


# ---------------------------------------------------------------------------------------------- conversion


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check/convert a YAML value to the annotated type ``tp``; ``where`` names the key in errors."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a mapping of {tp.__name__} fields, got {type(value).__name__} {value!r}")
        return _from_dict(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        return [_convert(v, args[0], f"{where}.{i}") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise TypeError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, f"{where}.{i}") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{where}: expected true or false, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp}")  # pragma: no cover


def _from_dict(cls: type, data: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        section = where or "top level"
        raise ValueError(
            f"unknown config key(s) {', '.join(repr(f'{where}.{k}' if where else k) for k in unknown)} in {section}; "
            f"valid keys there: {', '.join(names)}"
        )
    kwargs = {}
    for name in names:
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where + ': ' if where else ''}{exc}") from None


def config_from_dict(data: dict) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from nested dicts (unknown keys are errors)."""
    if not isinstance(data, dict):
        raise TypeError(f"a training config must be a mapping at the top level, got {type(data).__name__}")
    return _from_dict(TrainConfig, data, "")


def config_to_dict(cfg: Any) -> Any:
    """Plain nested dicts/lists (tuples become lists) for YAML / checkpoints."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    return cfg


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Apply ``dotted.key=value`` overrides to nested dicts (in place; also returned).

    List items are addressed by index (``data.train.0.root=/x``); values are parsed as YAML.
    Unknown keys are caught later by :func:`config_from_dict`.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. trainer.num_steps=100)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise ValueError(f"override {item!r}: cannot parse value {raw!r}: {exc}") from None
        parts = key.strip().split(".")
        if not all(parts):
            raise ValueError(f"override {item!r}: empty key component")
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            node = _step_into(node, part, ".".join(parts[: i + 1]), item)
        last = parts[-1]
        if isinstance(node, list):
            idx = _index(node, last, key, item)
            node[idx] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ValueError(f"override {item!r}: {'.'.join(parts[:-1])} is a value, not a section")
    return data


def _index(node: list, part: str, path: str, item: str) -> int:
    try:
        idx = int(part)
    except ValueError:
        raise ValueError(f"override {item!r}: {path} indexes a list; use a number (e.g. data.train.0.root)") from None
    if not -len(node) <= idx < len(node):
        raise ValueError(f"override {item!r}: index {idx} out of range for a list of {len(node)} entries")
    return idx


def _step_into(node: Any, part: str, path: str, item: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path, item)]
    if isinstance(node, dict):
        if node.get(part) is None:
            node[part] = {}
        return node[part]
    raise ValueError(f"override {item!r}: cannot descend into {path}, it is a value")


def resolve_config_path(name_or_path: Union[str, Path]) -> Path:
    """A config file path, or the name of a preset in the repository's ``configs/train`` folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    presets = Path(__file__).resolve().parents[3] / "configs" / "train"
    candidate = presets / f"{path.stem if path.suffix in ('.yaml', '.yml') else path.name}.yaml"
    if path.parent == Path(".") and candidate.is_file():
        return candidate
    known = sorted(p.stem for p in presets.glob("*.yaml")) if presets.is_dir() else []
    raise FileNotFoundError(
        f"training config {str(name_or_path)!r} not found; give a YAML file path"
        + (f" or one of the presets: {', '.join(known)}" if known else "")
    )


def load_config(path: Union[str, Path], overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (path or preset name), apply ``key=value`` overrides, validate.

    Raises:
        FileNotFoundError: no such file / preset.
        ValueError: unknown keys, bad values, malformed overrides.
        TypeError: a value of the wrong type.
    """
    path = resolve_config_path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    apply_overrides(data, overrides)
    try:
        return config_from_dict(data)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def check_data_paths(cfg: TrainConfig) -> None:
    """Fail early when an official dataset folder or the fine-tuning checkpoint does not exist."""
    for section, entries in (("data.train", cfg.data.train), ("data.val", cfg.data.val)):
        for i, d in enumerate(entries):
            if d.root is not None and not Path(d.root).expanduser().is_dir():
                raise FileNotFoundError(
                    f"{section}.{i} ({d.name!r}, type {d.type}): dataset folder {d.root!r} does not exist; "
                    f"fix it with {section}.{i}.root=/path/to/{d.type} or use a synthetic_* source"
                )
