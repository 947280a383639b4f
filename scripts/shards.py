#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Split a checkpoint into parts small enough to come back from the lent GPU machine, and join them again.

    python scripts/shards.py split runs/x/checkpoints/step_00000400.ckpt $OUT            # on the device machine
    python scripts/shards.py join /work/.device/.../step_00000400.ckpt.shards.json runs/x/checkpoints/step_00000400.ckpt

``split`` writes ``<name>.part000``, ... (15 MiB each by default; files come back from that machine only up to 16 MiB)
and ``<name>.shards.json``; ``join`` checks every part's size and sha256 and writes the file atomically
(:mod:`cotracker.io.shards`). NOTES.md, "Training on a lent GPU", has the whole round trip.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cotracker.io.shards import DEFAULT_PART_BYTES, join_shards, split_file


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    sp = sub.add_parser("split", help="write FILE as parts and a manifest into OUT_DIR")
    sp.add_argument("file", type=Path)
    sp.add_argument("out_dir", type=Path)
    sp.add_argument("--max-mib", type=float, default=DEFAULT_PART_BYTES / 2**20,
                    help="largest part in MiB (default 15)")
    jp = sub.add_parser("join", help="rebuild the file a manifest describes")
    jp.add_argument("manifest", type=Path)
    jp.add_argument("out", type=Path, nargs="?", default=None, help="where to write it (default: beside the manifest)")
    args = ap.parse_args(argv)
    try:
        if args.verb == "split":
            if not args.max_mib > 0:
                raise ValueError(f"--max-mib must be > 0, got {args.max_mib}")
            manifest = split_file(args.file, args.out_dir, max(1, int(args.max_mib * 2**20)))
            print(f"wrote {manifest} and its parts")
        else:
            print(f"wrote {join_shards(args.manifest, args.out)}")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
