#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""How sure the BADJA lead of a model over a baseline is: a paired bootstrap over the clips' joints.

    python benchmarks/badja_bootstrap.py                        # the default weights against Lucas-Kanade
    python benchmarks/badja_bootstrap.py --checkpoint runs/x/model_final.safetensors --baseline static
    python benchmarks/badja_bootstrap.py --no-polish --out benchmarks/results/badja_bootstrap_nopolish.md

Runs the BADJA protocol (as ``cotracker evaluate --dataset badja``) for the model and the baseline on every clip
under ``--data-root``, then resamples each clip's joints with replacement (the same draw for both trackers) and
scores both again (:func:`cotracker.evaluation.badja.badja_paired_bootstrap`). The table gives, per clip and for
the mean over clips (the evaluator's aggregate), each metric of both trackers, their difference as measured, its
central 95% interval over the resamples, and the share of resamples in which the model is ahead. A joint, not a
joint-frame, is the unit: a joint lost at one annotated frame usually stays lost. The interval says how much a lead
rests on a few of these joints; it says nothing of other animals or videos.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from cotracker.commands.evaluate import add_inference_args, inference_kwargs
from cotracker.evaluation import make_tracker
from cotracker.evaluation.badja import (
    BadjaPair,
    badja_paired_bootstrap,
    find_badja_sequences,
    load_badja_sequence,
)
from cotracker.evaluation.evaluator import track_badja
from cotracker.io.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("pck_mask", "pck_8px", "pck_16px", "pck_32px", "mean_error_px")


def predictions(tracker, seq) -> tuple[np.ndarray, np.ndarray]:
    """(K, N, 2) the tracker's positions at the annotated frames for the protocol's queries, and the joint ids."""
    pred, joint_ids = track_badja(tracker, seq)
    return pred[seq.annotations.frame_indices], joint_ids


def pair(seq, pred_a: np.ndarray, pred_b: np.ndarray, joint_ids: np.ndarray) -> BadjaPair:
    ann = seq.annotations
    return BadjaPair(pred_a, pred_b, ann.joints[:, joint_ids], ann.visible[:, joint_ids], seq.mask_areas())


def table(rows: dict[str, dict], names: tuple[str, str]) -> str:
    """Markdown: one row per clip (and the mean) and metric."""
    a, b = names
    lines = [f"| clips | metric | {a} | {b} | difference | 95% interval | resamples with {a} ahead |",
             "|---|---|---|---|---|---|---|"]
    for clip, result in rows.items():
        for k in METRICS:
            r = result.get(k)
            if r is None or not np.isfinite(r.a):
                continue
            lower_is_better = k == "mean_error_px"
            ahead = 1.0 - r.share_positive if lower_is_better else r.share_positive
            fmt = "{:.1f}" if lower_is_better else "{:.3f}"
            lines.append(f"| {clip} | {k} | {fmt.format(r.a)} | {fmt.format(r.b)} | {r.difference:+.3f} | "
                         f"[{r.low:+.3f}, {r.high:+.3f}] | {100 * ahead:.1f}% |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="cotracker2-synth", help="weights (default: the shipped general model)")
    ap.add_argument("--baseline", choices=("lk", "static"), default="lk", help="the tracker compared against")
    ap.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    add_inference_args(ap.add_argument_group("the model's inference settings (as in `cotracker evaluate`)"))
    args = ap.parse_args(argv)
    if args.resamples < 1:
        ap.error(f"--resamples must be >= 1, got {args.resamples}")
    try:
        overrides = inference_kwargs(args)
    except ValueError as exc:
        ap.error(str(exc))
    try:
        names = find_badja_sequences(args.data_root)
    except (FileNotFoundError, NotADirectoryError) as exc:
        ap.error(str(exc))
    model = make_tracker(checkpoint=args.checkpoint, **overrides)
    baseline = make_tracker(args.baseline)
    pairs = {}
    for name in names:
        seq = load_badja_sequence(args.data_root, name)
        pred_a, joint_ids = predictions(model, seq)
        pred_b, _ = predictions(baseline, seq)
        pairs[name] = pair(seq, pred_a, pred_b, joint_ids)
        print(f"{name}: {len(joint_ids)} joints tracked", file=sys.stderr)
    rows = {name: badja_paired_bootstrap([p], num_resamples=args.resamples, seed=args.seed)
            for name, p in pairs.items()}
    if len(pairs) > 1:
        rows["mean of the clips"] = badja_paired_bootstrap(list(pairs.values()), num_resamples=args.resamples,
                                                           seed=args.seed)
    labels = ("model", args.baseline)
    text = (f"model: {args.checkpoint} {' '.join(f'{k}={v}' for k, v in overrides.items())}".rstrip()
            + f"; baseline: {args.baseline}; {args.resamples} resamples of the joints, seed {args.seed}; "
            + f"torch threads: {torch.get_num_threads()}\n\n" + table(rows, labels) + "\n")
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as tmp:
            Path(tmp).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
