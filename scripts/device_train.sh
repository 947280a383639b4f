#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Train on the lent GPU machine and hand the result back in parts small enough to return (at most 8 files of
# 16 MiB each come back from $OUT there). Runs there from the repository root, without installing the package:
#   bash scripts/device_train.sh CONFIG [key=value ...]
# with the config's init_checkpoint carried (device tool: carry ["runs/synth_small_cont4/model_final.safetensors"]).
# The config's trainer.max_minutes ends the run with a checkpoint before the call's time limit; calling the same
# command again while the machine is still held resumes it. Into $OUT it writes the newest checkpoint as
# <step>.ckpt.part000.. + <step>.ckpt.shards.json (scripts/shards.py), log.jsonl and train.log; back here:
#   python scripts/shards.py join FILES_AT/step_XXXXXXXX.ckpt.shards.json runs/NAME/checkpoints/step_XXXXXXXX.ckpt
#   python scripts/export_weights.py runs/NAME/checkpoints/step_XXXXXXXX.ckpt cotracker2-synth ...
# ACCEL (default cuda) and PYTHON (default python3) may be set, e.g. ACCEL=cpu OUT=/tmp/o for a dry run on a CPU.
# FIT_SECONDS=S fits the run into S seconds of wall clock: a probe of PROBE_STEPS (default 24) steps times a step
# there (its log comes back as probe.log), then trainer.num_steps is set so that the schedule ends inside what is left
# (cotracker.training.budget, 85%, less START_SECONDS (default 40) for the start and the hand-back), with
# trainer.max_minutes as the safety net.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash scripts/device_train.sh CONFIG [key=value ...]" >&2; exit 2; }
: "${OUT:?set OUT to the folder whose files come back (the device tool sets it)}"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
run_dir=$("$PY" -c 'import sys
from cotracker.training.config import load_config
print(load_config(sys.argv[1], sys.argv[2:]).trainer.out_dir)' "$@")
fit=()
if [ -n "${FIT_SECONDS:-}" ]; then
  t0=$(date +%s)
  probe_dir="$run_dir.probe"
  rm -rf "$probe_dir"
  "$PY" -m cotracker.cli train --config "$@" "trainer.out_dir=$probe_dir" "trainer.num_steps=${PROBE_STEPS:-24}" \
    trainer.log_every=8 trainer.checkpoint_every=1000000 trainer.max_minutes=0 --accelerator "${ACCEL:-cuda}" \
    2>&1 | tee "$OUT/probe.log"
  left=$(( FIT_SECONDS - ($(date +%s) - t0) - ${START_SECONDS:-40} ))
  steps=$("$PY" -m cotracker.training.budget "$probe_dir/log.jsonl" --seconds "$left")
  rm -rf "$probe_dir"
  fit=("trainer.num_steps=$steps" "trainer.max_minutes=$("$PY" -c "print(($left + ${START_SECONDS:-40} / 2) / 60)")")
  echo "FIT_SECONDS=$FIT_SECONDS: ${left} s left after the probe; ${fit[*]}" | tee -a "$OUT/probe.log"
fi
"$PY" -m cotracker.cli train --config "$@" "${fit[@]}" --accelerator "${ACCEL:-cuda}" 2>&1 | tee "$OUT/train.log"
newest=$(ls "$run_dir"/checkpoints/step_*.ckpt 2>/dev/null | sort | tail -1 || true)
[ -n "$newest" ] || { echo "no checkpoint in $run_dir/checkpoints" >&2; exit 1; }
"$PY" scripts/shards.py split "$newest" "$OUT"
cp "$run_dir/log.jsonl" "$OUT/log.jsonl"
ls -l "$OUT"
