#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Choose the inference settings of a checkpoint (iterations, coarse-to-fine resolution) on synthetic clips
that are NOT the held-out benchmark set.

    python scripts/tune_inference.py runs/synth_small/model_final.safetensors
    python scripts/tune_inference.py CKPT --candidates 4:none 6:none 4:384x512 4:384x512:flip

Each candidate is ``ITERS:RESOLUTION`` (``none`` = no second pass), optionally followed by ``:flip`` (the flip
ensemble: three trackers, the video as it is and mirrored, median of their tracks) and/or ``:fb`` (feedback: the
final positions are handed back to every pass's next window), then optionally ``:lgK`` or ``:lgKxE`` (a K x K local
grid of extra points around every query, side E of the model-resolution width, default 0.1: context for the
clips' 64 queries, K * K points more per query).
The clips come from the held-out generator
with another base seed (default 3000000; the benchmark uses 1000000..), scored with the TAP-Vid metrics exactly
as ``cotracker evaluate --dataset synthetic`` scores them. The script prints one row per candidate (with its
seconds) and the one with the best delta_avg; pass it to ``scripts/export_weights.py --iters N
--refine-resolution H W [--flip-ensemble] [--feedback]`` so the shipped file carries it.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import NamedTuple

import numpy as np

from cotracker.commands._args import add_photo_options, photo_options
from cotracker.evaluation.evaluator import (
    EvalConfig,
    SyntheticEvalConfig,
    check_calibration_seeds,
    evaluate_sample,
    iter_dataset,
)
from cotracker.models.config import check_local_grid
from cotracker.predictor import CoTrackerPredictor

DEFAULT_CANDIDATES = ("4:none", "6:none", "4:384x512", "6:384x512", "4:384x512:flip")
COLUMNS = ("average_pts_within_thresh", "average_jaccard", "pts_within_1", "pts_within_2", "pts_within_4",
           "pts_within_8", "pts_within_16")


class Candidate(NamedTuple):
    """One inference setting: predictor arguments."""

    iters: int
    refine: object  # (H, W) of the second pass, or False
    flip: bool = False
    feedback: bool = False
    local_grid: int = 0  # points per side of each query's local grid (0 = none)
    local_extent: float = 0.1  # its side, a fraction of the model-resolution width

    @property
    def label(self) -> str:
        return "none" if self.refine is False else f"{self.refine[0]}x{self.refine[1]}"

    @property
    def local_label(self) -> str:
        return "-" if not self.local_grid else f"{self.local_grid}x{self.local_grid} @ {self.local_extent:g}"


def parse_candidate(text: str) -> Candidate:
    """``"4:384x512"`` -> ``Candidate(4, (384, 512))``; ``"6:none:flip"`` -> ``Candidate(6, False, flip=True)``;
    ``"4:384x512:flip:fb"`` -> flip ensemble and feedback; a final ``:lg5`` (or ``:lg5x0.2``) adds a 5x5 local grid
    around every query (side 0.1, or 0.2, of the model-resolution width)."""
    try:
        iters, res, *rest = text.split(":")
        local, extent = 0, 0.1
        if rest and rest[-1].startswith("lg"):
            size, _, ext = rest.pop()[2:].partition("x")
            local, extent = check_local_grid(int(size), float(ext) if ext else extent)
            if local == 0:
                raise ValueError
        if rest not in ([], ["flip"], ["fb"], ["flip", "fb"]):
            raise ValueError
        refine = False if res == "none" else tuple(int(v) for v in res.split("x"))
        if refine is not False and len(refine) != 2:
            raise ValueError
        return Candidate(int(iters), refine, "flip" in rest, "fb" in rest, local, extent)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a candidate is ITERS:HxW or ITERS:none, optionally followed by :flip and/or :fb, then optionally by "
            f":lgK or :lgKxE (a KxK local grid of side E around each query), e.g. 4:384x512:flip:fb:lg5, got {text!r}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3_000_000)
    ap.add_argument("--frames", type=int, default=24, metavar="T",
                    help="frames per clip (default 24, as the benchmark; long clips test drift, e.g. 80 like BADJA bear)")
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--articulated", action="store_true",
                      help="clips with articulated limbs, thin bars and plain surfaces (SyntheticEvalConfig.articulated)")
    kind.add_argument("--fences", action="store_true",
                      help="articulated clips with fences and a following camera (SyntheticEvalConfig.fences)")
    kind.add_argument("--limbs", action="store_true",
                      help="24 queries per clip, all on articulated limbs (SyntheticEvalConfig.limbs)")
    add_photo_options(ap.add_argument_group("real textures (cotracker.data.photo_textures)"), prefix="synthetic-")
    ap.add_argument("--candidates", nargs="+", type=parse_candidate, default=None,
                    help="ITERS:HxW or ITERS:none, optionally :flip, :fb, :lgK[xE] "
                         f"(default: {' '.join(DEFAULT_CANDIDATES)})")
    args = ap.parse_args(argv)
    if args.frames < 2:
        raise SystemExit(f"--frames must be at least 2 (a query frame and one to track into), got {args.frames}")
    try:
        check_calibration_seeds(args.seed, args.clips)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    candidates = args.candidates or [parse_candidate(c) for c in DEFAULT_CANDIDATES]
    synthetic = SyntheticEvalConfig.variant(articulated=args.articulated, fences=args.fences, limbs=args.limbs,
                                            num_sequences=args.clips, num_frames=args.frames, seed=args.seed,
                                            **photo_options(args, prefix="synthetic-"))
    config = EvalConfig(dataset="synthetic", synthetic=synthetic, progress=False)
    samples = list(iter_dataset(config)[1])
    print(f"{len(samples)} clips of {synthetic.num_frames} frames, seeds {args.seed}..{args.seed + len(samples) - 1}, "
          f"{synthetic.traj_per_sample} queries each")
    print("| iters | second pass | flip ensemble | feedback | local grid | " + " | ".join(COLUMNS) + " | seconds |")
    print("|---:|---|---|---|---|" + "---:|" * (len(COLUMNS) + 1))
    best = None
    for c in candidates:
        predictor = CoTrackerPredictor(checkpoint=args.checkpoint, iters=c.iters, refine_resolution=c.refine,
                                       flip_ensemble=c.flip, feedback=c.feedback, local_grid_size=c.local_grid,
                                       local_grid_extent=c.local_extent)
        start = time.perf_counter()
        results = [evaluate_sample(predictor, s, config).metrics for s in samples]
        seconds = time.perf_counter() - start
        means = {k: float(np.nanmean([r[k] for r in results])) for k in COLUMNS}
        print(f"| {c.iters} | {c.label} | {'yes' if c.flip else 'no'} | {'yes' if c.feedback else 'no'} | "
              f"{c.local_label} | " + " | ".join(f"{100 * means[k]:.1f}" for k in COLUMNS) + f" | {seconds:.0f} |")
        if best is None or means[COLUMNS[0]] > best[0]:
            best = (means[COLUMNS[0]], c)
    c = best[1]
    print(f"best: --iters {c.iters}" + ("" if c.refine is False else f" --refine-resolution {c.refine[0]} {c.refine[1]}")
          + (" --flip-ensemble" if c.flip else "") + (" --feedback" if c.feedback else "")
          + (f" --local-grid {c.local_grid} --local-grid-extent {c.local_extent:g}" if c.local_grid else "")
          + f" (delta_avg {100 * best[0]:.1f}; unrounded {100 * best[0]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
