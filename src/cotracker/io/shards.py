# SPDX-License-Identifier: Apache-2.0
"""Split a large file (a training checkpoint) into parts of bounded size, and join them back with checks.

A machine that hands back files of at most 16 MiB each (the lent GPU of this project) cannot return a 40 MB
checkpoint whole; ``split_file`` writes ``<name>.part000``, ``<name>.part001``, ... and a manifest
``<name>.shards.json`` (sizes and sha256 of the parts and of the whole), and ``join_shards`` rebuilds the file,
refusing a missing, truncated or altered part. Every file is written atomically.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from cotracker.io.atomic import PathLike, atomic_path, atomic_write

__all__ = ["DEFAULT_PART_BYTES", "MANIFEST_SUFFIX", "join_shards", "split_file"]

#: 15 MiB: under the 16 MiB a file may have to come back from the lent machine
DEFAULT_PART_BYTES = 15 * 1024 * 1024
MANIFEST_SUFFIX = ".shards.json"


def split_file(path: PathLike, out_dir: PathLike, max_bytes: int = DEFAULT_PART_BYTES) -> Path:
    """Write ``path`` into ``out_dir`` as parts of at most ``max_bytes`` and a manifest; return the manifest's path.

    An empty file gives one empty part, so that the manifest always names at least one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file to split at {path}")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a whole number of bytes >= 1, got {max_bytes!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    whole = hashlib.sha256()
    with open(path, "rb") as src:
        index = 0
        while True:
            data = src.read(max_bytes)
            if not data and index > 0:
                break
            whole.update(data)
            name = f"{path.name}.part{index:03d}"
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
            parts.append({"file": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            index += 1
            if len(data) < max_bytes:
                break
    manifest = {"name": path.name, "size": path.stat().st_size, "sha256": whole.hexdigest(), "parts": parts}
    target = out_dir / f"{path.name}{MANIFEST_SUFFIX}"
    with atomic_write(target) as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return target


def join_shards(manifest_path: PathLike, out_path: Optional[PathLike] = None) -> Path:
    """Rebuild the file a manifest of :func:`split_file` describes (default: its name beside the manifest).

    Raises:
        FileNotFoundError: a part is missing.
        ValueError: the manifest is unreadable, or a part or the whole has the wrong size or sha256.
    """
    manifest_path = Path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
        name, size, digest, parts = manifest["name"], int(manifest["size"]), manifest["sha256"], manifest["parts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{manifest_path} is not a shards manifest written by split_file ({exc})") from exc
    folder = manifest_path.parent
    missing = [part["file"] for part in parts if not (folder / part["file"]).is_file()]
    if missing:  # before anything is written
        raise FileNotFoundError(f"part {missing[0]} of {name} is missing from {folder}; copy every "
                                f"{name}.partNNN file named in {manifest_path.name} there")
    target = Path(out_path) if out_path is not None else folder / name
    with atomic_path(target) as tmp:  # removed again if a check below fails
        whole = hashlib.sha256()
        with open(tmp, "wb") as dst:
            for part in parts:  # each part is read once: checked, then written
                data = (folder / part["file"]).read_bytes()
                if len(data) != part["size"] or hashlib.sha256(data).hexdigest() != part["sha256"]:
                    raise ValueError(f"part {folder / part['file']} is truncated or altered (expected {part['size']} "
                                     f"bytes with sha256 {part['sha256'][:12]}...); copy it again from where it was "
                                     "split")
                whole.update(data)
                dst.write(data)
        if tmp.stat().st_size != size or whole.hexdigest() != digest:
            raise ValueError(f"the joined {name} does not match its manifest (size or sha256); the parts come from "
                             "different splits")
    return target
