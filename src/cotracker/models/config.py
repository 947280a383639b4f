"""Frozen configuration dataclasses of the CoTracker2 model, with derived sizes as properties.

The defaults reproduce Meta's CoTracker2 (``cotracker2.pth``, window 8). Presets:
:func:`cotracker2`, :func:`cotracker2v1` (window 16) and :func:`tiny` (small sizes for tests).
Every config round-trips through :meth:`TrackerConfig.to_dict` / :meth:`TrackerConfig.from_dict`
(plain JSON types); unknown keys raise ``ValueError``.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from cotracker.polish import PolishConfig

__all__ = [
    "EncoderConfig",
    "CorrelationConfig",
    "TransformerConfig",
    "TrackerConfig",
    "cotracker2",
    "cotracker2v1",
    "small",
    "tiny",
    "PRESETS",
]


@dataclass(frozen=True)
class EncoderConfig:
    """The stride-4 CNN feature encoder (``BasicEncoder``).

    Attributes:
        in_channels: image channels (RGB = 3).
        stem_channels: output channels of the 7x7 stem conv and of ``layer1``.
        layer_channels: output channels of ``layer2``, ``layer3``, ``layer4``.
        fuse_channels: output channels of the 3x3 fusion conv (``conv2``) before the 1x1 projection.
        stride: total downsampling of the output map (the four scales are resized to ``H // stride``).
    """

    in_channels: int = 3
    stem_channels: int = 64
    layer_channels: tuple[int, int, int] = (96, 128, 128)
    fuse_channels: int = 256
    stride: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer_channels", tuple(int(c) for c in self.layer_channels))
        if len(self.layer_channels) != 3:
            raise ValueError(f"EncoderConfig.layer_channels needs 3 values, got {self.layer_channels}")
        if self.stride != 4:
            raise ValueError(f"EncoderConfig.stride must be 4 (the architecture downsamples by 4), got {self.stride}")

    @property
    def concat_channels(self) -> int:
        """Channels of the concatenated multi-scale map (64 + 96 + 128 + 128 = 416 by default)."""
        return self.stem_channels + sum(self.layer_channels)


@dataclass(frozen=True)
class CorrelationConfig:
    """Correlation pyramid: ``levels`` avg-pooled scales, a ``(2r+1) x (2r+1)`` neighbourhood each."""

    levels: int = 4
    radius: int = 3

    def __post_init__(self) -> None:
        if self.levels < 1 or self.radius < 0:
            raise ValueError(f"CorrelationConfig needs levels >= 1 and radius >= 0, got {self.levels}, {self.radius}")

    @property
    def window_size(self) -> int:
        """Side of the sampled neighbourhood, ``2r + 1`` (7)."""
        return 2 * self.radius + 1

    @property
    def dim(self) -> int:
        """Correlation values per point and frame, ``levels * (2r+1)^2`` (196)."""
        return self.levels * self.window_size**2


@dataclass(frozen=True)
class TransformerConfig:
    """The ``EfficientUpdateFormer``: time attention, and space attention through virtual tracks."""

    hidden_size: int = 384
    num_heads: int = 8
    time_depth: int = 6
    space_depth: int = 6
    mlp_ratio: float = 4.0
    num_virtual_tracks: int = 64

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"TransformerConfig.hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.space_depth < 1 or self.time_depth < 1 or self.time_depth % self.space_depth:
            raise ValueError(
                f"TransformerConfig needs time_depth a positive multiple of space_depth >= 1, "
                f"got time_depth={self.time_depth}, space_depth={self.space_depth}"
            )
        if self.num_virtual_tracks < 1:
            raise ValueError(f"TransformerConfig.num_virtual_tracks must be >= 1, got {self.num_virtual_tracks}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)


@dataclass(frozen=True)
class TrackerConfig:
    """The whole CoTracker2 model.

    Attributes:
        window_len: sliding-window length S (8 for CoTracker2, 16 for 2.1); fixes ``time_emb``'s length.
        stride: feature-map stride; feature column ``i`` is model pixel ``x = stride * i``.
        latent_dim: feature / track-feature channels (128).
        model_resolution: ``(H, W)`` the model runs at, in pixels (384, 512); fixes ``pos_emb``'s grid.
        flow_emb_channels: sin/cos channels per axis of the flow embedding (64, giving 130 dims).
        num_keypoints: 0 for the plain tracker; 17 adds the learnable pose ``kp_emb``.
        encoder, correlation, transformer: sub-configs.
        vis_threshold: the visibility threshold calibrated for these weights (stored with our shipped files), used
            by the predictors when the caller gives none; None = the predictors' official defaults (0.9 / 0.6).
        inference_iters: refinement iterations per window chosen for these weights, used by the predictors when
            the caller gives none; None = the official 6.
        refine_resolution: ``(H, W)`` of a second, coarse-to-fine pass the predictors run by default for these
            weights (each window re-tracked at this resolution, initialised from the first pass); None = no
            second pass (the official behaviour).
        flip_ensemble: whether the predictors track by default with a flip ensemble for these weights: the video
            also mirrored left-right and upside-down, each tracked alone, then the per-coordinate median of the
            three tracks and the mean of their visibilities (3x the time); False = one tracker (official).
        feedback: whether the predictors hand the final positions of each window (the second pass's, the
            ensemble's median) back to every pass's streaming state, so that the next window of every pass starts
            from them instead of from its own tracks; no extra cost. False = each pass hands off its own (official).
        local_grid_size: points per side of the grid of extra points the predictors track by default around every
            explicit query for these weights (``CoTrackerPredictor(local_grid_size=...)``); 0 = none (official).
        local_grid_extent: side of those grids, a fraction of the model-resolution width.
        polish: settings of the Lucas-Kanade polish the predictors apply by default to these weights' final tracks
            (:mod:`cotracker.polish`); None = none (official).
    """

    window_len: int = 8
    stride: int = 4
    latent_dim: int = 128
    model_resolution: tuple[int, int] = (384, 512)
    flow_emb_channels: int = 64
    num_keypoints: int = 0
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    vis_threshold: Optional[float] = None
    inference_iters: Optional[int] = None
    refine_resolution: Optional[tuple[int, int]] = None
    flip_ensemble: bool = False
    feedback: bool = False
    local_grid_size: int = 0
    local_grid_extent: float = 0.1
    polish: Optional[PolishConfig] = None

    def __post_init__(self) -> None:
        if self.vis_threshold is not None and not 0.0 <= float(self.vis_threshold) <= 1.0:
            raise ValueError(f"TrackerConfig.vis_threshold must be a probability in [0, 1] or None, got {self.vis_threshold}")
        if self.inference_iters is not None and (
            isinstance(self.inference_iters, bool) or not isinstance(self.inference_iters, int) or self.inference_iters < 1
        ):
            raise ValueError(f"TrackerConfig.inference_iters must be a positive int or None, got {self.inference_iters!r}")
        if self.polish is not None and not isinstance(self.polish, PolishConfig):
            raise ValueError(f"TrackerConfig.polish must be None or a PolishConfig, got {self.polish!r}")
        for name in ("flip_ensemble", "feedback"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrackerConfig.{name} must be True or False, got {getattr(self, name)!r}")
        size, extent = check_local_grid(self.local_grid_size, self.local_grid_extent,
                                        ("TrackerConfig.local_grid_size", "TrackerConfig.local_grid_extent"))
        object.__setattr__(self, "local_grid_size", size)
        object.__setattr__(self, "local_grid_extent", extent)
        if self.refine_resolution is not None:
            if not is_valid_resolution(self.refine_resolution, self.stride):
                raise ValueError(
                    f"TrackerConfig.refine_resolution must be None or (H, W), each a multiple of the stride "
                    f"{self.stride} and >= 32, got {self.refine_resolution!r}"
                )
            object.__setattr__(self, "refine_resolution", tuple(int(v) for v in self.refine_resolution))
        object.__setattr__(self, "model_resolution", tuple(int(v) for v in self.model_resolution))
        if self.window_len < 2 or self.window_len % 2:
            raise ValueError(f"TrackerConfig.window_len must be an even number >= 2, got {self.window_len}")
        if self.stride != self.encoder.stride:
            raise ValueError(f"TrackerConfig.stride ({self.stride}) must equal encoder.stride ({self.encoder.stride})")
        H, W = self.model_resolution
        if len(self.model_resolution) != 2 or H % self.stride or W % self.stride:
            raise ValueError(
                f"TrackerConfig.model_resolution must be (H, W) divisible by stride {self.stride}, got {self.model_resolution}"
            )
        if self.flow_emb_channels % 2:
            raise ValueError(f"TrackerConfig.flow_emb_channels must be even, got {self.flow_emb_channels}")
        if self.input_dim % 4:
            raise ValueError(f"input_dim ({self.input_dim}) must be divisible by 4 for the 2D sin-cos pos_emb")
        if self.num_keypoints < 0:
            raise ValueError(f"TrackerConfig.num_keypoints must be >= 0, got {self.num_keypoints}")

    # ----- derived sizes -------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """Sliding-window hop, ``window_len // 2``."""
        return self.window_len // 2

    @property
    def overlap(self) -> int:
        """Frames shared by consecutive windows, ``window_len - step``."""
        return self.window_len - self.step

    @property
    def flow_emb_dim(self) -> int:
        """Flow embedding width: ``(dx, dy)`` plus sin/cos of each (130)."""
        return 2 + 2 * self.flow_emb_channels

    @property
    def corr_dim(self) -> int:
        """Correlation features per point and frame (196)."""
        return self.correlation.dim

    @property
    def input_dim(self) -> int:
        """Transformer input width: flow emb + corr + track feature + (track_mask, vis) = 456."""
        return self.flow_emb_dim + self.corr_dim + self.latent_dim + 2

    @property
    def output_dim(self) -> int:
        """Transformer output width: ``(dx, dy)`` + track-feature delta (130)."""
        return 2 + self.latent_dim

    @property
    def feature_hw(self) -> tuple[int, int]:
        """Feature grid ``(h, w)`` of the model resolution (96, 128)."""
        return self.model_resolution[0] // self.stride, self.model_resolution[1] // self.stride

    # ----- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable nested dict (tuples become lists)."""

        def conv(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, tuple):
                return [conv(x) for x in v]
            return v

        return conv(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrackerConfig":
        """Inverse of :meth:`to_dict`. Missing keys take defaults; unknown keys raise ``ValueError``."""
        subs = {"encoder": EncoderConfig, "correlation": CorrelationConfig, "transformer": TransformerConfig,
                "polish": PolishConfig}
        if not isinstance(data, Mapping):
            raise ValueError(f"TrackerConfig.from_dict expects a mapping, got {type(data).__name__}")
        kwargs = dict(_check_keys(cls, data, "TrackerConfig"))
        for name, sub_cls in subs.items():
            if name in kwargs:
                sub = kwargs[name]
                if isinstance(sub, sub_cls) or (sub is None and name == "polish"):
                    continue
                if not isinstance(sub, Mapping):
                    raise ValueError(f"TrackerConfig.{name} must be a mapping, got {type(sub).__name__}")
                kwargs[name] = sub_cls(**_check_keys(sub_cls, sub, f"TrackerConfig.{name}"))
        return cls(**kwargs)

    def replace(self, **changes: Any) -> "TrackerConfig":
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def check_local_grid(size: Any, extent: Any, names: tuple[str, str] = ("local_grid_size", "local_grid_extent")
                     ) -> tuple[int, float]:
    """The local-grid settings (points per side, side as a fraction of the model-resolution width), checked: one
    rule for the weights' config, the predictors and the command line (``names`` are the names the errors use)."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0 or size == 1:
        raise ValueError(f"{names[0]} must be 0 (no local grid) or at least 2 (e.g. 3: 9 points per query), "
                         f"got {size!r}")
    if isinstance(extent, bool) or not isinstance(extent, numbers.Real) or not 0.0 < float(extent) <= 1.0:
        raise ValueError(f"{names[1]} is the side of each query's local grid as a fraction of the model-resolution "
                         f"width, in (0, 1] (e.g. 0.1), got {extent!r}")
    return int(size), float(extent)


def is_valid_resolution(value: Any, stride: int) -> bool:
    """Whether ``value`` is an ``(H, W)`` pair of ints, each a multiple of ``stride`` and at least 32."""
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 32 and v % stride == 0 for v in value
    )


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where}; expected a subset of {sorted(known)}")
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}


def cotracker2(window_len: int = 8, num_keypoints: int = 0) -> TrackerConfig:
    """Meta's CoTracker2 (``cotracker2.pth``): window 8, 45,458,787 parameters."""
    return TrackerConfig(window_len=window_len, num_keypoints=num_keypoints)


def cotracker2v1(num_keypoints: int = 0) -> TrackerConfig:
    """CoTracker 2.1 (``cotracker2v1.pth``): the same network with window 16."""
    return TrackerConfig(window_len=16, num_keypoints=num_keypoints)


def tiny(window_len: int = 8, num_keypoints: int = 0) -> TrackerConfig:
    """A very small model for fast tests: 64 x 96 input, latent 32, correlation radius 2, flow channels 16,
    hidden 64 with 2 heads, one block of each kind, 8 virtual tracks (input_dim 168)."""
    return TrackerConfig(
        window_len=window_len,
        latent_dim=32,
        model_resolution=(64, 96),
        flow_emb_channels=16,
        num_keypoints=num_keypoints,
        encoder=EncoderConfig(stem_channels=8, layer_channels=(12, 16, 16), fuse_channels=32),
        correlation=CorrelationConfig(levels=4, radius=2),
        transformer=TransformerConfig(
            hidden_size=64, num_heads=2, time_depth=1, space_depth=1, mlp_ratio=2.0, num_virtual_tracks=8
        ),
    )


def small(window_len: int = 8, num_keypoints: int = 0) -> TrackerConfig:
    """The architecture of CoTracker2 at a size that trains on a CPU or a single GPU in hours.

    192 x 256 model resolution (feature grid 48 x 64), latent 64, the full 4-level radius-3 correlation,
    flow channels 32 (input_dim 328), transformer hidden 128 with 4 heads, 3 time and 3 space layers and
    32 virtual tracks: 3.09 M parameters (Meta's CoTracker2: 45.5 M). Our shipped weights use it.
    """
    return TrackerConfig(
        window_len=window_len,
        latent_dim=64,
        model_resolution=(192, 256),
        flow_emb_channels=32,
        num_keypoints=num_keypoints,
        encoder=EncoderConfig(stem_channels=32, layer_channels=(48, 64, 64), fuse_channels=128),
        correlation=CorrelationConfig(levels=4, radius=3),
        transformer=TransformerConfig(
            hidden_size=128, num_heads=4, time_depth=3, space_depth=3, mlp_ratio=4.0, num_virtual_tracks=32
        ),
    )


PRESETS = {"cotracker2": cotracker2, "cotracker2v1": cotracker2v1, "small": small, "tiny": tiny}
