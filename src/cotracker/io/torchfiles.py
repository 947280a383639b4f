"""Reading ``torch.save`` files as data, never as code."""
from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
import torch

__all__ = ["safe_torch_load"]


def _numpy_globals() -> list:
    """The numpy reconstruction functions and dtype classes a pickled ndarray or RNG state refers to."""
    core = getattr(np, "_core", None) or np.core
    allowed: list[Any] = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    allowed += [type(np.dtype(t)) for t in ("bool", "uint8", "uint32", "int32", "int64", "float16", "float32", "float64")]
    return allowed


def safe_torch_load(path: Union[str, os.PathLike], map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` that also accepts numpy arrays and scalars.

    Tensors, containers, numbers, strings and numpy arrays load; anything that would need arbitrary code
    (custom classes, functions) is refused by torch's restricted unpickler.
    """
    with torch.serialization.safe_globals(_numpy_globals()):
        return torch.load(path, map_location=map_location, weights_only=True)
