"""Mixtures of datasets sampled by proportion (e.g. 50% Kubric, 50% PoseTrack)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from cotracker.types import CoTrackerData

__all__ = ["MixedDataset"]


class MixedDataset(torch.utils.data.Dataset):
    """Draw each item from one of several datasets with given probabilities.

    Item ``i`` uses ``np.random.default_rng(seed + i)`` to pick the dataset (by ``probabilities``) and an
    index inside it, so the mixture is deterministic and DataLoader-worker safe. The chosen dataset's
    position is recorded in ``sample.extra["source"]``.

    Args:
        datasets: the datasets.
        probabilities: one non-negative weight per dataset (normalised; must not all be 0).
        seed: base seed.
        length: the mixture's length (default: the sum of the datasets' lengths).
    """

    def __init__(
        self,
        datasets: Sequence[torch.utils.data.Dataset],
        probabilities: Sequence[float],
        seed: int = 0,
        length: Optional[int] = None,
    ):
        if not datasets:
            raise ValueError("MixedDataset needs at least one dataset")
        if len(probabilities) != len(datasets):
            raise ValueError(f"got {len(probabilities)} probabilities for {len(datasets)} datasets; give one per dataset")
        p = np.asarray(probabilities, np.float64)
        if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
            raise ValueError(f"probabilities must be non-negative and not all zero, got {list(probabilities)}")
        for i, (d, w) in enumerate(zip(datasets, p)):
            if w > 0 and len(d) == 0:
                raise ValueError(f"dataset {i} is empty but has probability {w}")
        self.datasets = list(datasets)
        self.probabilities = p / p.sum()
        self.seed = seed
        self.length = int(length) if length is not None else sum(len(d) for d in datasets)

    def __len__(self) -> int:
        return self.length

    def choose(self, index: int) -> tuple[int, int]:
        """(dataset position, index inside it) for mixture item ``index``."""
        rng = np.random.default_rng(self.seed + index)
        k = int(rng.choice(len(self.datasets), p=self.probabilities))
        return k, int(rng.integers(len(self.datasets[k])))

    def __getitem__(self, index: int) -> CoTrackerData:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a mixture of length {self.length}")
        k, j = self.choose(index)
        sample = self.datasets[k][j]
        sample.extra = dict(sample.extra, source=k)
        return sample
