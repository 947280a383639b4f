#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Choose the visibility threshold of a checkpoint on synthetic clips that are NOT the held-out benchmark set.

    python scripts/calibrate_visibility.py runs/synth_small/model_final.safetensors

The clips come from the held-out generator with another base seed (default 3000000; the benchmark uses
1000000..), queried at each track's first visible frame like TAP-Vid "first". The script prints the
occlusion accuracy for thresholds 0.05..0.95 and the best one; pass it to
``scripts/export_weights.py --vis-threshold`` so the shipped file carries it.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from cotracker.evaluation.evaluator import EvalConfig, SyntheticEvalConfig, check_calibration_seeds, iter_dataset
from cotracker.models.config import check_local_grid
from cotracker.predictor import CoTrackerPredictor


class _ProbabilityPredictor(CoTrackerPredictor):
    """Keeps the visibility probabilities of the last call (before thresholding)."""

    last_probabilities = None

    def _finalize(self, coords, vis, num_points, queries_input, video_hw):
        self.last_probabilities = vis[:, :, :num_points].detach().float().cpu()
        return super()._finalize(coords, vis, num_points, queries_input, video_hw)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seed", type=int, default=3_000_000)
    ap.add_argument("--iters", type=int, default=None,
                    help="inference iterations (default: the checkpoint's own setting, else 6); use the number the "
                         "weights will ship with (scripts/tune_inference.py)")
    ap.add_argument("--flip-ensemble", action="store_true",
                    help="calibrate the flip ensemble's visibility (the mean of its three trackers' probabilities); "
                         "use it when the weights will ship with the ensemble")
    ap.add_argument("--refine-resolution", type=int, nargs=2, default=None, metavar=("H", "W"),
                    help="with --feedback: the second pass the weights will ship with (without feedback visibility "
                         "comes from the first pass alone and the second pass is skipped here)")
    ap.add_argument("--feedback", action="store_true",
                    help="calibrate with feedback (the final positions handed back to every pass), which changes the "
                         "first pass and so its visibility; use it when the weights will ship with it")
    ap.add_argument("--local-grid", type=int, default=0, metavar="K",
                    help="a K x K local grid of extra points around every query (the predictor's local_grid_size); "
                         "use it when the weights will ship with one, as it changes the queries' visibility")
    ap.add_argument("--local-grid-extent", type=float, default=0.1, metavar="E",
                    help="its side, a fraction of the model-resolution width (default 0.1)")
    args = ap.parse_args(argv)
    try:
        check_local_grid(args.local_grid, args.local_grid_extent, ("--local-grid", "--local-grid-extent"))
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    try:
        check_calibration_seeds(args.seed, args.clips)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    # Visibility comes from the first pass: without feedback the second pass does not change it.
    refine = tuple(args.refine_resolution) if (args.feedback and args.refine_resolution) else False
    predictor = _ProbabilityPredictor(checkpoint=args.checkpoint, vis_threshold=0.5, iters=args.iters,
                                      refine_resolution=refine, flip_ensemble=args.flip_ensemble,
                                      feedback=args.feedback, local_grid_size=args.local_grid,
                                      local_grid_extent=args.local_grid_extent)
    config = EvalConfig(dataset="synthetic", synthetic=SyntheticEvalConfig(num_sequences=args.clips, seed=args.seed),
                        progress=False)
    _, samples = iter_dataset(config)
    probs, truth = [], []
    for sample in samples:
        vis = sample.visibility.bool() & sample.valid.bool()  # (T, N)
        keep = vis.any(0)
        tracks, vis = sample.trajectory[:, keep], vis[:, keep]
        first = vis.float().argmax(0)  # first visible frame
        n = torch.arange(tracks.shape[1])
        queries = torch.cat([first[:, None].float(), tracks[first, n]], dim=1)[None]  # (1, N, 3)
        with torch.no_grad():
            predictor(sample.video[None].float(), queries=queries)
        p = predictor.last_probabilities[0]  # (T, N)
        after = torch.arange(vis.shape[0])[:, None] > first[None]
        probs.append(p[after].numpy())
        truth.append(vis[after].numpy())
    p, t = np.concatenate(probs), np.concatenate(truth)
    print(f"{len(p)} (frame, track) pairs after the query frame, {100 * t.mean():.1f}% visible")
    print("| threshold | occlusion accuracy |\n|---:|---:|")
    best = (0.0, 0.5)
    for thr in np.round(np.arange(0.05, 0.96, 0.05), 2):
        acc = float(((p > thr) == t).mean())
        best = max(best, (acc, float(thr)))
        print(f"| {thr:.2f} | {100 * acc:.1f} |")
    print(f"best threshold {best[1]:.2f} (occlusion accuracy {100 * best[0]:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
