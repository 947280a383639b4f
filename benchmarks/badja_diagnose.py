#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Where a tracker fails on a BADJA clip: PCK per annotated frame and per joint, and a figure to look at.

    python benchmarks/badja_diagnose.py                                  # horsejump-high: Lucas-Kanade and the default weights
    python benchmarks/badja_diagnose.py --clip bear --checkpoint runs/x/model_final.safetensors --frames 10 30 50
    python benchmarks/badja_diagnose.py --refine-resolution 480 640 --no-ensemble       # other inference settings

Runs the BADJA protocol's queries (every joint visible at the first annotated frame) through Lucas-Kanade and the
model, prints for each the fraction of joints within the clip's threshold (0.2 sqrt(mask area), or 16 px without
masks) at each annotated frame and per joint, and writes ``benchmarks/results/overlays/<clip>_badja_diagnosis.jpg``:
the chosen frames with the ground-truth joints (green rings, at annotated frames), the model's points (red) and
Lucas-Kanade's (blue). NOTES.md, "BADJA failure analysis", reads it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cotracker.commands.evaluate import add_inference_args, inference_kwargs
from cotracker.evaluation import make_tracker
from cotracker.evaluation.badja import BadjaConfig, load_badja_sequence, mask_thresholds
from cotracker.evaluation.evaluator import track_badja
from cotracker.io.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"lk": (0, 128, 255), "model": (255, 0, 0)}
GT_COLOUR = (0, 255, 0)


def hit_matrix(pred: np.ndarray, seq, joint_ids: np.ndarray, config: BadjaConfig = BadjaConfig()) -> np.ndarray:
    """(K, N) float: 1 where a joint is within the threshold at an annotated frame, 0 where not, NaN where unscored
    (not visible, or the query frame)."""
    ann = seq.annotations
    err = np.linalg.norm(pred[ann.frame_indices] - ann.joints[:, joint_ids], axis=-1)  # (K, N)
    area = seq.mask_areas()
    thr = mask_thresholds(area, config) if area is not None else np.full(len(err), 16.0)
    hits = (err < thr[:, None]).astype(np.float64)
    scored = ann.visible[:, joint_ids].copy()
    scored[0] = False
    hits[~scored] = np.nan
    return hits


def _rate(values: np.ndarray) -> str:
    return "-" if np.isnan(values).all() else f"{np.nanmean(values):.2f}"


def draw(seq, joint_ids: np.ndarray, preds: dict[str, np.ndarray], frames: list[int]) -> Image.Image:
    """The frames (half size, two per row) with ground truth and each tracker's points."""
    ann = seq.annotations
    annotated = {int(f): k for k, f in enumerate(ann.frame_indices)}
    H, W = seq.frames.shape[1:3]
    tiles = []
    for f in frames:
        im = Image.fromarray(seq.frames[f]).copy()
        d = ImageDraw.Draw(im)
        if f in annotated:
            k = annotated[f]
            for i, j in enumerate(joint_ids):
                if ann.visible[k, j]:
                    x, y = ann.joints[k, j]
                    d.ellipse([x - 7, y - 7, x + 7, y + 7], outline=GT_COLOUR, width=3)
        for name, pred in preds.items():
            for x, y in pred[f]:
                d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=COLOURS[name])
        d.text((12, 12), f"frame {f}", fill=(255, 255, 0))
        tiles.append(im.resize((W // 2, H // 2), Image.BILINEAR))
    rows = (len(tiles) + 1) // 2
    sheet = Image.new("RGB", (W, rows * (H // 2)))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % 2) * (W // 2), (i // 2) * (H // 2)))
    return sheet


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="horsejump-high")
    ap.add_argument("--checkpoint", default="cotracker2-synth", help="weights (default: the shipped general model)")
    ap.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--frames", type=int, nargs="+", default=[8, 13, 18, 22, 26, 30],
                    help="frames of the figure (default 8 13 18 22 26 30)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overlays")
    add_inference_args(ap.add_argument_group("the model's inference settings (as in `cotracker evaluate`)"))
    args = ap.parse_args(argv)
    overrides = inference_kwargs(args)
    seq = load_badja_sequence(args.data_root, args.clip)
    bad = [f for f in args.frames if not 0 <= f < len(seq.frames)]
    if bad:
        raise SystemExit(f"--frames {bad} are outside the clip's {len(seq.frames)} frames (0..{len(seq.frames) - 1})")
    preds = {}
    for name, tracker in [("lk", make_tracker("lk")), ("model", make_tracker(checkpoint=args.checkpoint, **overrides))]:
        preds[name], joint_ids = track_badja(tracker, seq)
        hits = hit_matrix(preds[name], seq, joint_ids)
        frames = seq.annotations.frame_indices
        print(f"{name}: within threshold, per annotated frame: "
              + " ".join(f"{int(f)}:{_rate(hits[k])}" for k, f in enumerate(frames) if k > 0))
        print(f"{name}: within threshold, per joint: "
              + " ".join(f"{int(j)}:{_rate(hits[:, i])}" for i, j in enumerate(joint_ids)))
        print(f"{name}: mean {_rate(hits)} over {int(np.isfinite(hits).sum())} scored joint-frames")
    target = args.out / f"{args.clip}_badja_diagnosis.jpg"
    with atomic_path(target) as tmp:
        draw(seq, joint_ids, preds, args.frames).save(tmp, format="JPEG", quality=85)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
