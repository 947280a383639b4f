#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Choose the Lucas-Kanade polish's settings (cotracker.polish) on synthetic clips that are NOT the held-out
benchmark set.

    python scripts/tune_polish.py cotracker2-synth
    python scripts/tune_polish.py cotracker2-synth --size 480 854 --synthetic-photo-dir ../shared/data/videos \\
        --synthetic-photo-exclude bear --settings 0.06,0.25,11 0.03,0.5,9

The model tracks every clip once, with the weights' own inference settings and without the polish; each setting
``RADIUS,FB,WINDOW`` (radius: a fraction of the frame's longer side; forward-backward threshold and window in pixels;
two pyramid levels) then polishes those tracks, and every row is scored with the TAP-Vid metrics exactly as
``cotracker evaluate --dataset synthetic`` scores them. The first row is the model without the polish. The clips come
from the held-out generator with another base seed (default 3000000; the benchmark uses 1000000..). Pass the chosen
setting to ``scripts/export_weights.py --polish-radius R --polish-fb-threshold F --polish-window W``.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from cotracker.commands._args import add_photo_options, photo_options
from cotracker.evaluation.evaluator import (
    EvalConfig,
    SyntheticEvalConfig,
    check_calibration_seeds,
    evaluate_sample,
    iter_dataset,
)
from cotracker.polish import PolishConfig, polish_tracks
from cotracker.predictor import CoTrackerPredictor
from cotracker.types import TrackResult

COLUMNS = ("average_pts_within_thresh", "average_jaccard", "pts_within_1", "pts_within_2", "pts_within_4",
           "pts_within_8", "pts_within_16")
DEFAULT_SETTINGS = tuple(f"{r},{fb},{w}" for r in (0.03, 0.06) for fb in (0.25, 0.5, 1.0) for w in (9, 11, 15))


def parse_setting(text: str) -> PolishConfig:
    """``"0.06,0.25,11"`` -> ``PolishConfig(radius=0.06, fb_threshold=0.25, window=11)``."""
    try:
        radius, fb, window = text.split(",")
        return PolishConfig(radius=float(radius), fb_threshold=float(fb), window=int(window))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"a setting is RADIUS,FB,WINDOW (e.g. 0.06,0.25,11), got {text!r}: {e}")


class _Replay:
    """A tracker that returns the tracks recorded for each clip (in order), polished with ``config`` if given."""

    def __init__(self, recorded: list[TrackResult], config=None):
        self.recorded, self.config, self.calls = recorded, config, 0

    def __call__(self, video, queries=None, **kwargs) -> TrackResult:
        result = self.recorded[self.calls]
        self.calls += 1
        if self.config is None:
            return result
        tracks = polish_tracks(video[0], result.tracks[0], result.visibility[0], queries[0, :, 0].long(), self.config)
        return TrackResult(tracks[None], result.visibility)


class _Recorder:
    def __init__(self, predictor):
        self.predictor, self.recorded = predictor, []

    def __call__(self, video, queries=None, **kwargs) -> TrackResult:
        result = self.predictor(video, queries=queries, **kwargs)
        self.recorded.append(result)
        return result


def _row(label: str, results: list[dict], seconds: float) -> tuple[str, float]:
    means = {k: float(np.nanmean([r[k] for r in results])) for k in COLUMNS}
    cells = " | ".join(f"{100 * means[k]:.2f}" for k in COLUMNS)
    return f"| {label} | {cells} | {seconds:.0f} |", means[COLUMNS[0]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="weights file or registry name (tracked with its own inference settings)")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3_000_000)
    ap.add_argument("--frames", type=int, default=24, metavar="T")
    ap.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"),
                    help="frame size of the clips (default 256 256, the benchmark's; 480 854 is BADJA's)")
    ap.add_argument("--articulated", action="store_true",
                    help="clips with articulated limbs, thin bars and plain surfaces (SyntheticEvalConfig.articulated)")
    add_photo_options(ap.add_argument_group("real textures (cotracker.data.photo_textures)"), prefix="synthetic-")
    ap.add_argument("--settings", nargs="+", type=parse_setting, default=None,
                    help=f"RADIUS,FB,WINDOW (default: the grid {' '.join(DEFAULT_SETTINGS)})")
    args = ap.parse_args(argv)
    if args.frames < 2:
        raise SystemExit(f"--frames must be at least 2, got {args.frames}")
    try:
        check_calibration_seeds(args.seed, args.clips)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    settings = args.settings or [parse_setting(s) for s in DEFAULT_SETTINGS]
    synthetic = SyntheticEvalConfig.variant(articulated=args.articulated, num_sequences=args.clips,
                                            num_frames=args.frames, seed=args.seed, size_hw=tuple(args.size),
                                            **photo_options(args, prefix="synthetic-"))
    config = EvalConfig(dataset="synthetic", synthetic=synthetic, progress=False)
    samples = list(iter_dataset(config)[1])
    print(f"{len(samples)} clips of {synthetic.num_frames} frames at {args.size[0]}x{args.size[1]}, seeds "
          f"{args.seed}..{args.seed + len(samples) - 1}, {synthetic.traj_per_sample} queries each")
    print("| polish (radius, fb px, window px) | " + " | ".join(COLUMNS) + " | seconds |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    recorder = _Recorder(CoTrackerPredictor(checkpoint=args.checkpoint, polish=False))
    start = time.perf_counter()
    line, base = _row("none (the model)", [evaluate_sample(recorder, s, config).metrics for s in samples],
                      time.perf_counter() - start)
    print(line, flush=True)
    best = None
    for c in settings:
        start = time.perf_counter()
        replay = _Replay(recorder.recorded, c)
        line, score = _row(f"{c.radius:g}, {c.fb_threshold:g}, {c.window}",
                           [evaluate_sample(replay, s, config).metrics for s in samples], time.perf_counter() - start)
        print(line, flush=True)
        if best is None or score > best[0]:
            best = (score, c)
    score, c = best
    print(f"best: --polish-radius {c.radius:g} --polish-fb-threshold {c.fb_threshold:g} --polish-window {c.window} "
          f"(delta_avg {100 * score:.3f}; without the polish {100 * base:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
