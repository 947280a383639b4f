# SPDX-License-Identifier: Apache-2.0
"""A byte-for-byte reproducible ``.safetensors`` writer.

``safetensors.torch.save_file`` keeps the metadata in a hash map whose iteration order changes from one
process to the next, so exporting the same weights twice can give two files with the same tensors and
different sha256 digests. The registry pins digests, and anyone re-running the export command of a
shipped file should get that digest, so we write the (simple) format ourselves, in a fixed order:

* 8 bytes: the header's length, unsigned little-endian;
* the header, UTF-8 JSON with sorted keys and no spaces, padded with spaces to a multiple of 8 bytes:
  ``{"__metadata__": {str: str}, name: {"dtype": .., "shape": [..], "data_offsets": [begin, end]}, ..}``;
* the tensors' bytes (little-endian, row-major), one after the other in sorted name order.

The files are read by ``safetensors`` itself (tested).
"""
from __future__ import annotations

import json
import os
import sys
from typing import Mapping, Optional, Union

import torch

from .atomic import atomic_write

__all__ = ["safetensors_bytes", "save_safetensors"]

PathLike = Union[str, os.PathLike]

_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """The ``.safetensors`` file of ``tensors`` (any device; copied to the CPU) and string ``metadata``.

    Raises:
        TypeError: a value that is not a tensor, a dtype the format has no name for, metadata that is not str -> str.
        ValueError: a tensor name that is empty or is ``__metadata__``.
    """
    if sys.byteorder != "little":  # pragma: no cover - every platform torch ships for is little-endian
        raise RuntimeError("safetensors_bytes writes native bytes and needs a little-endian machine")
    header: dict = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"safetensors metadata must map str to str; not so for {bad[:5]} (json.dumps the values)")
        header["__metadata__"] = dict(sorted(metadata.items()))
    chunks, offset = [], 0
    for name in sorted(tensors, key=str):
        t = tensors[name]
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensor name {name!r} cannot be stored: names are non-empty strings other than '__metadata__'")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _DTYPES:
            raise TypeError(f"{name}: dtype {t.dtype} has no safetensors name; convert it to one of "
                            f"{sorted(str(d) for d in _DTYPES)}")
        data = t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def save_safetensors(tensors: Mapping[str, torch.Tensor], path: PathLike,
                     metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write :func:`safetensors_bytes` to ``path`` atomically (complete or not at all)."""
    blob = safetensors_bytes(tensors, metadata)
    with atomic_write(path, "wb") as f:
        f.write(blob)
