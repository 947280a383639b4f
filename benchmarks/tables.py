#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Print the accuracy tables of BENCHMARKS.md from the result folders of `benchmarks/eval_weights.sh`.

    python benchmarks/tables.py [--bench bench]

Reads ``<bench>/{synthetic,articulated,limbs,badja,people}_<tracker>/summary.json`` (and BADJA's ``per_video.json``) and
prints Markdown: the shipped weights beside the baselines, BADJA per clip, the per-keypoint PCK table, and the pose
experiment (rows: configuration; columns: people validation, scenes validation, real data). Missing folders are left
out of the tables.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

TRACKERS = [("static", "static points"), ("lk", "Lucas-Kanade"),
            ("pose_base", "session 2: runs/synth_small (1500 steps, one pass; Intel host, 1 thread)"),
            ("session3", "session 3: synth_small_cont step 2800 (one tracker with its second pass; Intel host)"),
            ("session4", "session 4: synth_small_cont2 (5900 steps; second pass and flip ensemble)"),
            ("session5a", "session 5: synth_small_cont3 (8300 steps; second pass, flip ensemble, feedback)"),
            ("session5b", "session 5: synth_small_cont4 (8900 steps; second pass, flip ensemble, feedback)"),
            ("session7", "session 7: synth_small_cont6 (10100 steps, real textures)"),
            ("session8", "session 8: synth_small_cont7 without a local grid (threshold 0.40)"),
            ("session9", "session 9: synth_small_cont7 with a 3x3 local grid (threshold 0.35)"),
            ("session11", "session 11: synth_small_hires (11700 steps + 600 at 384x512; 3x3 local grid)"),
            ("session12", "session 12: synth_small_hires2 (11700 steps + 1800 at 384x512; 3x3 local grid)"),
            ("cotracker2-synth-nopolish", "cotracker2-synth without the polish (`--no-polish`: the file as shipped in "
                                          "sessions 14-17; synth_small_gpu2, hires2 + 610 steps of 8 clips at 384x512 "
                                          "on a lent H200; 3x3 local grid)"),
            ("cotracker2-synth", "cotracker2-synth (shipped: the same weights with the Lucas-Kanade polish, session 18)"),
            ("session12-nolocalgrid", "session 12's file without its local grid (`--local-grid 0`)"),
            ("cotracker2-synth-nolocalgrid", "cotracker2-synth without its local grid (`--local-grid 0 --no-polish`)"),
            ("session11-noensemble", "session 11's file, one tracker (`--no-ensemble`)"),
            ("session11-norefine", "session 11's file, one tracker, first pass only (`--no-ensemble --no-refine`)"),
            ("session12-noensemble", "session 12's file, one tracker (`--no-ensemble`)"),
            ("session12-norefine", "session 12's file, one tracker, first pass only (`--no-ensemble --no-refine`)"),
            ("cotracker2-synth-noensemble", "cotracker2-synth, one tracker (`--no-ensemble --no-polish`)"),
            ("cotracker2-synth-norefine", "cotracker2-synth, one tracker, first pass only (`--no-ensemble --no-refine "
                                          "--no-polish`)"),
            ("session5-pose", "session 5's pose model: synth_small_cont3 + 200 pose steps at 192x256 (no local grid)"),
            ("cotracker2-synth-pose", "cotracker2-synth-pose (shipped: 0.3 x cotracker2-synth + 0.7 x synth_pose3, "
                                      "weight-space blend; 3x3 local grid; no polish, NOTES.md \"Session 18\")")]
POSE_RUNS = [
    ("pose_base", "scenes only (runs/synth_small, the general model they start from)", "absent"),
    ("pose_people_absent", "people only", "absent"),
    ("pose_people_present", "people only", "present"),
    ("pose_mixed_absent", "50% scenes / 50% people", "absent"),
    ("pose_mixed_present", "50% scenes / 50% people", "present on people"),
]
KEYPOINTS = ["nose", "head_top", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
             "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def _load(bench: Path, kind: str, tracker: str):
    p = bench / f"{kind}_{tracker}" / "summary.json"
    return json.loads(p.read_text())["aggregate"] if p.is_file() else None


def _pct(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * v:.1f}"


def _num(v, digits=1) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="bench", help="folder of the result folders (default bench)")
    bench = Path(ap.parse_args(argv).bench)

    print("| tracker | synthetic AJ | synthetic delta_avg | synthetic OA | articulated delta_avg | limbs delta_avg "
          "| BADJA PCK@0.2sqrt(A) | BADJA PCK@16px | BADJA mean err px | people PCK@0.2 box | people PCKh@0.5 "
          "| people OKS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, label in TRACKERS:
        s, a, m, b, p = (_load(bench, k, key) for k in ("synthetic", "articulated", "limbs", "badja", "people"))
        if s is None and a is None and m is None and b is None and p is None:
            continue
        s, a, m, b, p = s or {}, a or {}, m or {}, b or {}, p or {}
        print(f"| {label} | {_pct(s.get('average_jaccard'))} | {_pct(s.get('average_pts_within_thresh'))} | "
              f"{_pct(s.get('occlusion_accuracy'))} | {_pct(a.get('average_pts_within_thresh'))} | "
              f"{_pct(m.get('average_pts_within_thresh'))} | "
              f"{_num(b.get('pck_mask'), 3)} | {_num(b.get('pck_16px'), 3)} | "
              f"{_num(b.get('mean_error_px'))} | {_num(p.get('pck_bbox'), 3)} | {_num(p.get('pckh'), 3)} | "
              f"{_num(p.get('oks'), 3)} |")

    print("\nBADJA per clip (bear has no masks, so no PCK@0.2sqrt(A)):\n")
    print("| tracker | bear PCK@8px | bear PCK@16px | bear PCK@32px | bear mean err px | horsejump-high PCK@0.2sqrt(A) "
          "| horsejump-high PCK@8px | horsejump-high PCK@16px | horsejump-high PCK@32px | horsejump-high mean err px |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, label in TRACKERS:
        path = bench / f"badja_{key}" / "per_video.json"
        if not path.is_file():
            continue
        clips = {v["name"]: v["metrics"] for v in json.loads(path.read_text())}
        bear, horse = clips.get("bear", {}), clips.get("horsejump-high", {})
        print(f"| {label} | {_num(bear.get('pck_8px'), 3)} | {_num(bear.get('pck_16px'), 3)} | "
              f"{_num(bear.get('pck_32px'), 3)} | {_num(bear.get('mean_error_px'))} | {_num(horse.get('pck_mask'), 3)} | "
              f"{_num(horse.get('pck_8px'), 3)} | {_num(horse.get('pck_16px'), 3)} | {_num(horse.get('pck_32px'), 3)} | "
              f"{_num(horse.get('mean_error_px'))} |")

    print("\nPer keypoint, PCK@0.2 of the box on the held-out synthetic people:\n")
    rows = [(label, _load(bench, "people", key)) for key, label in TRACKERS]
    rows = [(label, agg) for label, agg in rows if agg]
    print("| keypoint | " + " | ".join(label for label, _ in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for k in KEYPOINTS:
        print(f"| {k} | " + " | ".join(_num(agg.get(f"pck_bbox/{k}"), 3) for _, agg in rows) + " |")

    print("\nPose experiment (fine-tuned from runs/synth_small, 100 steps each):\n")
    # only metrics that do not depend on the visibility threshold (the runs are not calibrated; the shipped
    # general model in the first row is)
    print("| training data | keypoint embedding | people PCK@0.2 box | people PCKh@0.5 | people OKS | scenes delta_avg "
          "| real (BADJA) PCK@0.2sqrt(A) | real (BADJA) PCK@16px |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key, data, emb in POSE_RUNS:
        s, b, p = (_load(bench, k, key) for k in ("synthetic", "badja", "people"))
        if s is None and b is None and p is None:
            continue
        s, b, p = s or {}, b or {}, p or {}
        print(f"| {data} | {emb} | {_num(p.get('pck_bbox'), 3)} | {_num(p.get('pckh'), 3)} | {_num(p.get('oks'), 3)} | "
              f"{_pct(s.get('average_pts_within_thresh'))} | {_num(b.get('pck_mask'), 3)} | {_num(b.get('pck_16px'), 3)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
