"""Checkpoint registry and strict loading of CoTracker2 weights.

Nothing is ever downloaded: Meta's files must be placed by hand (``./checkpoints/<file>``,
``$COTRACKER_HOME/<file>`` or ``~/.cache/cotracker/<file>``); our own weights ship inside the package
(``cotracker/weights/<name>.safetensors``, with the model config JSON in the safetensors metadata).

Formats read by :func:`load_state_dict_file`: ``.pth``/``.pt`` (a flat state dict, or ``{"model": sd}`` as
written by the official training loop), loaded with ``weights_only=True``; ``.safetensors``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
from torch import nn

from .models.config import TrackerConfig
from .models.cotracker2 import CoTracker2

__all__ = [
    "CheckpointEntry",
    "REGISTRY",
    "DEFAULT_CHECKPOINT",
    "DEFAULT_POSE_CHECKPOINT",
    "CONFIG_METADATA_KEY",
    "checkpoint_search_dirs",
    "resolve_checkpoint",
    "load_state_dict_file",
    "config_from_state_dict",
    "load_state_dict_strict",
    "save_checkpoint",
    "sha256_file",
    "build_cotracker",
    "load_checkpoint",
]

logger = logging.getLogger(__name__)

#: Key of the safetensors metadata entry holding ``TrackerConfig.to_dict()`` as JSON.
CONFIG_METADATA_KEY = "cotracker_config"
_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class CheckpointEntry:
    """A named checkpoint.

    Attributes:
        name: registry name (``cotracker2``, ...).
        filename: file name searched for (Meta's files) or shipped in ``cotracker/weights/``.
        sha256: expected hex digest, or None when not pinned.
        description: one line for listings.
        packaged: True for weights shipped inside the package, False for files the user provides.
    """

    name: str
    filename: str
    sha256: Optional[str]
    description: str
    packaged: bool = False


REGISTRY: dict[str, CheckpointEntry] = {
    e.name: e
    for e in [
        CheckpointEntry("cotracker2", "cotracker2.pth", None, "Meta's CoTracker2 (window 8), CC BY-NC; place it by hand"),
        CheckpointEntry("cotracker2v1", "cotracker2v1.pth", None, "Meta's CoTracker2.1 (window 16), CC BY-NC; place it by hand"),
        CheckpointEntry("cotracker2-synth", "cotracker2-synth.safetensors",
                        "32499e5b0879ee7f8801d06f9020f38f736ecd51b946fc525c38a5d92e53029f",
                        "our CoTracker2 trained on synthetic data (Apache-2.0, shipped)", packaged=True),
        CheckpointEntry("cotracker2-synth-pose", "cotracker2-synth-pose.safetensors",
                        "9edbf00b6aeb66e08e420025a92f85c61bcded2ac4a497429a8dd82c9c496192",
                        "our pose variant with keypoint embeddings (Apache-2.0, shipped)", packaged=True),
    ]
}
DEFAULT_CHECKPOINT = "cotracker2-synth"
#: default of :func:`cotracker.pose.track_pose` and ``cotracker track-pose`` (has the keypoint embedding)
DEFAULT_POSE_CHECKPOINT = "cotracker2-synth-pose"


def checkpoint_search_dirs() -> list[Path]:
    """Folders searched for user-provided checkpoints, in order."""
    dirs = [Path.cwd() / "checkpoints"]
    home = os.environ.get("COTRACKER_HOME")
    if home:
        dirs.append(Path(home).expanduser())
    dirs.append(Path.home() / ".cache" / "cotracker")
    return dirs


def resolve_checkpoint(name_or_path: PathLike) -> Path:
    """Find a checkpoint file from a registry name or a path.

    Raises:
        FileNotFoundError: saying where the file was looked for and where to put it (nothing is downloaded).
    """
    s = str(name_or_path)
    if s in REGISTRY:
        entry = REGISTRY[s]
        dirs = [_WEIGHTS_DIR] if entry.packaged else checkpoint_search_dirs()
        for d in dirs:
            p = d / entry.filename
            if p.is_file():
                return p
        where = ", ".join(str(d / entry.filename) for d in dirs)
        if entry.packaged:
            raise FileNotFoundError(
                f"checkpoint '{s}' ({entry.description}) is not installed: expected {where}. "
                "Nothing is downloaded; reinstall the package or pass a checkpoint path."
            )
        raise FileNotFoundError(
            f"checkpoint '{s}' ({entry.filename}) not found; looked in: {where}. Nothing is downloaded: "
            f"put {entry.filename} in ./checkpoints/, in $COTRACKER_HOME or in ~/.cache/cotracker/."
        )
    p = Path(s).expanduser()
    if p.is_file():
        return p
    if p.exists():
        raise FileNotFoundError(f"checkpoint path {p} is not a file")
    raise FileNotFoundError(
        f"checkpoint {s!r} is neither a file nor a registered name ({', '.join(sorted(REGISTRY))})"
    )


def sha256_file(path: PathLike) -> str:
    """Hex sha256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state_dict_file(path: PathLike) -> tuple[dict[str, torch.Tensor], Optional[TrackerConfig]]:
    """Read a checkpoint file into a CPU state dict (and our config, when the file carries one).

    Args:
        path: ``.pth``/``.pt`` (flat dict or ``{"model": sd}``) or ``.safetensors``.

    Returns:
        (state dict, TrackerConfig or None).

    Raises:
        FileNotFoundError: missing file.
        ValueError: not a checkpoint, unreadable, or an unknown extension.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        try:
            from safetensors import safe_open

            sd = {}
            with safe_open(str(p), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
                for k in f.keys():
                    sd[k] = f.get_tensor(k)
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"cannot read {p} as safetensors: {exc}") from exc
        config = None
        if CONFIG_METADATA_KEY in meta:
            try:
                config = TrackerConfig.from_dict(json.loads(meta[CONFIG_METADATA_KEY]))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise ValueError(f"{p} carries an invalid model config in its metadata: {exc}") from exc
        return sd, config
    if suffix in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            from .io.torchfiles import safe_torch_load  # noqa: PLC0415

            # weights_only=True plus numpy arrays (training checkpoints hold RNG states)
            obj = safe_torch_load(p, map_location="cpu")
        except Exception as exc:
            raise ValueError(
                f"cannot read {p} as a PyTorch checkpoint (torch.load with weights_only=True failed): {exc}"
            ) from exc
        config = None
        if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
            # our exported .pth files carry "cotracker_config"; training checkpoints (.ckpt) "model_config"
            cfg_key = next((k for k in (CONFIG_METADATA_KEY, "model_config") if isinstance(obj.get(k), Mapping)), None)
            if cfg_key is not None:
                try:
                    config = TrackerConfig.from_dict(obj[cfg_key])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{p} carries an invalid model config: {exc}") from exc
            obj = obj["model"]
        if not isinstance(obj, Mapping) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
        ):
            raise ValueError(
                f"{p} is not a checkpoint: expected a state dict (str -> Tensor) or {{'model': state_dict}}, "
                f"got {type(obj).__name__}"
            )
        return dict(obj), config
    raise ValueError(f"unknown checkpoint extension {p.suffix!r} for {p}; expected .pth, .pt or .safetensors")


def config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> TrackerConfig:
    """Infer the CoTracker2 config of a state dict (window length, keypoints, main sizes).

    Raises:
        ValueError: for another architecture (CoTracker3, unrelated weights).
    """
    if "corr_mlp.fc1.weight" in sd or "updateformer.vis_conf_head.weight" in sd:
        raise ValueError(
            "this checkpoint is a CoTracker3 model (it has corr_mlp / vis_conf_head weights), not CoTracker2; "
            "only CoTracker2 / 2.1 checkpoints (cotracker2.pth, cotracker2v1.pth) and our own are supported"
        )
    if "time_emb" not in sd or "fnet.conv1.weight" not in sd or "updateformer.input_transform.weight" not in sd:
        raise ValueError(
            "this state dict is not a CoTracker2 checkpoint (missing time_emb / fnet / updateformer keys)"
        )
    from .models.config import CorrelationConfig, EncoderConfig, TransformerConfig

    te = sd["time_emb"]
    window_len, input_dim = int(te.shape[1]), int(te.shape[2])
    latent = int(sd["fnet.conv3.weight"].shape[0])
    hidden = int(sd["updateformer.input_transform.weight"].shape[0])
    if sd["updateformer.input_transform.weight"].shape[1] != input_dim:
        raise ValueError("inconsistent checkpoint: input_transform width differs from time_emb width")
    time_depth = len({k.split(".")[2] for k in sd if k.startswith("updateformer.time_blocks.")})
    space_depth = len({k.split(".")[2] for k in sd if k.startswith("updateformer.space_virtual_blocks.")})
    num_virtual = int(sd["updateformer.virual_tracks"].shape[1])
    mlp_hidden = int(sd["updateformer.time_blocks.0.mlp.fc1.weight"].shape[0])
    encoder = EncoderConfig(
        in_channels=int(sd["fnet.conv1.weight"].shape[1]),
        stem_channels=int(sd["fnet.conv1.weight"].shape[0]),
        layer_channels=tuple(int(sd[f"fnet.layer{i}.0.conv1.weight"].shape[0]) for i in (2, 3, 4)),
        fuse_channels=int(sd["fnet.conv2.weight"].shape[0]),
    )
    num_keypoints = int(sd["kp_emb"].shape[0]) if "kp_emb" in sd else 0
    h, w = (int(x) for x in sd["pos_emb"].shape[-2:]) if "pos_emb" in sd else (96, 128)
    # The head count is not stored; keep the official 8 when it divides the width, else head_dim 48.
    heads = 8 if hidden % 8 == 0 and hidden >= 8 * 8 else max(1, hidden // 32)
    default = TrackerConfig()
    # The flow embedding and correlation sizes are not separable from input_dim; search the official family.
    rest = input_dim - latent - 2
    candidates = [
        (default.flow_emb_channels, default.correlation.levels, default.correlation.radius),
        (16, 4, 2),
    ]
    for fc, lv, rd in candidates:
        if 2 + 2 * fc + lv * (2 * rd + 1) ** 2 == rest:
            break
    else:
        raise ValueError(
            f"cannot infer flow-embedding / correlation sizes from input_dim {input_dim}; "
            "load this checkpoint with an explicit config"
        )
    return TrackerConfig(
        window_len=window_len,
        latent_dim=latent,
        model_resolution=(h * 4, w * 4),
        flow_emb_channels=fc,
        num_keypoints=num_keypoints,
        encoder=encoder,
        correlation=CorrelationConfig(levels=lv, radius=rd),
        transformer=TransformerConfig(
            hidden_size=hidden,
            num_heads=heads,
            time_depth=time_depth,
            space_depth=space_depth,
            mlp_ratio=mlp_hidden / hidden,
            num_virtual_tracks=num_virtual,
        ),
    )


def adapt_pos_emb(sd: dict, own: dict, source: Any = "the checkpoint") -> dict:
    """``sd`` with its ``pos_emb`` replaced by the model's when only the grid differs.

    ``pos_emb`` is a fixed sin-cos table over the feature grid of ``model_resolution``, not a learned weight
    (:func:`cotracker.models.embeddings.sincos_2d_grid`), so weights trained at one model resolution can be
    trained further at another (e.g. at the second pass's 384x512). The replacement happens only if the
    checkpoint's table is exactly that sin-cos table of its own grid; anything else is left for the strict load
    to refuse.
    """
    from cotracker.models.embeddings import sincos_2d_grid

    theirs, mine = sd.get("pos_emb"), own.get("pos_emb")
    if theirs is None or mine is None or tuple(theirs.shape) == tuple(mine.shape):
        return sd
    if theirs.dim() != 4 or theirs.shape[:2] != mine.shape[:2]:
        return sd
    table = sincos_2d_grid(int(theirs.shape[1]), (int(theirs.shape[2]), int(theirs.shape[3])))
    if not torch.allclose(theirs.float().cpu(), table, atol=1e-5):
        return sd
    logger.info("%s: pos_emb grid %s -> %s (a fixed sin-cos table for the configured model_resolution)",
                source, tuple(theirs.shape[2:]), tuple(mine.shape[2:]))
    return dict(sd, pos_emb=mine)


def load_state_dict_strict(model: nn.Module, sd: Mapping[str, torch.Tensor]) -> None:
    """``model.load_state_dict(sd, strict=True)`` with one clear ``ValueError`` listing every problem."""
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    mismatched = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing[:10]}{' ...' if len(missing) > 10 else ''}")
        if unexpected:
            parts.append(
                f"unexpected keys ({len(unexpected)}): {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
            )
        if mismatched:
            parts.append(f"shape mismatches ({len(mismatched)}): {mismatched[:10]}")
        raise ValueError("checkpoint does not match the model: " + "; ".join(parts))
    model.load_state_dict(sd, strict=True)


def save_checkpoint(model: CoTracker2, path: PathLike) -> str:
    """Save a model as ``.safetensors`` (config JSON in the metadata) or ``.pth``/``.pt``
    (``{"model": state_dict, "cotracker_config": config dict}``), atomically.

    Returns:
        The sha256 hex digest of the written file.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    from .io.atomic import atomic_path  # noqa: PLC0415

    with atomic_path(p) as tmp:
        if p.suffix.lower() in (".pth", ".pt"):
            # The official wrapped layout, plus our config (plain types, readable with weights_only=True).
            torch.save({"model": sd, CONFIG_METADATA_KEY: model.config.to_dict()}, tmp)
        else:
            # our own writer: the same weights and config give the same bytes (and sha256) on every export
            from .io.safetensors_file import safetensors_bytes  # noqa: PLC0415

            meta = {CONFIG_METADATA_KEY: json.dumps(model.config.to_dict()), "format": "pt"}
            tmp.write_bytes(safetensors_bytes(sd, meta))
        digest = sha256_file(tmp)
    return digest


def build_cotracker(
    checkpoint: Optional[PathLike] = None,
    config: Optional[TrackerConfig] = None,
    device: Optional[Union[str, torch.device]] = None,
) -> CoTracker2:
    """Build a CoTracker2 in eval mode, optionally loading weights strictly.

    Args:
        checkpoint: None (random weights), a registry name (see ``REGISTRY``) or a file path.
        config: the model config; by default the one stored in the file, else inferred from the weights,
            else :func:`cotracker.models.config.cotracker2`.
        device: where to put the model.

    Raises:
        FileNotFoundError: checkpoint not found.
        ValueError: unreadable file, another architecture, or keys/shapes that do not match.
    """
    if checkpoint is None:
        model = CoTracker2(config or TrackerConfig())
    else:
        path = resolve_checkpoint(checkpoint)
        entry = REGISTRY.get(str(checkpoint))
        if entry is not None and entry.sha256 is not None:
            digest = sha256_file(path)
            if digest != entry.sha256:
                raise ValueError(
                    f"checkpoint {path} has sha256 {digest}, expected {entry.sha256} for '{entry.name}'; "
                    "the file is corrupt or a different version"
                )
        sd, file_config = load_state_dict_file(path)
        if config is None:
            config = file_config or config_from_state_dict(sd)
        elif "corr_mlp.fc1.weight" in sd:
            config_from_state_dict(sd)  # raises the CoTracker3 message
        model = CoTracker2(config)
        load_state_dict_strict(model, sd)
        logger.info("loaded checkpoint %s", path)
    if device is not None:
        model = model.to(device)
    return model.eval()


def load_checkpoint(
    checkpoint: PathLike = DEFAULT_CHECKPOINT,
    config: Optional[TrackerConfig] = None,
    device: Optional[Union[str, torch.device]] = None,
) -> CoTracker2:
    """Like :func:`build_cotracker`, but a checkpoint is required (default: :data:`DEFAULT_CHECKPOINT`)."""
    return build_cotracker(checkpoint, config=config, device=device)
