"""Training checkpoints: atomic writes, discovery of the latest one, pruning, RNG state.

A training checkpoint is a ``torch.save`` dict::

    {"format": "cotracker-train/1", "step": int, "model": state_dict, "optimizer": ..., "scheduler": ...,
     "train_config": dict, "model_config": dict, "rng": {...}}

stored as ``<run>/checkpoints/step_00001000.ckpt``. Files are written to a temporary name in the same
folder and moved into place with ``os.replace``, so a crash never leaves a half-written checkpoint under
a final name; the latest complete one is what a restarted run resumes from.
"""
from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from cotracker.io.atomic import atomic_path
from cotracker.io.torchfiles import safe_torch_load

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_path",
    "list_checkpoints",
    "latest_checkpoint",
    "save_checkpoint_atomic",
    "load_training_checkpoint",
    "prune_checkpoints",
    "capture_rng_state",
    "restore_rng_state",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "cotracker-train/1"
_NAME = re.compile(r"^step_(\d+)\.ckpt$")
PathLike = Union[str, os.PathLike]


def checkpoint_path(folder: PathLike, step: int) -> Path:
    """``folder/step_{step:08d}.ckpt``."""
    return Path(folder) / f"step_{step:08d}.ckpt"


def list_checkpoints(folder: PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``folder`` as ``(step, path)``, oldest first (temporary files are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(folder: PathLike) -> Optional[Path]:
    """The checkpoint with the highest step in ``folder``, or None."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_checkpoint_atomic(state: dict, path: PathLike) -> Path:
    """``torch.save(state)`` to a temporary file beside ``path``, then ``os.replace`` onto it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    logger.info("saved checkpoint %s", path)
    return path


def load_training_checkpoint(path: PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint_atomic` and check its format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training checkpoint {path} does not exist")
    state = safe_torch_load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a cotracker training checkpoint (format {CHECKPOINT_FORMAT!r}); "
            "to start from model weights use model.init_checkpoint instead"
        )
    return state


def prune_checkpoints(folder: PathLike, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints; returns the deleted paths."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    found = list_checkpoints(folder)
    removed = []
    for _, p in found[:-keep_last]:
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def capture_rng_state() -> dict:
    """The global RNG states of Python, NumPy, torch (CPU and CUDA)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Restore what :func:`capture_rng_state` returned (missing entries are skipped)."""
    if "python" in state:
        random.setstate(state["python"])
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
