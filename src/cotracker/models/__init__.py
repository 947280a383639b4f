"""The CoTracker2 network: configs, building blocks and the sliding-window tracker."""
# The submodule ``cotracker2`` is imported first so that the preset function of the same name,
# imported next, is what ``cotracker.models.cotracker2`` refers to.
from .cotracker2 import CoTracker2, StreamState, TrackerOutput, TrainData  # noqa: I001
from .config import CorrelationConfig, EncoderConfig, TrackerConfig, TransformerConfig, cotracker2, cotracker2v1, tiny

__all__ = [
    "CoTracker2",
    "StreamState",
    "TrackerOutput",
    "TrainData",
    "TrackerConfig",
    "EncoderConfig",
    "CorrelationConfig",
    "TransformerConfig",
    "cotracker2",
    "cotracker2v1",
    "tiny",
]
