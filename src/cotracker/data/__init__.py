"""Datasets in their official on-disk formats, their writers, augmentations, mixtures, and the
procedural generators (Kubric-like scenes, synthetic people) that write those same formats.

Every dataset returns :class:`cotracker.types.CoTrackerData`; batch with
:func:`cotracker.types.collate_samples`. OpenCV (an optional extra) is imported lazily where needed.
"""
from cotracker.data.augment import AugmentConfig, apply_augmentations
from cotracker.data.dynamic_replica import DynamicReplicaDataset, write_dynamic_replica_sequence
from cotracker.data.kubric import KubricMovifDataset, read_kubric_sequence, write_kubric_sequence
from cotracker.data.mixture import MixedDataset
from cotracker.data.posetrack import PoseTrackDataset, write_posetrack_start_frames, write_posetrack_video
from cotracker.data.synthetic_people import PeopleConfig, SyntheticPeopleDataset, generate_people, write_people_sequence
from cotracker.data.synthetic_scenes import SceneConfig, SyntheticSceneDataset, generate_scene
from cotracker.data.tapvid import TapVidDataset, make_tapvid_entry, write_tapvid_pickle

__all__ = [
    "AugmentConfig",
    "apply_augmentations",
    "KubricMovifDataset",
    "read_kubric_sequence",
    "write_kubric_sequence",
    "TapVidDataset",
    "make_tapvid_entry",
    "write_tapvid_pickle",
    "PoseTrackDataset",
    "write_posetrack_video",
    "write_posetrack_start_frames",
    "DynamicReplicaDataset",
    "write_dynamic_replica_sequence",
    "MixedDataset",
    "SceneConfig",
    "SyntheticSceneDataset",
    "generate_scene",
    "PeopleConfig",
    "SyntheticPeopleDataset",
    "generate_people",
    "write_people_sequence",
]
