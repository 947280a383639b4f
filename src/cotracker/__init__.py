"""cotracker: fast, open point tracking (CoTracker2-compatible), with pose tracking, training and evaluation.

Public names are imported lazily so that ``import cotracker`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "CoTrackerPredictor": "cotracker.predictor",
    "CoTrackerOnlinePredictor": "cotracker.predictor",
    "TrackResult": "cotracker.types",
    "CoTrackerData": "cotracker.types",
    "build_cotracker": "cotracker.hub",
    "load_checkpoint": "cotracker.hub",
    "track_video": "cotracker.api",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cotracker' has no attribute {name!r}")
