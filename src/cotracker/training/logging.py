"""Training logs: a JSONL file of ``{"step", "loss", ...}`` records and optional TensorBoard events.

The JSONL log (``<run>/log.jsonl``) holds one JSON object per line, each with at least ``step`` and
``kind`` (``"train"``, ``"val"``, ``"end"``); train records carry ``loss``, the loss terms, ``lr`` and
``grad_norm``. ``cotracker report`` plots it. Only rank 0 writes.
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from cotracker.io.atomic import atomic_write

__all__ = ["JsonlLogger", "read_jsonl", "TensorBoardLogger"]

logger = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_jsonl(path: Union[str, os.PathLike]) -> list[dict]:
    """All records of a JSONL log (a torn last line is skipped)."""
    records = []
    path = Path(path)
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("skipping a malformed line in %s", path)
    return records


class JsonlLogger:
    """Append-only JSONL log.

    Args:
        path: the log file.
        resume_step: when resuming from a checkpoint at this step, records of later steps (written
            after that checkpoint by the interrupted run) are dropped first, so the log never holds two
            records for one step. None starts a fresh log (an existing file is replaced).
        enabled: False on ranks other than 0.
    """

    def __init__(self, path: Union[str, os.PathLike], resume_step: Optional[int] = None, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_jsonl(self.path) if r.get("step", -1) <= resume_step] if resume_step is not None else []
        with atomic_write(self.path) as fh:
            for r in kept:
                fh.write(json.dumps(r) + "\n")

    def log(self, record: dict) -> None:
        """Append one record (tensors and numpy scalars become numbers)."""
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_plain(record)) + "\n")
            fh.flush()


class TensorBoardLogger:
    """Thin wrapper around ``torch.utils.tensorboard.SummaryWriter`` (imported lazily); no-op when disabled."""

    def __init__(self, log_dir: Union[str, os.PathLike], enabled: bool = True):
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is in the train extra
            logger.warning("tensorboard is not installed; pip install 'cotracker[train]' to get TensorBoard logs")
            return
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, values: dict, step: int, prefix: str = "") -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            v = _plain(v)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"{prefix}{k}", v, step)

    def frames(self, tag: str, frames: np.ndarray, step: int) -> None:
        """Log a short clip as a strip of images (``add_video`` would need moviepy).

        Args:
            frames: (T, H, W, 3) uint8.
        """
        if self.writer is None:
            return
        self.writer.add_images(tag, np.ascontiguousarray(frames), step, dataformats="NHWC")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
