"""Training and fine-tuning: losses, configs, the Lightning Fabric loop, checkpoints and logs.

Light modules (losses, config, queries, checkpointing) import only torch/yaml; :func:`train` imports
Lightning Fabric on first use (``pip install 'cotracker[train]'``).
"""
from cotracker.training.config import TrainConfig, load_config
from cotracker.training.losses import balanced_vis_loss, sequence_loss, track_loss
from cotracker.training.pose_losses import bone_length_loss, occlusion_aware_vis_loss, trajectory_continuity_loss
from cotracker.training.queries import sample_training_queries

__all__ = [
    "TrainConfig",
    "load_config",
    "train",
    "sequence_loss",
    "track_loss",
    "balanced_vis_loss",
    "trajectory_continuity_loss",
    "bone_length_loss",
    "occlusion_aware_vis_loss",
    "sample_training_queries",
]


def __getattr__(name):
    if name == "train":
        from cotracker.training.trainer import train

        return train
    raise AttributeError(f"module 'cotracker.training' has no attribute {name!r}")
