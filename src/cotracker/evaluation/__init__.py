"""Evaluation: metrics as pure functions, baselines, the evaluation harness and reports.

``from cotracker.evaluation import compute_tapvid_metrics`` gives the TAP-Vid metrics with the reference
signature; :func:`evaluate` runs any :class:`Tracker` over a benchmark (``cotracker evaluate``), and
:mod:`cotracker.evaluation.report` writes tables and plots (``cotracker report``).
"""
from __future__ import annotations

from cotracker.evaluation.badja import (
    BadjaConfig,
    BadjaSequence,
    badja_queries,
    compute_badja_pck,
    load_badja_sequence,
    read_badja_annotations,
)
from cotracker.evaluation.baselines import LKConfig, LucasKanadeTracker, PredictorTracker, StaticTracker, Tracker
from cotracker.evaluation.evaluator import DATASETS, EvalConfig, EvalResult, SyntheticEvalConfig, VideoResult, evaluate
from cotracker.evaluation.metrics import (
    TAPVID_THRESHOLDS,
    compute_dynamic_replica_metrics,
    compute_tapvid_metrics,
    mean_over_videos,
)
from cotracker.evaluation.pose_metrics import (
    bbox_size,
    head_size,
    object_keypoint_similarity,
    pck,
    temporal_consistency,
    torso_size,
)
from cotracker.evaluation.report import write_results

__all__ = [
    "compute_tapvid_metrics",
    "compute_dynamic_replica_metrics",
    "mean_over_videos",
    "TAPVID_THRESHOLDS",
    "pck",
    "bbox_size",
    "torso_size",
    "head_size",
    "object_keypoint_similarity",
    "temporal_consistency",
    "BadjaConfig",
    "BadjaSequence",
    "read_badja_annotations",
    "load_badja_sequence",
    "badja_queries",
    "compute_badja_pck",
    "Tracker",
    "StaticTracker",
    "PredictorTracker",
    "LKConfig",
    "LucasKanadeTracker",
    "DATASETS",
    "EvalConfig",
    "SyntheticEvalConfig",
    "EvalResult",
    "VideoResult",
    "evaluate",
    "write_results",
    "make_tracker",
]


def make_tracker(
    tracker: str | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
    backward_tracking: bool = False,
    **predictor_kwargs,
):
    """A :class:`Tracker` by name: ``"lk"``, ``"static"``, or a CoTracker predictor for ``checkpoint``.

    Args:
        tracker: ``"lk"`` or ``"static"`` for a baseline; None to load ``checkpoint``.
        checkpoint: weights path or registry name (see :mod:`cotracker.hub`).
        device: device of the model.
        backward_tracking: the model also tracks backwards from each query frame (the baselines always do
            what they do: LK tracks both ways, static points do not move).
        predictor_kwargs: passed to :class:`cotracker.predictor.CoTrackerPredictor`.
    """
    if tracker is not None and checkpoint is not None:
        raise ValueError("give either a baseline tracker (--tracker lk|static) or a --checkpoint, not both")
    if tracker == "static":
        return StaticTracker()
    if tracker == "lk":
        return LucasKanadeTracker()
    if tracker is not None:
        raise ValueError(f"unknown baseline tracker {tracker!r}; expected 'lk' or 'static'")
    from cotracker.predictor import CoTrackerPredictor  # noqa: PLC0415

    predictor = CoTrackerPredictor(checkpoint=checkpoint, device=device, **predictor_kwargs)
    predictor.eval()
    name = "cotracker" if checkpoint is None else str(checkpoint)
    return PredictorTracker(predictor, backward_tracking=backward_tracking, name=name)
