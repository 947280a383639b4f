#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Choose the inference settings of a checkpoint (iterations, coarse-to-fine resolution) on synthetic clips
that are NOT the held-out benchmark set.

    python scripts/tune_inference.py runs/synth_small/model_final.safetensors
    python scripts/tune_inference.py CKPT --candidates 4:none 6:none 4:384x512 4:384x512:flip

Each candidate is ``ITERS:RESOLUTION`` (``none`` = no second pass), optionally followed by ``:flip`` (the flip
ensemble: three trackers, the video as it is and mirrored, median of their tracks) and/or ``:fb`` (feedback: the
final positions are handed back to every pass's next window). The clips come from the held-out generator
with another base seed (default 3000000; the benchmark uses 1000000..), scored with the TAP-Vid metrics exactly
as ``cotracker evaluate --dataset synthetic`` scores them. The script prints one row per candidate (with its
seconds) and the one with the best delta_avg; pass it to ``scripts/export_weights.py --iters N
--refine-resolution H W [--flip-ensemble] [--feedback]`` so the shipped file carries it.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from cotracker.commands._args import add_photo_options, photo_options
from cotracker.evaluation.evaluator import EvalConfig, SyntheticEvalConfig, evaluate_sample, iter_dataset
from cotracker.predictor import CoTrackerPredictor

DEFAULT_CANDIDATES = ("4:none", "6:none", "4:384x512", "6:384x512", "4:384x512:flip")
COLUMNS = ("average_pts_within_thresh", "average_jaccard", "pts_within_1", "pts_within_2", "pts_within_4",
           "pts_within_8", "pts_within_16")


def parse_candidate(text: str) -> tuple[int, object, bool, bool]:
    """``"4:384x512"`` -> ``(4, (384, 512), False, False)``; ``"6:none:flip"`` -> ``(6, False, True, False)``;
    ``"4:384x512:flip:fb"`` -> ``(4, (384, 512), True, True)`` (``fb``: feedback)."""
    try:
        iters, res, *rest = text.split(":")
        if rest not in ([], ["flip"], ["fb"], ["flip", "fb"]):
            raise ValueError
        refine = False if res == "none" else tuple(int(v) for v in res.split("x"))
        if refine is not False and len(refine) != 2:
            raise ValueError
        return int(iters), refine, "flip" in rest, "fb" in rest
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a candidate is ITERS:HxW or ITERS:none, optionally followed by :flip and/or :fb (e.g. 4:384x512:flip:fb), "
            f"got {text!r}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3_000_000)
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--articulated", action="store_true",
                      help="clips with articulated limbs, thin bars and plain surfaces (SyntheticEvalConfig.articulated)")
    kind.add_argument("--fences", action="store_true",
                      help="articulated clips with fences and a following camera (SyntheticEvalConfig.fences)")
    add_photo_options(ap.add_argument_group("real textures (cotracker.data.photo_textures)"), prefix="synthetic-")
    ap.add_argument("--candidates", nargs="+", type=parse_candidate, default=None,
                    help=f"ITERS:HxW or ITERS:none, optionally :flip (default: {' '.join(DEFAULT_CANDIDATES)})")
    args = ap.parse_args(argv)
    if 1_000_000 <= args.seed < 1_010_000:
        raise SystemExit("--seed overlaps the benchmark's held-out seeds (1000000...); choose another")
    candidates = args.candidates or [parse_candidate(c) for c in DEFAULT_CANDIDATES]
    synthetic = SyntheticEvalConfig.variant(articulated=args.articulated, fences=args.fences,
                                            num_sequences=args.clips, seed=args.seed, **photo_options(args, prefix="synthetic-"))
    config = EvalConfig(dataset="synthetic", synthetic=synthetic, progress=False)
    samples = list(iter_dataset(config)[1])
    print(f"{len(samples)} clips, seeds {args.seed}..{args.seed + len(samples) - 1}")
    print("| iters | second pass | flip ensemble | feedback | " + " | ".join(COLUMNS) + " | seconds |")
    print("|---:|---|---|---|" + "---:|" * (len(COLUMNS) + 1))
    best = None
    for iters, refine, flip, feedback in candidates:
        predictor = CoTrackerPredictor(checkpoint=args.checkpoint, iters=iters, refine_resolution=refine,
                                       flip_ensemble=flip, feedback=feedback)
        start = time.perf_counter()
        results = [evaluate_sample(predictor, s, config).metrics for s in samples]
        seconds = time.perf_counter() - start
        means = {k: float(np.nanmean([r[k] for r in results])) for k in COLUMNS}
        label = "none" if refine is False else f"{refine[0]}x{refine[1]}"
        print(f"| {iters} | {label} | {'yes' if flip else 'no'} | {'yes' if feedback else 'no'} | "
              + " | ".join(f"{100 * means[k]:.1f}" for k in COLUMNS) + f" | {seconds:.0f} |")
        if best is None or means[COLUMNS[0]] > best[0]:
            best = (means[COLUMNS[0]], iters, label, flip, feedback)
    print(f"best: --iters {best[1]}" + ("" if best[2] == "none" else f" --refine-resolution {best[2].replace('x', ' ')}")
          + (" --flip-ensemble" if best[3] else "") + (" --feedback" if best[4] else "")
          + f" (delta_avg {100 * best[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
