#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Overlays of a model on the real clips, as contact sheets to look at (BENCHMARKS.md, "Shipped weights").

    python benchmarks/overlays.py                                # the default weights, three clips
    python benchmarks/overlays.py --checkpoint PATH --label run --clips bear cat --grid-size 12 --trail 6

For each clip of ``../shared/data/videos/`` this runs ``cotracker track CLIP --grid-size 12 --trail 6`` (the
overlay: rainbow points, hollow where predicted occluded, a trail of the last frames) into
``bench/overlays/<clip>_<label>/`` and writes ``benchmarks/results/overlays/<clip>_<label>.jpg``: four frames of
the overlay (first, one third, two thirds, last) in a 2 x 2 sheet, each half size.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from cotracker.api import track_video
from cotracker.io.atomic import atomic_path
from cotracker.io.video import read_video

ROOT = Path(__file__).resolve().parents[1]


def contact_sheet(frames: np.ndarray, picks: int = 4) -> Image.Image:
    """``picks`` evenly spaced frames of (T, H, W, 3) uint8, half size, in a 2-column grid."""
    T, H, W = frames.shape[:3]
    index = np.linspace(0, T - 1, picks).round().astype(int)
    h, w = H // 2, W // 2
    rows = (picks + 1) // 2
    sheet = Image.new("RGB", (2 * w, rows * h))
    for k, t in enumerate(index):
        sheet.paste(Image.fromarray(frames[t]).resize((w, h), Image.BILINEAR), ((k % 2) * w, (k // 2) * h))
    return sheet


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="weights (default: the package's default)")
    ap.add_argument("--label", default="cotracker2-synth", help="name in the output files")
    ap.add_argument("--clips", nargs="+", default=["bear", "cat", "paragliding-launch"])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "data" / "videos")
    ap.add_argument("--grid-size", type=int, default=12)
    ap.add_argument("--trail", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overlays")
    args = ap.parse_args(argv)
    for clip in args.clips:
        src = args.videos / f"{clip}.mp4"
        if not src.is_file():
            raise SystemExit(f"no clip {src}: expected the shared data folder beside the checkout (--videos)")
        work = ROOT / "bench" / "overlays" / f"{clip}_{args.label}"
        track_video(src, grid_size=args.grid_size, checkpoint=args.checkpoint, out=work, trail=args.trail,
                    overwrite=True)
        sheet = contact_sheet(read_video(work / "overlay.mp4").frames)
        target = args.out / f"{clip}_{args.label}.jpg"
        with atomic_path(target) as tmp:
            sheet.save(tmp, format="JPEG", quality=88)
        print(f"{clip}: {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
