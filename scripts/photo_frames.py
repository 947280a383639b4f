# SPDX-License-Identifier: Apache-2.0
"""Write the frames a photo-texture bank takes from a folder of videos as JPEG photos, so that training can run
where PyAV is missing (the lent GPU machine has OpenCV but not PyAV): a config's ``photo_dir`` then names the output
folder. Same frames as ``cotracker.data.photo_textures.load_photo_bank`` reads (per video, evenly spread, short side
at most 480), named ``<file>_<k>.jpg``.

    python scripts/photo_frames.py ../shared/data/videos runs/photo_frames --exclude bear
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cotracker.data.base import require_cv2
from cotracker.data.photo_textures import load_photo_bank
from cotracker.io.atomic import atomic_write


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="folder of videos and photos")
    ap.add_argument("out", type=Path, help="folder to write the JPEG frames into (created)")
    ap.add_argument("--exclude", nargs="*", default=[], help="file stems to leave out")
    ap.add_argument("--per-video", type=int, default=12)
    ap.add_argument("--quality", type=int, default=92, help="JPEG quality")
    args = ap.parse_args(argv)
    if args.per_video < 1 or not 1 <= args.quality <= 100:
        print(f"error: --per-video must be >= 1 and --quality in 1..100, got {args.per_video} and {args.quality}",
              file=sys.stderr)
        return 2
    cv2 = require_cv2()
    try:
        bank = load_photo_bank(args.src, exclude=args.exclude, per_video=args.per_video)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    paths = []
    for source in bank.sources:
        k = counts.get(source, 0)
        counts[source] = k + 1
        paths.append(args.out / f"{source.replace('.', '_')}_{k:02d}.jpg")
    taken = [p for p in paths if p.exists()]
    if taken:  # never overwrite what is there
        print(f"error: {len(taken)} of the output files exist already (e.g. {taken[0]}); give an empty or new folder",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for frame, path in zip(bank.frames, paths):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        if not ok:
            print(f"error: could not encode the frame for {path}", file=sys.stderr)
            return 1
        with atomic_write(path, "wb", encoding=None) as fh:
            fh.write(data.tobytes())
    print(f"wrote {len(bank.frames)} frames from {len(counts)} files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
