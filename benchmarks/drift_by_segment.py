#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Does a tracker drift on long clips? TAP-Vid position accuracy per segment of frames, model beside Lucas-Kanade.

    python benchmarks/drift_by_segment.py                                   # the default weights, 8 clips x 80 frames
    python benchmarks/drift_by_segment.py --checkpoint runs/x/model_final.safetensors --segments 4
    python benchmarks/drift_by_segment.py --synthetic-photo-dir ../shared/data/videos --synthetic-photo-exclude bear

The clips come from the calibration generator (base seed 3000000, not the held-out benchmark's 1000000..), as in
``scripts/tune_inference.py --frames T``. Each clip's frames are cut into ``--segments`` equal runs; in each run,
``average_pts_within_thresh`` (delta_avg: the fraction of ground-truth-visible points within 1, 2, 4, 8, 16 px at the
256 x 256 benchmark scale, averaged over the thresholds) is computed with the benchmark's own metric function over
the frames of that run only (after each point's query frame, as the "first" protocol scores), then averaged over
the clips. A tracker that drifts loses accuracy from segment to segment; the gap to Lucas-Kanade in the last
segment is the number that matters for long real clips such as BADJA bear (82 frames). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from cotracker.commands._args import add_photo_options, photo_options
from cotracker.commands.evaluate import add_inference_args, inference_kwargs
from cotracker.evaluation import make_tracker
from cotracker.evaluation.evaluator import (
    BENCHMARK_HW,
    EvalConfig,
    SyntheticEvalConfig,
    _check_sample,
    _queries,
    check_calibration_seeds,
    iter_dataset,
    run_tracker,
)
from cotracker.evaluation.metrics import compute_tapvid_metrics
from cotracker.geometry import rescale_points, rescale_queries, txy_to_tapvid_queries


def segment_bounds(num_frames: int, segments: int) -> list[tuple[int, int]]:
    """``segments`` runs of frames ``[start, end)`` covering ``0..num_frames`` as evenly as possible."""
    if segments < 1 or segments > num_frames:
        raise ValueError(f"segments must be in 1..{num_frames} (the clip's frames), got {segments}")
    edges = np.linspace(0, num_frames, segments + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def segment_delta_avg(queries256: np.ndarray, gt_tracks256: np.ndarray, gt_vis: np.ndarray, pred256: np.ndarray,
                      pred_vis: np.ndarray, bounds: list[tuple[int, int]]) -> list[float]:
    """delta_avg of one clip in each run of ``bounds``.

    Args:
        queries256: (N, 3) ``(t, y, x)`` TAP-Vid queries at the benchmark scale.
        gt_tracks256, pred256: (T, N, 2) xy at the benchmark scale.
        gt_vis, pred_vis: (T, N) bool.
        bounds: ``[(start, end), ...]`` from :func:`segment_bounds`.

    Returns: one value per run, NaN where the run has no scored visible point. Frames outside a run are marked
    occluded in the ground truth, which removes them from ``pts_within_*`` (that metric counts ground-truth-visible
    entries only), so each value is the benchmark's own number restricted to the run.
    """
    T = gt_vis.shape[0]
    out = []
    for start, end in bounds:
        inside = np.zeros((T, 1), bool)
        inside[start:end] = True
        occluded = ~(gt_vis & inside)
        m = compute_tapvid_metrics(queries256[None], occluded.T[None], gt_tracks256.transpose(1, 0, 2)[None],
                                   (~pred_vis).T[None], pred256.transpose(1, 0, 2)[None], "first")
        out.append(float(m["average_pts_within_thresh"][0]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="cotracker2-synth", help="weights path or registry name (default: the shipped model)")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=80, help="frames per clip (default 80, like BADJA bear)")
    ap.add_argument("--segments", type=int, default=4, help="runs of frames to score separately (default 4)")
    ap.add_argument("--seed", type=int, default=3_000_000)
    add_photo_options(ap.add_argument_group("real textures (cotracker.data.photo_textures)"), prefix="synthetic-")
    add_inference_args(ap.add_argument_group("model inference (default: the weights' own settings)"))
    args = ap.parse_args(argv)
    try:
        check_calibration_seeds(args.seed, args.clips)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if args.clips < 1:
        raise SystemExit(f"--clips must be at least 1, got {args.clips}")
    try:
        bounds = segment_bounds(args.frames, args.segments)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    synthetic = SyntheticEvalConfig(num_sequences=args.clips, num_frames=args.frames, seed=args.seed,
                                    **photo_options(args, prefix="synthetic-"))
    config = EvalConfig(dataset="synthetic", synthetic=synthetic, progress=False)
    samples = list(iter_dataset(config)[1])
    trackers = {"Lucas-Kanade": make_tracker(tracker="lk"),
                "model": make_tracker(checkpoint=args.checkpoint, **inference_kwargs(args))}
    print(f"{len(samples)} clips of {args.frames} frames, seeds {args.seed}..{args.seed + len(samples) - 1}; "
          f"model: {args.checkpoint}")
    rows = {}
    for name, tracker in trackers.items():
        start = time.perf_counter()
        per_clip = []
        for s in samples:
            video, tracks, vis = _check_sample(s)
            q, keep = _queries(s, tracks, vis)
            pred, pvis = run_tracker(tracker, video, q)
            hw = tuple(video.shape[-2:])
            with torch.no_grad():
                q256 = txy_to_tapvid_queries(rescale_queries(torch.from_numpy(q), hw, BENCHMARK_HW)).numpy()
                gt256 = rescale_points(torch.from_numpy(tracks[:, keep]), hw, BENCHMARK_HW).numpy()
                pred256 = rescale_points(torch.from_numpy(pred), hw, BENCHMARK_HW).numpy()
            per_clip.append(segment_delta_avg(q256, gt256, vis[:, keep], pred256, pvis, bounds))
        rows[name] = (np.nanmean(np.array(per_clip), axis=0), time.perf_counter() - start)
    head = " | ".join(f"frames {a}-{b - 1}" for a, b in bounds)
    print(f"| tracker | {head} | seconds |")
    print("|---|" + "---:|" * (len(bounds) + 1))
    for name, (values, seconds) in rows.items():
        print(f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in values) + f" | {seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
