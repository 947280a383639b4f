#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reproduces the accuracy tables of BENCHMARKS.md ("Shipped weights", "Pose experiment"):
#   bash benchmarks/eval_weights.sh [baselines|general|cotracker2-synth|cotracker2-synth-pose|no-refine|no-ensemble|
#                                    no-polish|articulated|limbs|pose|steps|all]
# Results go to bench/<benchmark>_<tracker>/ (summary.md, summary.json, per_video.json, summary.csv).
# Needs ../shared/data (BADJA) beside the checkout; the synthetic sets are generated from fixed seeds.
# CPU: set THREADS=1 when something else runs (two 2-thread torch processes on 2 cores slow each other ~10x).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-bench}
export OMP_NUM_THREADS=${THREADS:-2}
SYN="--dataset synthetic --synthetic-videos 16 --synthetic-seed 1000000 --no-progress"  # 16 clips x 24 frames, 256x256, 64 tracks
BADJA="--dataset badja --data-root $DATA --no-progress"
PEOPLE_DIR=$OUT/people_val
POSE="--dataset posetrack --data-root $PEOPLE_DIR --no-progress"

people_set() {  # held-out synthetic people in PoseTrack18 format: 16 clips x 24 frames, 240x320, seeds 5000000+
  [ -d "$PEOPLE_DIR/annotations" ] || cotracker generate people --out "$PEOPLE_DIR" --num 16 --frames 24 \
    --size 240 320 --seed 5000000 --split val --points 16 --no-progress
}

evaluate() {  # name, then the tracker arguments, then the benchmark arguments
  local name=$1; shift
  cotracker evaluate "$@" --out "$OUT/$name" | tail -1
}

baselines() {
  people_set
  for t in static lk; do
    evaluate "synthetic_$t" --tracker "$t" $SYN
    evaluate "badja_$t" --tracker "$t" $BADJA
    evaluate "people_$t" --tracker "$t" $POSE
  done
}

model() {  # label, checkpoint
  people_set
  evaluate "synthetic_$1" --checkpoint "$2" --name "$1" $SYN
  evaluate "badja_$1" --checkpoint "$2" --name "$1" $BADJA
  evaluate "people_$1" --checkpoint "$2" --name "$1" $POSE
}

general() { model cotracker2-synth cotracker2-synth; model cotracker2-synth-pose cotracker2-synth-pose; }

pose() {  # the four fine-tuned configurations of the pose experiment (configs/train/synth_pose_*.yaml)
  # pose_base: the general model they were fine-tuned from (runs/synth_small, the first cotracker2-synth)
  [ -f "$OUT/people_pose_base/summary.json" ] || model pose_base runs/synth_small/model_final.safetensors
  for k in people_absent people_present mixed_absent mixed_present; do
    [ -f "runs/synth_pose_$k/model_final.safetensors" ] && model "pose_$k" "runs/synth_pose_$k/model_final.safetensors"
  done
}

run_steps() {  # run name, label, step offset: every checkpoint of runs/<run> on 8 held-out clips
  for ck in runs/$1/checkpoints/step_*.ckpt; do
    [ -f "$ck" ] || continue
    s=$(( $(basename "$ck" .ckpt | sed 's/step_0*//') + $3 ))
    [ -f "$OUT/steps_$1/step_$s/summary.json" ] || cotracker evaluate --dataset synthetic --checkpoint "$ck" \
      --synthetic-videos 8 --step "$s" --name "$2" --no-progress --out "$OUT/steps_$1/step_$s" | tail -1
  done
}

steps() {  # accuracy against training steps of the general model (first pass only: training checkpoints
           # carry no refine_resolution, so the curve shows the model itself, not the coarse-to-fine pass)
  run_steps synth_small synth_small 0
  run_steps synth_small_cont synth_small 1500  # the continuation counts on from the 1500 steps it starts from
  run_steps synth_small_cont2 synth_small 4700  # the second continuation starts from step 3200 of the first
  # its end (5900 steps), the file session 4 shipped, kept when its training checkpoints were not; as a training
  # checkpoint would be evaluated: 6 iterations, threshold 0.9, one pass of one tracker
  local end=runs/synth_small_cont2_final.safetensors
  [ -f "$end" ] && [ ! -f "$OUT/steps_synth_small_cont2/step_5900/summary.json" ] && cotracker evaluate --dataset synthetic \
    --checkpoint "$end" --iters 6 --vis-threshold 0.9 --no-refine --no-ensemble --synthetic-videos 8 --step 5900 \
    --name synth_small \
    --no-progress --out "$OUT/steps_synth_small_cont2/step_5900" | tail -1
  run_steps synth_small_cont3 synth_small 5900  # the third continuation starts from there
  run_steps synth_small_cont4 synth_small 8300  # the fourth (fences, following camera) from the end of the third
  run_steps synth_small_cont6 synth_small 8900  # the sixth (real textures) from the end of the fourth
  run_steps synth_small_cont7 synth_small 10100  # the seventh (40% articulated) from the end of the sixth
  run_steps synth_small_cont8 "synth_small_cont8 (not shipped)" 11700  # the eighth (a quarter of the queries on limbs), a branch from the seventh
  # the last two continuations (synth_small_hires, then synth_small_hires2, shipped) train the model at 384x512: their
  # training checkpoints carry that resolution, so their first pass runs at 384x512 and is not comparable with the
  # 192x256 curve; one line of their own
  run_steps synth_small_hires "synth_small_hires (first pass at 384x512)" 11700
  run_steps synth_small_hires2 "synth_small_hires (first pass at 384x512)" 12300  # 1200 more at 384x512 (the same line)
  # the run on the lent GPU (8 clips per step, so its steps are not the others'): only its last checkpoint came back
  run_steps synth_small_gpu2 "synth_small_gpu2 (8 clips per step, first pass at 384x512)" 13500
  # steps_synth_small_v0: the same for the end-to-end run without the encoder stage, when present.
  # benchmarks/results/accuracy_vs_step.md keeps the points whose checkpoints are gone (sessions 2-4 trained on
  # machines that were not kept); folders evaluated now win over its rows for the same step.
  local logs=()
  for r in synth_small synth_small_cont synth_small_cont2 synth_small_cont3 synth_small_cont4 synth_small_cont6 \
           synth_small_cont7 synth_small_cont8 synth_small_hires synth_small_hires2; do
    [ -f "runs/$r/log.jsonl" ] && logs+=("runs/$r/log.jsonl")
  done
  local results=(benchmarks/results/accuracy_vs_step.md)
  for d in "$OUT"/steps_synth_small*; do [ -d "$d" ] && results+=("$d"); done
  cotracker report --results "${results[@]}" --metric average_pts_within_thresh average_jaccard \
    ${logs[@]:+--log "${logs[@]}"} --smooth 5 --out "$OUT/report_synth_small"
}

no_refine() {  # the shipped general model as one tracker without its second pass (its first pass alone), unpolished
  local n=cotracker2-synth-norefine
  evaluate "synthetic_$n" --checkpoint cotracker2-synth --no-refine --no-ensemble --no-polish --name $n $SYN
  evaluate "badja_$n" --checkpoint cotracker2-synth --no-refine --no-ensemble --no-polish --name $n $BADJA
}

no_polish() {  # the shipped general file without its Lucas-Kanade polish (the file as shipped in sessions 14-17)
  local n=cotracker2-synth-nopolish
  people_set
  evaluate "synthetic_$n" --checkpoint cotracker2-synth --no-polish --name $n $SYN
  evaluate "badja_$n" --checkpoint cotracker2-synth --no-polish --name $n $BADJA
  evaluate "people_$n" --checkpoint cotracker2-synth --no-polish --name $n $POSE
  articulated cotracker2-synth-nopolish cotracker2-synth --no-polish
  evaluate limbs_cotracker2-synth-nopolish --checkpoint cotracker2-synth --no-polish --name cotracker2-synth-nopolish \
    $SYN --synthetic-limbs
}

articulated() {  # label, checkpoint, extra options: scenes with articulated limbs, thin bars and plain surfaces
  evaluate "articulated_$1" --checkpoint "$2" --name "$1" "${@:3}" $SYN --synthetic-articulated
}

limbs() {  # few queries on articulated limbs (held-out seeds; the calibration set of NOTES "Session 9" uses 3100000..)
  for t in static lk; do evaluate "limbs_$t" --tracker "$t" $SYN --synthetic-limbs; done
  evaluate limbs_cotracker2-synth --checkpoint cotracker2-synth --name cotracker2-synth $SYN --synthetic-limbs
  local n=cotracker2-synth-nolocalgrid  # the shipped model without its local grid (and without its polish)
  evaluate "limbs_$n" --checkpoint cotracker2-synth --local-grid 0 --no-polish --name $n $SYN --synthetic-limbs
}

no_ensemble() {  # the shipped general model as one tracker (first and second pass, no flip ensemble), unpolished
  local n=cotracker2-synth-noensemble
  evaluate "synthetic_$n" --checkpoint cotracker2-synth --no-ensemble --no-polish --name $n $SYN
  evaluate "badja_$n" --checkpoint cotracker2-synth --no-ensemble --no-polish --name $n $BADJA
}

case "${1:-all}" in
  baselines) baselines ;;
  general) general ;;
  cotracker2-synth|cotracker2-synth-pose) model "$1" "$1" ;;
  pose) pose ;;
  steps) steps ;;
  no-refine) no_refine ;;
  no-ensemble) no_ensemble ;;
  no-polish) no_polish ;;
  articulated)
    for t in static lk; do evaluate "articulated_$t" --tracker "$t" $SYN --synthetic-articulated; done
    articulated cotracker2-synth cotracker2-synth
    [ -f runs/synth_small_cont2_final.safetensors ] && articulated session4 runs/synth_small_cont2_final.safetensors
    true ;;
  limbs) limbs ;;
  all) baselines; general; no_refine; no_ensemble; no_polish; articulated; limbs; pose; steps ;;
  *) echo "usage: $0 [baselines|general|cotracker2-synth|cotracker2-synth-pose|no-refine|no-ensemble|no-polish|articulated|limbs|pose|steps|all]" >&2; exit 2 ;;
esac
